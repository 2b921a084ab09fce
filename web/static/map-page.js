// 一张图: the grids, the open cases in view as markers coloured by deadline state (clustered when
// dense), the filters, and a choropleth of the grids by reports or overdue tasks in a period.
// Data comes from /map/*.geojson and /map/counts; the page's words from #map-options.
(function () {
  "use strict";
  var element = document.getElementById("case-map");
  if (!element) return;
  var options = JSON.parse(document.getElementById("map-options").textContent);
  var form = document.getElementById("map-filters");
  var counter = document.getElementById("map-count");
  var problem = document.getElementById("map-error");
  var map = GridflowMap.create(element, { maxZoom: 19 });  // markercluster needs one, with or without tiles
  var colours = { green: "#2e9d4f", yellow: "#f0b400", red: "#d62d20" };
  var rank = { normal: 0, warning: 1, overdue: 2 };
  var grids = null;
  var counts = {};
  var markers = L.markerClusterGroup({
    maxClusterRadius: 40,
    chunkedLoading: true,
    // a cluster takes the colour of its worst case
    iconCreateFunction: function (cluster) {
      var worst = 0;
      cluster.getAllChildMarkers().forEach(function (m) { worst = Math.max(worst, rank[m.options.deadline] || 0); });
      var light = options.lights[["normal", "warning", "overdue"][worst]] || "green";
      return L.divIcon({
        html: '<div style="background:' + colours[light] + ';color:#fff"><span>' + cluster.getChildCount() + "</span></div>",
        className: "marker-cluster cluster-" + light,
        iconSize: L.point(40, 40),
      });
    },
  }).addTo(map);
  var requested = 0;

  function params(extra) {
    var query = new URLSearchParams();
    ["status", "category", "department", "urgency", "period"].forEach(function (name) {
      var value = form.elements[name].value;
      if (value) query.set(name, value);
    });
    Object.keys(extra || {}).forEach(function (k) { query.set(k, extra[k]); });
    return query;
  }

  function fail(answer) {
    return answer.json().then(function (body) {
      problem.textContent = (body.field ? body.field + ": " : "") + body.error;
      problem.hidden = false;
      throw new Error(body.error);
    });
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (a) {
      return a.ok ? a.json() : fail(a);
    });
  }

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = text == null ? "" : String(text);
    return span.innerHTML;
  }

  function popup(p) {
    var link = element.dataset.caseUrl.replace(/0$/, String(p.id));
    return "<strong>" + escape(p.case_no) + "</strong><br>" +
      escape(options.statuses[p.status] || p.status) + "<br>" +
      escape(p.category ? p.category.name : "") + (p.department ? " · " + escape(p.department.name) : "") + "<br>" +
      escape(options.urgencies[p.urgency] || p.urgency) + (p.due_at ? " · " + escape(new Date(p.due_at).toLocaleString()) : "") +
      '<br><a class="open-case" href="' + link + '">' + escape(options.words.open) + "</a>";
  }

  var PAGE = 5000;  // the most one answer holds: the next page follows until all are drawn

  function marker(f) {
    var p = f.properties;
    var light = options.lights[p.deadline_state] || "green";
    var shape = L.circleMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]], {
      radius: 8, color: "#fff", weight: 2, fillColor: colours[light], fillOpacity: 0.95,
      className: "case-marker case-" + p.id + " light-" + light,
      deadline: p.deadline_state,
    });
    shape.bindPopup(popup(p));
    return shape;
  }

  function loadCases() {
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
    var ticket = ++requested;
    var shown = 0;
    function page(offset) {
      return fetchJson(element.dataset.cases + "?" + params({ bbox: bbox, limit: PAGE, offset: offset })).then(function (collection) {
        if (ticket !== requested) return;
        problem.hidden = true;
        if (offset === 0) markers.clearLayers();
        markers.addLayers(collection.features.map(marker));
        shown += collection.features.length;
        counter.textContent = options.words.shown.replace("%(shown)s", shown).replace("%(total)s", collection.total);
        if (collection.features.length === PAGE && shown < collection.total) return page(offset + PAGE);
        element.dataset.loaded = String(shown);
      });
    }
    return page(0);
  }

  function shade(count, highest) {
    if (!count) return "#ffffff";
    var steps = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
    return steps[Math.min(steps.length - 1, Math.floor((count / highest) * (steps.length - 1)))];
  }

  function restyle() {
    if (!grids) return;
    var measure = form.elements.measure.value;
    var highest = Math.max.apply(null, [1].concat(Object.keys(counts).map(function (k) { return counts[k]; })));
    grids.eachLayer(function (shape) {
      var code = shape.feature.properties.code;
      if (!measure) {
        shape.setStyle({ color: "#3b6ea5", weight: 1.5, fillColor: "#3b6ea5", fillOpacity: 0.04 });
        shape.setTooltipContent(GridflowMap.text(code + " " + (shape.feature.properties.name || "")));
        return;
      }
      var count = counts[code] || 0;
      shape.setStyle({ color: "#555", weight: 1, fillColor: shade(count, highest), fillOpacity: 0.6 });
      shape.setTooltipContent(
        GridflowMap.text(code + " " + (shape.feature.properties.name || "") + ": " + options.words[measure] + " " + count)
      );
    });
  }

  function loadCounts() {
    var measure = form.elements.measure.value;
    element.dataset.measure = measure;
    if (!measure) { counts = {}; restyle(); return Promise.resolve(); }
    var query = new URLSearchParams({ measure: measure, period: form.elements.period.value });
    return fetchJson(element.dataset.counts + "?" + query).then(function (answer) {
      counts = answer.grids;
      restyle();
      element.dataset.choropleth = measure;
    });
  }

  fetchJson(element.dataset.grids).then(function (collection) {
    grids = GridflowMap.outlines(map, collection);
    if (!grids.getLayers().length) map.setView([35.17, 118.83], 14);
    grids.bringToBack();
    map.on("moveend", loadCases);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Promise.all([loadCases(), loadCounts()]).catch(function () {});
    });
    form.elements.measure.addEventListener("change", function () { loadCounts().catch(function () {}); });
    return Promise.all([loadCases(), loadCounts()]);
  }).then(function () {
    element.dataset.ready = "true";
  }).catch(function (error) { if (window.console) console.error(error); });
})();
