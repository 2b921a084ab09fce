// The administrator's editor: bpmn-js's modeler (with a panel for the properties the engine
// reads) or dmn-js's table editor, both served by this app. 部署为新版本 sends the edited file to
// the server, which parses and checks it and stores it only when every check passes.
(async function () {
  const canvasHolder = document.getElementById("canvas");
  const kind = canvasHolder.dataset.kind;
  const result = document.getElementById("deploy-result");
  const problemList = document.getElementById("problems");
  const words = JSON.parse(document.getElementById("editor-words").textContent);

  // The SpiffWorkflow extension elements our diagrams carry, so that the modeler reads and
  // writes them as typed elements instead of dropping or mangling them.
  const spiffworkflow = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" },
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "CalledDecisionId", superClass: ["Element"],
        properties: [{ name: "value", isBody: true, type: "String" }] },
    ],
  };

  const editor = kind === "bpmn"
    ? new window.BpmnJS({ container: canvasHolder, moddleExtensions: { spiffworkflow }, keyboard: { bindTo: document } })
    : new window.DmnJS({ container: canvasHolder });  // dmn-js 17 binds its keys itself
  const source = await (await fetch(canvasHolder.dataset.source, { credentials: "same-origin" })).text();
  await editor.importXML(source);
  if (kind === "bpmn") {
    editor.get("canvas").zoom("fit-viewport");
    propertiesPanel(editor);
  } else {
    const table = editor.getViews().find((view) => view.type === "decisionTable");
    if (table) await editor.open(table);
  }
  canvasHolder.dataset.ready = "true";

  document.getElementById("deploy").addEventListener("click", async () => {
    problemList.replaceChildren();
    result.textContent = words.checking;
    const { xml } = await editor.saveXML({ format: true });
    const form = new FormData();
    form.append("file", new Blob([xml], { type: "application/xml" }), canvasHolder.dataset.name);
    const answer = await fetch(canvasHolder.dataset.deploy, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRFToken": canvasHolder.dataset.csrf },
    });
    const isJson = (answer.headers.get("content-type") || "").includes("application/json");
    // An expired session or form token answers with a page, not JSON: say so rather than hang.
    const body = isJson ? await answer.json()
      : { error: words.refused.replace("{status}", () => answer.status) };
    if (answer.ok) {
      const made = body.processes.map((p) => `${p.id} v${p.version}`).join(words.separator);
      const versions = made || body.files.map((f) => `${f.name} v${f.version}`).join(words.separator);
      result.textContent = body.files.length ? words.deployed.replace("{versions}", () => versions) : words.unchanged;
      result.dataset.outcome = "deployed";
      return;
    }
    result.textContent = words.not_deployed;
    result.dataset.outcome = "refused";
    for (const problem of body.problems || [{ element: null, message: body.error }]) {
      const item = document.createElement("li");
      item.dataset.element = problem.element || "";
      item.textContent = problem.element ? `${problem.element}: ${problem.message}` : problem.message;
      problemList.append(item);
      if (kind === "bpmn" && problem.element && editor.get("elementRegistry").get(problem.element)) {
        editor.get("canvas").addMarker(problem.element, "has-problem");
      }
    }
  });
})();

function propertiesPanel(modeler) {
  const form = document.getElementById("element-form");
  const empty = document.getElementById("no-selection");
  const rows = document.getElementById("property-rows");
  const modeling = modeler.get("modeling");
  const moddle = modeler.get("moddle");
  const registry = modeler.get("elementRegistry");
  let element = null;

  const show = (name, visible) => { form.querySelector(`[data-for=${name}]`).hidden = !visible; };
  const timerOf = (bo) => {
    const definition = (bo.eventDefinitions || []).find((d) => d.$type === "bpmn:TimerEventDefinition");
    return definition && (definition.timeDate || definition.timeDuration || definition.timeCycle);
  };
  const propertiesOf = (bo) => {
    const holder = ((bo.extensionElements && bo.extensionElements.values) || [])
      .find((value) => value.$type === "spiffworkflow:Properties");
    return holder ? holder.properties || [] : [];
  };
  const laneOf = (bo) => {
    const lane = registry.filter((e) => e.type === "bpmn:Lane")
      .find((e) => (e.businessObject.flowNodeRef || []).includes(bo));
    return lane ? lane.businessObject.name : "";
  };

  const addRow = (name, value) => {
    const row = document.createElement("div");
    row.className = "property-row";
    row.innerHTML = '<input class="property-name" placeholder="name"><textarea class="property-value" rows="1" placeholder="value"></textarea><button type="button" class="remove">×</button>';
    row.querySelector(".property-name").value = name;
    row.querySelector(".property-value").value = value;
    row.querySelector(".remove").addEventListener("click", () => { row.remove(); saveProperties(); });
    row.querySelectorAll("input, textarea").forEach((field) => field.addEventListener("change", saveProperties));
    rows.append(row);
  };

  const saveProperties = () => {
    const bo = element.businessObject;
    const properties = [...rows.querySelectorAll(".property-row")]
      .map((row) => [row.querySelector(".property-name").value.trim(), row.querySelector(".property-value").value])
      .filter(([name]) => name)
      .map(([name, value]) => moddle.create("spiffworkflow:Property", { name, value }));
    const others = ((bo.extensionElements && bo.extensionElements.values) || [])
      .filter((value) => value.$type !== "spiffworkflow:Properties");
    const values = properties.length ? [...others, moddle.create("spiffworkflow:Properties", { properties })] : others;
    modeling.updateProperties(element, { extensionElements: moddle.create("bpmn:ExtensionElements", { values }) });
  };

  const select = (selected) => {
    element = selected && selected.type !== "label" ? selected : null;
    form.hidden = !element;
    empty.hidden = !!element;
    if (!element) return;
    const bo = element.businessObject;
    form.elements.id.value = bo.id;
    form.elements.type.value = bo.$type.replace("bpmn:", "");
    form.elements.lane.value = laneOf(bo);
    form.elements.name.value = bo.name || "";
    const timer = timerOf(bo);
    show("timer", !!timer);
    form.elements.timer.value = timer ? timer.body || "" : "";
    const taskLike = ["bpmn:Task", "bpmn:UserTask", "bpmn:ScriptTask", "bpmn:ManualTask"].includes(bo.$type);
    show("task-type", taskLike);
    form.elements.task_type.value = bo.$type;
    show("script", bo.$type === "bpmn:ScriptTask");
    form.elements.script.value = bo.script || "";
    show("condition", !!bo.conditionExpression);
    form.elements.condition.value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    show("properties", bo.$instanceOf("bpmn:FlowNode") || bo.$instanceOf("bpmn:Process"));
    rows.replaceChildren();
    propertiesOf(bo).forEach((p) => addRow(p.name || "", p.value || ""));
  };

  modeler.get("eventBus").on("selection.changed", ({ newSelection }) => select(newSelection[0]));
  form.elements.name.addEventListener("change", () => modeling.updateProperties(element, { name: form.elements.name.value }));
  form.elements.timer.addEventListener("change", () =>
    modeling.updateModdleProperties(element, timerOf(element.businessObject), { body: form.elements.timer.value }));
  form.elements.script.addEventListener("change", () =>
    modeling.updateProperties(element, { script: form.elements.script.value }));
  form.elements.condition.addEventListener("change", () =>
    modeling.updateModdleProperties(element, element.businessObject.conditionExpression, { body: form.elements.condition.value }));
  document.getElementById("add-property").addEventListener("click", () => addRow("", ""));
  // Changing a task's kind replaces the element (bpmn-js keeps its flows, lane and name).
  form.elements.task_type.addEventListener("change", () => {
    const replaced = modeler.get("bpmnReplace").replaceElement(element, { type: form.elements.task_type.value });
    modeler.get("selection").select(replaced);
  });
}
