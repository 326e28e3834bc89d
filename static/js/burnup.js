// Burn-up charts of a project's Finance tab (issue 15 item 18): each [data-burnup] element holds its weeks,
// budget, actual and forecast as JSON (portal/finance/burnup.py) and is drawn with uPlot, which is loaded
// from static/vendor the first time a page shows a chart. The table beside each chart has the same numbers.
(function () {
  "use strict";

  var waiting = null;

  function withLibrary(element, done) {
    if (window.uPlot) { done(); return; }
    if (waiting) { waiting.push(done); return; }
    waiting = [done];
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = element.dataset.chartCss;
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = element.dataset.chartLib;
    script.onload = function () {
      var callbacks = waiting;
      waiting = null;
      callbacks.forEach(function (callback) { callback(); });
    };
    document.head.appendChild(script);
  }

  function format(unit) {
    var number = new Intl.NumberFormat(undefined, { maximumFractionDigits: unit ? 1 : 0 });
    return function (self, value) { return value == null ? "—" : number.format(value) + (unit ? " " + unit : ""); };
  }

  function draw(element) {
    if (element.dataset.drawn) { return; }
    element.dataset.drawn = "1";
    var data = JSON.parse(element.dataset.burnup);
    var times = data.weeks.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    var budget = data.weeks.map(function () { return data.budget; });
    var value = format(data.unit);
    var chart = new window.uPlot({
      width: Math.max(260, element.clientWidth),
      height: 240,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "Budget", stroke: "#1d2430", width: 2, dash: [8, 5], value: value },
        { label: "Actual", stroke: "#2456c7", width: 2, fill: "rgba(36, 86, 199, 0.08)", value: value },
        { label: "Forecast", stroke: "#c27a00", width: 2, dash: [3, 3], value: value },
      ],
      axes: [{}, { size: 70, values: function (self, ticks) { return ticks.map(function (t) { return value(self, t); }); } }],
    }, [times, budget, data.actual, data.forecast], element);
    element.burnup = chart;
  }

  function drawAll(root) {
    var charts = (root || document).querySelectorAll("[data-burnup]");
    if (!charts.length) { return; }
    withLibrary(charts[0], function () { charts.forEach(draw); });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-burnup]").forEach(function (element) {
      if (element.burnup) { element.burnup.setSize({ width: Math.max(260, element.clientWidth), height: 240 }); }
    });
  });
})();
