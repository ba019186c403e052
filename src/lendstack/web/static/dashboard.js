// The dashboard's charts (Apache ECharts). The numbers come from the JSON the server embedded in
// <script id="dashboard-data"> (the same document /console/dashboard/data serves); the labels come
// in the reader's language. Every chart also has a table of the same numbers on the page, so
// nothing here is the only way to read them. htmx refreshes the page body every minute; the
// charts are drawn again after each swap.
(function () {
  "use strict";

  function major(amountMinor, digits) {
    return amountMinor / Math.pow(10, digits);  // display only: the tables show exact amounts
  }

  function pct(share) {
    return Math.round(share * 1000) / 10;
  }

  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") {
      return;
    }
    var existing = echarts.getInstanceByDom(el);
    if (existing) {
      existing.dispose();
    }
    var instance = echarts.init(el);
    instance.setOption(Object.assign({
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 40 },
      animation: false
    }, option));
  }

  function perCurrency(data, rows, names, value) {
    return data.currencies.map(function (cur) {
      var mine = rows.filter(function (r) { return r.currency === cur; });
      return {
        name: cur, type: "bar",
        data: names.map(function (n) {
          var row = mine.find(function (r) { return r.name === n || r.stage === n; });
          return row ? value(row, cur) : 0;
        })
      };
    });
  }

  function draw() {
    var holder = document.getElementById("dashboard-data");
    if (!holder) {
      return;
    }
    var payload = JSON.parse(holder.textContent);
    var data = payload.data, L = payload.labels;
    var days = data.applications.by_day;

    chart("chart-applications", {
      xAxis: { type: "category", data: days.map(function (d) { return d.day; }) },
      yAxis: { type: "value", name: L["dash.col.applications"], minInterval: 1 },
      series: [
        { name: L["dash.col.applications"], type: "bar", data: days.map(function (d) { return d.applications; }) },
        { name: L["dash.chart.approved"], type: "bar", data: days.map(function (d) { return d.approved; }) },
        { name: L["dash.chart.declined"], type: "line", data: days.map(function (d) { return d.declined; }) }
      ]
    });

    var months = Array.from(new Set(data.disbursed.by_month.map(function (r) { return r.month; })));
    chart("chart-disbursed", {
      xAxis: { type: "category", data: months },
      yAxis: { type: "value", name: L["dash.col.amount"] },
      series: data.currencies.map(function (cur) {
        return {
          name: cur, type: "bar",
          data: months.map(function (m) {
            var row = data.disbursed.by_month.find(function (r) { return r.month === m && r.currency === cur; });
            return row ? major(row.amount_minor, data.minor_digits[cur]) : 0;
          })
        };
      })
    });

    var buckets = Array.from(new Set(data.by_bucket.map(function (r) { return r.name; })));
    chart("chart-buckets", {
      xAxis: { type: "category", data: buckets },
      yAxis: { type: "value", name: L["dash.col.principal"] + " %" },
      series: perCurrency(data, data.by_bucket, buckets, function (r) { return pct(r.share); })
    });

    var classes = Array.from(new Set(data.by_class.map(function (r) { return r.name; })));
    var classNames = classes.map(function (n) { return L["dash.tier." + n] || n; });
    chart("chart-classes", {
      xAxis: { type: "category", data: classNames },
      yAxis: { type: "value", name: L["dash.col.principal"] + " %" },
      series: perCurrency(data, data.by_class, classes, function (r) { return pct(r.share); })
    });

    var vintages = Array.from(new Set(data.vintages.map(function (v) { return v.vintage; })));
    var mobs = Array.from(new Set(data.vintages.map(function (v) { return v.mob; }))).sort(function (a, b) { return a - b; });
    chart("chart-vintages", {
      xAxis: { type: "category", name: L["dash.col.mob"], data: mobs },
      yAxis: { type: "value", name: L["dash.col.ever_dpd30"] + " %" },
      series: vintages.map(function (name) {
        return {
          name: name, type: "line",
          data: mobs.map(function (m) {
            var v = data.vintages.find(function (r) { return r.vintage === name && r.mob === m; });
            return v ? pct(v.ever_dpd30_share) : null;
          })
        };
      })
    });

    chart("chart-ecl", {
      xAxis: { type: "category", name: L["dash.col.stage"], data: [1, 2, 3] },
      yAxis: { type: "value", name: L["dash.col.ecl"] },
      series: perCurrency(data, data.ecl.by_stage, [1, 2, 3], function (r, cur) {
        return major(r.ecl_minor, data.minor_digits[cur]);
      })
    });
  }

  // A model's page: the held-out ROC curve against the diagonal (the calibration is a table).
  function drawModel() {
    var holder = document.getElementById("model-data");
    if (!holder) {
      return;
    }
    var roc = JSON.parse(holder.textContent).roc;
    if (!roc) {
      return;
    }
    chart("chart-roc", {
      tooltip: { trigger: "item" },
      xAxis: { type: "value", name: "FPR", min: 0, max: 1 },
      yAxis: { type: "value", name: "TPR", min: 0, max: 1 },
      series: [
        { name: "ROC", type: "line", showSymbol: false, data: roc.fpr.map(function (x, i) { return [x, roc.tpr[i]]; }) },
        { name: "random", type: "line", showSymbol: false, lineStyle: { type: "dashed" }, data: [[0, 0], [1, 1]] }
      ]
    });
  }

  document.addEventListener("DOMContentLoaded", drawModel);
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () {
    document.querySelectorAll(".chart").forEach(function (el) {
      var instance = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
      if (instance) {
        instance.resize();
      }
    });
  });
})();
