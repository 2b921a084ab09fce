// 上报's map: the reporter's grids on a plain background; a tap (or the device's position) places
// the point, fills the hidden lat/long and, for display only, the grid select (the server finds
// and checks the grid itself). For a 部件 category the nearest component within 30 m is proposed
// to confirm or clear, and open cases within 50 m are listed as possible duplicates.
(function () {
  "use strict";
  var element = document.getElementById("report-map");
  var dataBlock = document.getElementById("report-map-data");
  if (!element || !dataBlock) return;
  var data = JSON.parse(dataBlock.textContent);
  var form = element.closest("form");
  var lat = document.getElementById("lat");
  var long = document.getElementById("long");
  var grid = document.getElementById("grid");
  var category = form.querySelector("select[name=category]");
  var positionText = document.getElementById("position-text");
  var status = document.getElementById("position-status");
  var proposal = document.getElementById("component-proposal");
  var componentBox = document.getElementById("component");
  var componentText = document.getElementById("component-text");
  var nearby = document.getElementById("nearby-cases");
  var nearbyList = document.getElementById("nearby-case-list");
  var initialComponent = componentBox.checked ? componentBox.value : "";

  var map = GridflowMap.create(element, { tap: true });
  GridflowMap.outlines(map, data.outlines);
  if (!data.outlines.features.length) map.setView([35.17, 118.83], 14);
  var marker = null;

  function inRing(point, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > point[1]) !== (yj > point[1]) && point[0] < ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }
  function inPolygon(point, rings) {
    if (!inRing(point, rings[0])) return false;
    for (var k = 1; k < rings.length; k++) if (inRing(point, rings[k])) return false;
    return true;
  }
  function gridAt(lon, latitude) {
    var point = [lon, latitude];
    for (var i = 0; i < data.outlines.features.length; i++) {
      var feature = data.outlines.features[i];
      var geometry = feature.geometry || {};
      var polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
      for (var p = 0; p < polygons.length; p++) {
        if (polygons[p] && inPolygon(point, polygons[p])) return feature.properties.code;
      }
    }
    return null;
  }

  function place(latitude, lon, fromDevice) {
    lat.value = latitude.toFixed(6);
    long.value = lon.toFixed(6);
    positionText.textContent = lat.value + ", " + long.value;
    if (marker) marker.setLatLng([latitude, lon]);
    else marker = L.marker([latitude, lon], { keyboard: false }).addTo(map);
    if (fromDevice) map.setView([latitude, lon], Math.max(map.getZoom(), 16));
    var code = gridAt(lon, latitude);
    status.hidden = !!code;
    status.textContent = code ? "" : data.labels.outside;
    grid.value = code || "";
    grid.required = false; // the server finds the grid from lat/long
    propose();
  }

  function propose() {
    if (!lat.value || !long.value) return;
    var query = "?lat=" + encodeURIComponent(lat.value) + "&long=" + encodeURIComponent(long.value);
    var chosen = category.value;
    var wantsComponent = data.component_categories.indexOf(chosen) >= 0;
    if (wantsComponent) query += "&category=" + encodeURIComponent(chosen);
    fetch(data.near_url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (near) { show(near, wantsComponent); })
      .catch(function () { show(null, wantsComponent); });
  }

  function show(near, wantsComponent) {
    var component = near && wantsComponent ? near.component : null;
    if (component) {
      var keep = componentBox.value === component.code && (componentBox.checked || initialComponent === component.code);
      componentBox.value = component.code;
      componentBox.checked = keep;
      componentText.textContent = data.labels.link
        .replace("{code}", component.code)
        .replace("{owner}", component.owner_department || "")
        .replace("{metres}", String(Math.round(component.metres)));
      proposal.hidden = false;
    } else {
      componentBox.checked = false;
      componentBox.value = "";
      proposal.hidden = true;
    }
    initialComponent = "";
    var cases = (near && near.open_cases) || [];
    nearbyList.textContent = "";
    cases.forEach(function (found) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = data.case_url + found.id;
      link.textContent = found.case_no;
      item.appendChild(link);
      item.appendChild(document.createTextNode(
        " " + (found.category || "") + " · " + Math.round(found.metres) + " " + data.labels.metres));
      nearbyList.appendChild(item);
    });
    nearby.hidden = cases.length === 0;
  }

  map.on("click", function (event) { place(event.latlng.lat, event.latlng.lng, false); });
  category.addEventListener("change", propose);
  document.getElementById("use-my-position").addEventListener("click", function () {
    if (!navigator.geolocation) {
      status.hidden = false;
      status.textContent = data.labels.no_position;
      return;
    }
    navigator.geolocation.getCurrentPosition(
      function (position) { place(position.coords.latitude, position.coords.longitude, true); },
      function () { status.hidden = false; status.textContent = data.labels.no_position; },
      { enableHighAccuracy: true, timeout: 15000 }
    );
  });
  // A refused form comes back with its point: show it again, keep the grid the reporter chose.
  if (lat.value && long.value) {
    var chosenGrid = grid.value;
    place(parseFloat(lat.value), parseFloat(long.value), false);
    if (chosenGrid) grid.value = chosenGrid;
    map.setView([parseFloat(lat.value), parseFloat(long.value)], Math.max(map.getZoom(), 16));
  }
})();
