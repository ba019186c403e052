// The console's own behaviour, from a file: the Content-Security-Policy (api/headers.py) runs no
// inline script and no inline event handler.
(function () {
  "use strict";
  // A filter <select data-autosubmit> submits its form when changed (a <noscript> button does it without JS).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.submit();
    }
  });

  // DPD by day on a loan page: the points are where DPD changes course, so a straight line between them is exact.
  function dpdChart() {
    var el = document.getElementById("dpd-chart");
    var data = document.getElementById("dpd-data");
    if (!el || !data || !window.echarts) { return; }
    var points = JSON.parse(data.textContent);
    var chart = window.echarts.init(el);
    chart.setOption({
      grid: {left: 48, right: 16, top: 24, bottom: 32}, tooltip: {trigger: "axis"},
      xAxis: {type: "time"}, yAxis: {type: "value", minInterval: 1},
      series: [{type: "line", data: points, showSymbol: false, areaStyle: {opacity: 0.15}}]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", dpdChart);
  } else {
    dpdChart();
  }
})();
