# ruff: noqa: E501 - an HTML/JS template, not Python lines
"""The timing page's HTML template: inline CSS and JavaScript, no network access needed.

``{{TITLE}}``, ``{{NONCE}}`` and ``{{DATA}}`` are filled in by ``timing.render_timing``.
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{TITLE}}</title>
<style nonce="{{NONCE}}">
  body { font: 13px system-ui, sans-serif; margin: 0; color: #222; }
  header { padding: 10px 16px; border-bottom: 1px solid #ddd; background: #fafafa; }
  header h1 { font-size: 16px; margin: 0 0 4px 0; }
  #summary { color: #555; }
  #controls { margin-top: 6px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  #legend span.item { display: inline-flex; align-items: center; margin-right: 10px; cursor: pointer; }
  #legend span.item.off { opacity: .35; }
  #legend i { width: 12px; height: 12px; display: inline-block; margin-right: 4px; border-radius: 2px; }
  #axis { position: sticky; top: 0; background: #fff; z-index: 2; border-bottom: 1px solid #ccc; }
  #chart-wrap { overflow-x: hidden; }
  svg text { font: 11px ui-monospace, monospace; fill: #333; }
  svg .grid { stroke: #eee; }
  svg .row:hover { fill: #f3f7ff; }
  svg rect.bar { stroke: rgba(0,0,0,.25); stroke-width: .5; }
  #tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 6px 8px;
         border-radius: 4px; font: 12px ui-monospace, monospace; display: none; z-index: 5;
         white-space: pre; }
  #empty { padding: 24px; color: #666; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div id="summary"></div>
  <div id="controls">
    <label>Filter <input id="filter" type="search" placeholder="call name" size="28"></label>
    <span id="legend"></span>
  </div>
</header>
<div id="axis"><svg id="axis-svg" height="24" width="100%"></svg></div>
<div id="chart-wrap"><svg id="chart" width="100%"></svg></div>
<div id="empty" hidden>No calls yet.</div>
<div id="tip"></div>
<script id="timing-data" type="application/json">{{DATA}}</script>
<script nonce="{{NONCE}}">
(function () {
  "use strict";
  var COLORS = {
    Done: "#2e7d32", Succeeded: "#2e7d32", Running: "#1565c0", Failed: "#c62828",
    RetryableFailure: "#f9a825", Aborted: "#757575", Aborting: "#ef6c00",
    QueuedInCromwell: "#b0bec5", Starting: "#90caf9", NotStarted: "#cfd8dc",
    WaitingForReturnCode: "#64b5f6", Bypassed: "#a1887f", Unstartable: "#8d6e63"
  };
  var OTHER = "#9c27b0", ROW = 14, LABEL_W = 360, NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("timing-data").textContent);
  var hidden = {};
  function color(s) { return COLORS[s] || OTHER; }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    return e;
  }
  function fmtDur(ms) {
    if (ms == null || ms < 0) { return "-"; }
    var s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
  }
  function fmtTime(ms) { return ms == null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19); }
  function label(c) {
    return c.name + (c.shard >= 0 ? "[" + c.shard + "]" : "") + (c.attempt > 1 ? " #" + c.attempt : "");
  }
  var calls = data.calls;
  var t0 = data.start, t1 = data.end || data.now;
  calls.forEach(function (c) {
    if (c.start != null && (t0 == null || c.start < t0)) { t0 = c.start; }
    var e = c.end != null ? c.end : data.now;
    if (t1 == null || e > t1) { t1 = e; }
  });
  if (t0 == null) { t0 = data.now; }
  if (t1 == null || t1 <= t0) { t1 = t0 + 1000; }
  document.getElementById("title").textContent = (data.name || "workflow") + " \u2014 " + data.id;
  document.getElementById("summary").textContent = "status " + data.status + " \u00b7 " +
    calls.length + " call attempts \u00b7 " + fmtTime(t0) + " \u2192 " + fmtTime(t1) +
    " (" + fmtDur(t1 - t0) + ")";
  var counts = {};
  calls.forEach(function (c) { counts[c.status] = (counts[c.status] || 0) + 1; });
  var legend = document.getElementById("legend");
  Object.keys(counts).sort().forEach(function (s) {
    var item = document.createElement("span");
    item.className = "item"; item.dataset.status = s;
    var sw = document.createElement("i"); sw.style.background = color(s);
    item.appendChild(sw); item.appendChild(document.createTextNode(s + " (" + counts[s] + ")"));
    item.addEventListener("click", function () {
      hidden[s] = !hidden[s]; item.classList.toggle("off", !!hidden[s]); draw();
    });
    legend.appendChild(item);
  });
  var tip = document.getElementById("tip");
  function showTip(ev, c) {
    tip.textContent = label(c) + "\nstatus   " + c.status +
      (c.backendStatus ? " (" + c.backendStatus + ")" : "") + (c.cached ? "  [cache hit]" : "") +
      "\nstart    " + fmtTime(c.start) + "\nend      " + fmtTime(c.end) +
      "\nduration " + fmtDur((c.end != null ? c.end : data.now) - c.start);
    tip.style.display = "block";
    tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 320) + "px";
    tip.style.top = (ev.clientY + 12) + "px";
  }
  function hideTip() { tip.style.display = "none"; }
  function ticks(width) {
    var span = t1 - t0, target = Math.max(2, Math.floor(width / 110));
    var steps = [1e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5];
    var step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) { if (span / steps[i] <= target) { step = steps[i]; break; } }
    var out = [];
    for (var t = 0; t <= span; t += step) { out.push(t); }
    return out;
  }
  function draw() {
    var filter = document.getElementById("filter").value.toLowerCase();
    var shown = calls.filter(function (c) {
      return !hidden[c.status] && (!filter || label(c).toLowerCase().indexOf(filter) >= 0);
    });
    var svg = document.getElementById("chart"), axis = document.getElementById("axis-svg");
    var width = Math.max(600, document.body.clientWidth), plotW = width - LABEL_W - 16;
    var scale = plotW / (t1 - t0);
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    while (axis.firstChild) { axis.removeChild(axis.firstChild); }
    svg.setAttribute("height", shown.length * ROW + 4);
    document.getElementById("empty").hidden = shown.length > 0;
    ticks(plotW).forEach(function (t) {
      var x = LABEL_W + t * scale;
      axis.appendChild(el("line", { x1: x, x2: x, y1: 16, y2: 24, stroke: "#999" }));
      var tx = el("text", { x: x + 2, y: 12 }); tx.textContent = "+" + fmtDur(t); axis.appendChild(tx);
      svg.appendChild(el("line", { "class": "grid", x1: x, x2: x, y1: 0, y2: shown.length * ROW }));
    });
    var frag = document.createDocumentFragment();
    shown.forEach(function (c, i) {
      var y = i * ROW;
      var g = el("g", { "class": "call", "data-name": c.name, "data-shard": c.shard });
      g.appendChild(el("rect", { "class": "row", x: 0, y: y, width: width, height: ROW, fill: "transparent" }));
      var name = el("text", { x: 4, y: y + ROW - 3 });
      var text = label(c);
      name.textContent = text.length > 52 ? "\u2026" + text.slice(-51) : text;
      g.appendChild(name);
      var start = c.start != null ? c.start : t0, end = c.end != null ? c.end : data.now;
      var bar = el("rect", {
        "class": "bar", x: LABEL_W + (start - t0) * scale, y: y + 2,
        width: Math.max(2, (end - start) * scale), height: ROW - 4, rx: 2,
        fill: color(c.status), "data-status": c.status, "data-attempt": c.attempt
      });
      bar.addEventListener("mousemove", function (ev) { showTip(ev, c); });
      bar.addEventListener("mouseleave", hideTip);
      g.appendChild(bar);
      frag.appendChild(g);
    });
    svg.appendChild(frag);
  }
  document.getElementById("filter").addEventListener("input", draw);
  window.addEventListener("resize", draw);
  draw();
})();
</script>
</body>
</html>
"""
