// A case's small map on its case and task pages: its point, its grid's outline and the component
// it is linked to (code and owner), from the page's <script id="case-place" type="application/json">.
(function () {
  "use strict";
  var element = document.getElementById("case-map");
  var dataBlock = document.getElementById("case-place");
  if (!element || !dataBlock) return;
  var place = JSON.parse(dataBlock.textContent);
  var map = GridflowMap.create(element);
  GridflowMap.outlines(map, place.outlines);
  var marker = L.marker([place.lat, place.long], { keyboard: false }).addTo(map);
  if (place.component) {
    marker.bindTooltip(GridflowMap.text(place.component.code + (place.component.owner_department ? " · " + place.component.owner_department : "")),
      { permanent: true, direction: "top" });
  }
  if (!place.outlines.features.length) map.setView([place.lat, place.long], 17);
})();
