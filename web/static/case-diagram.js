// Draws the case's own diagram with bpmn-js (served by this app) and marks the steps done and
// the steps open now. The page works without it: the timeline beside it says the same in words.
(async function () {
  const holder = document.getElementById("diagram");
  if (!holder || !window.BpmnJS) return;
  const viewer = new window.BpmnJS({ container: holder });
  try {
    const xml = await (await fetch(holder.dataset.xml, { credentials: "same-origin" })).text();
    await viewer.importXML(xml);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    const mark = (ids, marker) =>
      ids.split(",").filter((id) => id && registry.get(id)).forEach((id) => canvas.addMarker(id, marker));
    mark(holder.dataset.done, "step-done");
    mark(holder.dataset.current, "step-current");
    canvas.zoom("fit-viewport");
    holder.dataset.rendered = "true";
  } catch (error) {
    holder.textContent = holder.dataset.failed + error.message;
    holder.dataset.rendered = "error";
  }
})();
