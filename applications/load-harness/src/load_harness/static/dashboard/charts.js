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

  // --- latency histograms -------------------------------------------------------------------------------
  // The server sends bins with both edges ({low_ms, high_ms, count}, contiguous, on fixed log-spaced edges), and
  // each bin is drawn as a bar over its own [low, high) range on a log x axis. x holds the low edges; the high
  // edges live in `bins.high` (same index), which histData refreshes before every setData. Two runs' bins share
  // their edges, so they join on low_ms. After each draw the chart element carries the bars it drew (data-bins,
  // JSON): the browser tests read them back.
  function histData(hists, bins) {
    var high = {};
    hists.forEach(function (h) { h.low_ms.forEach(function (lo, i) { high[lo] = h.high_ms[i]; }); });
    var lows = Object.keys(high).map(Number).sort(function (p, q) { return p - q; });
    bins.high = lows.map(function (lo) { return high[lo]; });
    return [lows].concat(hists.map(function (h) {
      var count = {};
      h.low_ms.forEach(function (lo, i) { count[lo] = h.count[i]; });
      return lows.map(function (lo) { return lo in count ? count[lo] : null; });
    }));
  }
  function binBars(bins) {
    return function (u, si, i0, i1) {
      var xs = u.data[0], ys = u.data[si], ratio = uPlot.pxRatio, left = u.bbox.left;
      var path = new Path2D(), drawn = [];
      var base = u.valToPos(0, "y", true);
      // From one bin before the first in view: a bar that starts left of the x range still reaches into it.
      for (var i = Math.max(0, i0 - 1); i <= i1 && i < xs.length; i++) {
        var count = ys[i];
        if (count == null || count <= 0) continue;
        var x0 = u.valToPos(xs[i], "x", true), x1 = u.valToPos(bins.high[i], "x", true), top = u.valToPos(count, "y", true);
        path.rect(x0, top, x1 - x0, base - top);
        drawn.push({ low_ms: xs[i], high_ms: bins.high[i], count: count, left_px: (x0 - left) / ratio, right_px: (x1 - left) / ratio });
      }
      bins.drawn[si] = drawn;
      return { stroke: path, fill: path };
    };
  }
  // Log x axis ticks at 1..9 × 10^n, labelled as densely as ~30 px between labels allows: every tick, or 1, 2 and
  // 5 × 10^n, or 1 × 10^n (uPlot's own log filter keeps only 1 × 10^n, too few on a narrow histogram).
  function logSplits(u, axisIdx, min, max) {
    var out = [];
    for (var e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (var m = 1; m <= 9; m++) { var v = +(m + "e" + e); if (v >= min && v <= max) out.push(v); }
    }
    return out;
  }
  function logValues(u, splits) {
    var perDecade = u.bbox.width / uPlot.pxRatio / Math.log10(u.scales.x.max / u.scales.x.min);
    var keep = perDecade >= 660 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : perDecade >= 100 ? [1, 2, 5] : [1];
    return splits.map(function (v) {
      return keep.indexOf(+String(v).charAt(String(v).search(/[1-9]/))) >= 0 ? String(v) : "";
    });
  }
  function histOpts(labels, colors, bins) {
    var fmt = function (v) { return v == null ? "" : +v.toPrecision(4) + ""; };
    var series = [{ label: "latency ms", value: function (u, v, si, i) {
      return i == null || v == null ? "" : fmt(v) + " to " + fmt(bins.high[i]);
    } }];
    for (var i = 0; i < labels.length; i++) {
      series.push({ label: labels[i], stroke: colors[i], fill: fillOf(colors[i]), width: 1, points: { show: false }, paths: binBars(bins) });
    }
    return {
      cursor: { points: { show: false } },
      scales: {
        // Auto-ranged (uPlot passes the first and last x): from the first bin's low edge to the last one's high
        // edge, with a margin. Zoomed: the range chosen.
        x: { time: false, distr: 3, range: function (u, min, max) {
          var xs = u.data[0];
          if (!xs.length || min == null) return [0.1, 100];
          if (min === xs[0] && max === xs[xs.length - 1]) return [xs[0] / 1.25, bins.high[bins.high.length - 1] * 1.25];
          return [min, max];
        } },
        y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } },
      },
      axes: [
        Object.assign(axis("latency (ms, log)", "x"), { splits: logSplits, values: logValues, filter: function (u, splits) { return splits; } }),
        axis("requests", "y"),
      ],
      series: series,
      bins: bins, // uPlot ignores unknown options; the live page's updates find the bins here
      hooks: { draw: [function (u) {
        var x = u.scales.x;
        var drawn = u.series.map(function (s, si) {
          return si === 0 || !s.show ? null : { label: s.label, bars: bins.drawn[si] || [] };
        }).filter(Boolean);
        u.root.parentNode.setAttribute("data-bins", JSON.stringify({
          x_min_ms: x.min, x_max_ms: x.max, width_px: u.bbox.width / uPlot.pxRatio, series: drawn,
        }));
      }] },
    };
  }
  function histogram(el, hists, labels, colors) {
    var bins = { high: [], drawn: {} };
    return make(el, histOpts(labels, colors, bins), histData(hists, bins));
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
    histogram(q("histogram"), [d.histogram], ["requests"], [COLORS.a]);
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
          [timeData(d), histData([d.histogram], charts[1].opts.bins)].forEach(function (data, i) {
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
      histogram(q("histogram-both"), [a.histogram, b.histogram], ["A", "B"], [COLORS.a, COLORS.b]);
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
