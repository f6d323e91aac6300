// Draws the dashboards' charts: each <script type="application/json" data-chart-for="ID">
// holds {type, labels, datasets, ...}; the canvas #ID shows it. The numbers are also in a
// table beside every chart, so a page without JavaScript loses nothing.
(function () {
  "use strict";
  var COLOURS = ["#0f766e", "#9ca3af", "#b42318", "#9a6700", "#1d4ed8"];

  function draw(block) {
    var canvas = document.getElementById(block.getAttribute("data-chart-for"));
    if (!canvas || !window.Chart || canvas.dataset.drawn) { return; }
    var spec = JSON.parse(block.textContent);
    var horizontal = !!spec.horizontal;
    var datasets = spec.datasets.map(function (set, n) {
      var colour = COLOURS[n % COLOURS.length];
      return {
        label: set.label, data: set.data, backgroundColor: colour, borderColor: colour,
        borderWidth: spec.type === "line" ? 2 : 0, tension: 0.2, spanGaps: true, pointRadius: 4,
        maxBarThickness: 40
      };
    });
    var valueAxis = { beginAtZero: spec.yMin === undefined, ticks: { precision: 0 } };
    if (spec.yMin !== undefined) { valueAxis.min = spec.yMin; }
    if (spec.yMax !== undefined) { valueAxis.max = spec.yMax; }
    if (spec.yTitle) { valueAxis.title = { display: true, text: spec.yTitle }; }
    if (spec.stacked) { valueAxis.stacked = true; }
    var categoryAxis = { stacked: !!spec.stacked, grid: { display: false } };
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("script[data-chart-for]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  document.addEventListener("htmx:afterSettle", drawAll);
})();
