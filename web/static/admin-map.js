// The administrator's map pages: the stored grid outlines, an uploaded file's new outlines over
// them (in orange), and a component's position. Data comes in <script type="application/json">.
(function () {
  "use strict";
  function data(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }
  var gridMap = document.getElementById("grid-map");
  if (gridMap) {
    var map = GridflowMap.create(gridMap);
    var stored = data("stored-outlines");
    var fresh = data("new-outlines");
    var drawn = stored ? GridflowMap.outlines(map, stored, fresh ? { color: "#888", weight: 1, fillOpacity: 0 } : {}) : null;
    if (fresh) drawn = GridflowMap.outlines(map, fresh, { color: "#d9822b", weight: 2, fillOpacity: 0.12 });
    if (!drawn || !drawn.getLayers().length) map.setView([35.17, 118.83], 14);
    gridMap.dataset.ready = "true";
  }
  var componentMap = document.getElementById("component-map");
  if (componentMap) {
    var position = data("component-position");
    var placed = GridflowMap.create(componentMap).setView([position.lat, position.long], 18);
    L.circleMarker([position.lat, position.long], { radius: 8, color: "#c0392b", fillOpacity: 0.6 })
      .bindTooltip(GridflowMap.text(position.code)).addTo(placed);
    componentMap.dataset.ready = "true";
  }
})();
