/* lorafox console: the few behaviours htmx does not give (no inline scripts: CSP). */
(function () {
  "use strict";

  /* The device list's column chooser: the hidden columns are remembered in this browser. */
  function applyColumns(table) {
    var key = "lorafox.columns." + table.dataset.columns;
    var hidden = [];
    try { hidden = JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { hidden = []; }
    document.querySelectorAll("input[data-column]").forEach(function (box) {
      box.checked = hidden.indexOf(box.dataset.column) < 0;
    });
    table.querySelectorAll("[data-col]").forEach(function (cell) {
      cell.classList.toggle("col-hidden", hidden.indexOf(cell.dataset.col) >= 0);
    });
  }
  function setupColumns(root) {
    root.querySelectorAll("table[data-columns]").forEach(applyColumns);
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[data-column]")) {
      var table = document.querySelector("table[data-columns]");
      if (!table) { return; }
      var key = "lorafox.columns." + table.dataset.columns;
      var hidden = [];
      document.querySelectorAll("input[data-column]").forEach(function (b) {
        if (!b.checked) { hidden.push(b.dataset.column); }
      });
      localStorage.setItem(key, JSON.stringify(hidden));
      applyColumns(table);
    }
    if (box.matches && box.matches("input[data-select-all]")) {
      document.querySelectorAll("input[name=ids]").forEach(function (b) { b.checked = box.checked; });
    }
  });

  /* Statistics charts (uPlot), from the JSON the page's data-source points at. */
  function drawCharts(root) {
    root.querySelectorAll("[data-chart-source]").forEach(function (holder) {
      if (typeof uPlot === "undefined") { return; }
      fetch(holder.dataset.chartSource, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          holder.querySelectorAll(".chart").forEach(function (el) {
            el.textContent = "";
            var series = data.series[el.dataset.series];
            var heard = series.values.some(function (line) {
              return line.some(function (v) { return v !== null; });
            });
            if (!heard) {  /* a figure the device never reported: a line, not an empty chart */
              el.textContent = el.dataset.title + ": no value in this period.";
              return;
            }
            var opts = {
              title: el.dataset.title, width: Math.max(300, el.clientWidth || 500), height: 200,
              series: [{}].concat(series.labels.map(function (label, i) {
                return { label: label, stroke: ["#0b5cad", "#a4161a", "#1d6b33"][i % 3], width: 2,
                         points: { show: true } };
              })),
              scales: { x: { time: true, range: [data.since, data.before] } },
              axes: [{}, { label: series.unit }],
            };
            new uPlot(opts, [data.times].concat(series.values), el);
          });
        });
    });
  }

  /* The map of a device's positions (Leaflet): a grid, or tiles when configured. */
  function drawMap(root) {
    var el = root.querySelector("#map[data-positions]");
    if (!el || typeof L === "undefined" || el.dataset.drawn) { return; }
    el.dataset.drawn = "1";
    fetch(el.dataset.positions, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var map = L.map(el, { attributionControl: !!el.dataset.tiles, keyboard: true });
        if (el.dataset.tiles) {
          L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
        } else {
          for (var lat = -80; lat <= 80; lat += 10) {
            L.polyline([[lat, -180], [lat, 180]], { color: "#9aa5b1", weight: 1 }).addTo(map);
          }
          for (var lng = -180; lng <= 180; lng += 10) {
            L.polyline([[-85, lng], [85, lng]], { color: "#9aa5b1", weight: 1 }).addTo(map);
          }
        }
        var points = data.positions.map(function (p) { return [p.lat, p.lng]; });
        data.positions.forEach(function (p) {
          var marker = L.circleMarker([p.lat, p.lng], { radius: 6, color: "#0b5cad" }).addTo(map);
          marker.bindTooltip(p.label);
          if (p.radius) { L.circle([p.lat, p.lng], { radius: p.radius, color: "#0b5cad", weight: 1, fill: false }).addTo(map); }
        });
        if (points.length > 1) { L.polyline(points, { color: "#1d6b33", weight: 2 }).addTo(map); }
        if (points.length) {
          map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: el.dataset.tiles ? 14 : 4 });
        }
        else { map.setView([20, 0], 1); }
      });
  }

  /* The charts' buckets: per hour over a day, or per day over 30 days. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-bucket]") : null;
    if (!button) { return; }
    var holder = button.closest("[data-chart-source]");
    holder.dataset.chartSource = holder.dataset.chartSource.replace(/bucket=\w+/, "bucket=" + button.dataset.bucket);
    holder.querySelectorAll("button[data-bucket]").forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    drawCharts(holder.parentNode);
  });

  /* A bulk delete asks first (the devices' messages stay, but the registrations go). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "bulk") { return; }
    var action = form.querySelector("select[name=action]");
    var ticked = form.querySelectorAll("input[name=ids]:checked").length;
    if (action && action.value === "delete" &&
        !window.confirm("Delete " + ticked + " device(s)? Their messages are kept.")) {
      event.preventDefault();
    }
  });

  function setup(root) { setupColumns(root); drawCharts(root); drawMap(root); }
  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:afterSwap", function () { setupColumns(document); });
  /* A downlink queued: the form is emptied for the next one. */
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.id === "downlink-form" && event.detail.successful) { form.reset(); }
  });
})();
