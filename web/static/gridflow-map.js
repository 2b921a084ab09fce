// One way to make a map on every page: Leaflet on a plain background (no network needed), an
// optional tile layer when the office configured one (GRIDFLOW_MAP_TILES), and the grid outlines.
// A page puts <div class="gridflow-map" data-tiles="..." data-attribution="..."> and calls
// GridflowMap.create(element); it draws outlines with GridflowMap.outlines(map, collection).
(function () {
  "use strict";
  function create(element, options) {
    var map = L.map(element, Object.assign({ zoomSnap: 0.5, attributionControl: false }, options || {}));
    var tiles = element.dataset.tiles;
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: element.dataset.attribution || "" }).addTo(map);
      map.attributionControl = L.control.attribution({ prefix: false }).addTo(map);
    }
    return map;
  }
  function outlines(map, collection, style) {
    var layer = L.geoJSON(collection, {
      style: Object.assign({ color: "#3b6ea5", weight: 1.5, fillOpacity: 0.04 }, style || {}),
      onEachFeature: function (feature, shape) {
        var p = feature.properties || {};
        shape.bindTooltip(text(p.code + (p.name ? " " + p.name : "")), { sticky: true });
      },
    }).addTo(map);
    if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [8, 8] });
    return layer;
  }
  // Leaflet writes a string tooltip or popup as HTML: names and codes come from imported files and
  // forms, so they go in as text.
  function text(words) {
    var span = document.createElement("span");
    span.textContent = words == null ? "" : String(words);
    return span;
  }
  window.GridflowMap = { create: create, outlines: outlines, text: text };
})();
