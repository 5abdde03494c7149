// Run charts with uPlot (vendored): a run's detail page, and the comparison of two runs. Data comes from
// /ui/runs/<id>/data.json; while a run is live the page asks again every second and the charts fill in.
(function () {
  "use strict";
  var HEIGHT = 220;
  var COLORS = { a: "#1d4ed8", b: "#c2410c", p50: "#059669", p99: "#b91c1c", bar: "#2563eb" };
  var charts = [];

  function dark() { return document.documentElement.classList.contains("dark"); }
  function axis(label, scale, side) {
    var ink = dark() ? "#cbd5e1" : "#334155";
    var grid = dark() ? "#1e293b" : "#e2e8f0";
    var spec = { label: label, scale: scale, stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    if (side != null) spec.side = side; // an explicit undefined would override uPlot's default placement
    return spec;
  }
  function width(el) { return Math.max(280, el.clientWidth || 280); }
  function fillOf(hex) { return hex + "33"; }

  function make(el, opts, data) {
    if (!el) return null;
    el.textContent = "";
    opts.width = width(el);
    opts.height = HEIGHT;
    var chart = new uPlot(opts, data, el);
    el.setAttribute("data-points", String(data[0].length)); // how many x values are drawn (tests read it)
    charts.push({ el: el, chart: chart, opts: opts, data: data });
    return chart;
  }

  function timeOpts(title) {
    return {
      title: title,
      scales: { x: { time: false }, ms: { auto: true } },
      axes: [axis("seconds", "x"), axis("req/s", "y"), axis("ms", "ms", 1)],
      series: [
        { label: "t (s)" },
        { label: "req/s", stroke: COLORS.a, width: 2, fill: fillOf(COLORS.a) },
        { label: "p50 ms", stroke: COLORS.p50, width: 2, scale: "ms" },
        { label: "p99 ms", stroke: COLORS.p99, width: 2, scale: "ms" },
      ],
    };
  }
  function timeData(d) { return [d.time.t, d.time.rps, d.time.p50, d.time.p99]; }

  function histOpts(labels, colors) {
    var series = [{ label: "≤ ms" }];
    for (var i = 0; i < labels.length; i++) {
      series.push({ label: labels[i], stroke: colors[i], fill: fillOf(colors[i]), width: 1.5, paths: uPlot.paths.stepped({ align: 1 }) });
    }
    return { scales: { x: { time: false, distr: 3 } }, axes: [axis("latency (ms, log)", "x"), axis("requests", "y")], series: series };
  }

  function barOpts(names, label) {
    return {
      scales: { x: { time: false, range: function (u, min, max) { return [min - 0.5, max + 0.5]; } } },
      axes: [
        Object.assign(axis("", "x"), { splits: function () { return names.map(function (_, i) { return i; }); },
          values: function () { return names; } }),
        axis(label, "y"),
      ],
      series: [{ label: label === "requests" ? "pod" : "code", value: function (u, v) { return v == null ? "" : names[v]; } },
        { label: label, stroke: COLORS.bar, fill: fillOf(COLORS.bar), paths: uPlot.paths.bars({ size: [0.6, 60] }) }],
    };
  }
  function indexes(list) { return list.map(function (_, i) { return i; }); }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    });
  }
  function fail(root, error) {
    var p = document.createElement("p");
    p.className = "alert alert-error";
    p.setAttribute("role", "alert");
    p.textContent = "The chart data could not be loaded: " + error.message;
    root.prepend(p);
  }

  // --- one run ------------------------------------------------------------------------------------------
  function drawRun(root, d) {
    var q = function (name) { return root.querySelector('[data-chart="' + name + '"]'); };
    make(q("time"), timeOpts(""), timeData(d));
    make(q("histogram"), histOpts(["requests"], [COLORS.a]), [d.histogram.le_ms, d.histogram.count]);
    make(q("pods"), barOpts(d.pods.pod, "requests"), [indexes(d.pods.pod), d.pods.requests]);
    make(q("codes"), barOpts(d.codes.code, "responses"), [indexes(d.codes.code), d.codes.count]);
  }
  function updateStats(d) {
    var s = d.summary;
    var set = function (key, text) { var el = document.querySelector('[data-stat="' + key + '"]'); if (el) el.textContent = text; };
    set("requests", String(s.requests));
    set("errors", String(s.errors));
    if (s.rps != null) set("rps", s.rps.toFixed(1));
    var status = document.querySelector("#run-status .badge");
    if (status) status.textContent = s.status;
    if (!d.live) { var note = document.querySelector("[data-live-note]"); if (note) note.textContent = "finished"; }
  }
  function runPage(root) {
    var url = root.getAttribute("data-src");
    var first = true;
    function load() {
      getJson(url).then(function (d) {
        if (first) { drawRun(root, d); first = false; }
        else {
          [timeData(d), [d.histogram.le_ms, d.histogram.count]].forEach(function (data, i) {
            charts[i].chart.setData(data);
            charts[i].data = data;
            charts[i].el.setAttribute("data-points", String(data[0].length));
          });
          // Pods and codes are categorical: their labels may change, so those two are rebuilt.
          charts.splice(2).forEach(function (c) { c.chart.destroy(); });
          var q = function (name) { return root.querySelector('[data-chart="' + name + '"]'); };
          make(q("pods"), barOpts(d.pods.pod, "requests"), [indexes(d.pods.pod), d.pods.requests]);
          make(q("codes"), barOpts(d.codes.code, "responses"), [indexes(d.codes.code), d.codes.count]);
        }
        updateStats(d);
        if (d.live) setTimeout(load, 1000);
      }).catch(function (e) { fail(root, e); });
    }
    load();
  }

  // --- two runs -----------------------------------------------------------------------------------------
  function comparePage(root) {
    Promise.all([getJson(root.getAttribute("data-src-a")), getJson(root.getAttribute("data-src-b"))]).then(function (both) {
      var a = both[0], b = both[1];
      var q = function (name) { return root.querySelector('[data-chart="' + name + '"]'); };
      make(q("time-a"), timeOpts(""), timeData(a));
      make(q("time-b"), timeOpts(""), timeData(b));
      var p99 = uPlot.join([[a.time.t, a.time.p99], [b.time.t, b.time.p99]]);
      make(q("p99-both"), {
        scales: { x: { time: false } }, axes: [axis("seconds", "x"), axis("p99 ms", "y")],
        series: [{ label: "t (s)" }, { label: "A p99", stroke: COLORS.a, width: 2, spanGaps: true },
          { label: "B p99", stroke: COLORS.b, width: 2, spanGaps: true }],
      }, p99);
      var hist = uPlot.join([[a.histogram.le_ms, a.histogram.count], [b.histogram.le_ms, b.histogram.count]]);
      make(q("histogram-both"), histOpts(["A", "B"], [COLORS.a, COLORS.b]), hist);
    }).catch(function (e) { fail(root, e); });
  }

  // Resize with the window, and redraw in the other palette when the theme changes.
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { c.chart.setSize({ width: width(c.el), height: HEIGHT }); }); }, 150);
  });
  document.addEventListener("lh:theme", function () {
    charts.splice(0).forEach(function (c) {
      c.chart.destroy();
      c.opts.axes = c.opts.axes.map(function (a) { return Object.assign({}, a, axis(a.label, a.scale, a.side), a.values ? { values: a.values, splits: a.splits } : {}); });
      make(c.el, c.opts, c.data);
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var run = document.querySelector("[data-run-charts]");
    if (run) runPage(run);
    var compare = document.querySelector("[data-compare-charts]");
    if (compare) comparePage(compare);
  });
})();
