"""The page's inline style and script (no file, font or library is fetched: the page stands alone).

The script only adds: without it every table row shows (blocks as subtotal rows) and <details> still open.
It never writes a name as markup: rows are cloned and text is set with textContent.
"""

PAGE_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 1.5em 2em;color:#222}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.4em 0;z-index:2}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.25em;margin:1.2em 0 .3em;border-bottom:2px solid #4C72B0}
h3{font-size:1.05em;margin:1.1em 0 .3em}nav a{margin-right:1em}
.meta,.hint,.conv{color:#555;font-size:.9em;max-width:75em}.warn{color:#8a5300;font-size:.9em;max-width:75em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:2px 8px;text-align:right;white-space:nowrap}th{font-weight:600;vertical-align:bottom}
table.layers thead th{position:sticky;top:2.9em;background:#f4f4f4;border-bottom:1px solid #bbb}
table.layers td.name,table.layers th:first-child{text-align:left}
table.layers td.name{padding-left:calc(8px + var(--d,0)*1.2em)}
table.layers tbody tr:nth-child(even){background:#fafafa}
table.layers tr.blk,table.layers tr.lay.cut{font-weight:600;background:#eef1f8}
table.layers tr.hl{outline:2px solid #DD8452}
table.layers tfoot td{border-top:2px solid #888;font-weight:700}
table.layers tfoot td:first-child{text-align:left}
.js table.layers tr.blk{cursor:pointer}.js .tog::before{content:"\\25B8";display:inline-block;width:1em}
.js tr.blk.open .tog::before{content:"\\25BE"}
small{font-weight:400;color:#666}tr.more td{text-align:left;color:#8a5300}
table.totals th{text-align:left;font-weight:400}table.totals td.exact{font-weight:600}
table.compare td:first-child,.compare th:first-child{text-align:left}
.tools{margin:.3em 0}.tools input{width:18em;padding:2px 4px}.tools button{margin-left:.4em}.count{margin-left:.6em;color:#555}
svg.bars{display:block;width:100%;max-width:1000px;height:110px;margin:.2em 0;border-bottom:1px solid #aaa}
svg.bars text{font-size:11px;fill:#333}svg.bars rect:hover{opacity:.6}
.key{display:inline-block;width:.8em;height:.8em;margin:0 .2em 0 .6em}
div.graph{overflow:auto;max-height:80vh;border:1px solid #ddd;margin:.3em 0;background:#fcfcfc}
svg.graph .node rect{fill:#fff;stroke:#4C72B0;stroke-width:1}svg.graph .node.blk rect{fill:#eef1f8;stroke-width:2.5}
svg.graph .node.io rect{fill:#f4f4f4;stroke:#999;stroke-dasharray:4 3}svg.graph .node{cursor:default}
svg.graph .node[data-open]{cursor:pointer}svg.graph .node:hover rect{stroke:#DD8452;stroke-width:2.5}
svg.graph text{text-anchor:middle;font-size:11px;fill:#222}svg.graph text.cap{fill:#555;font-size:10px}
svg.graph text.shape{text-anchor:start;font-size:10px;fill:#2a5d2a;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px}
svg.graph .edge{fill:none;stroke:#888;stroke-width:1.2}
details.block{margin:.4em 0 .4em 1em}details.block>summary{cursor:pointer;font-weight:600}
#tip{position:fixed;z-index:5;background:#fff;border:1px solid #888;box-shadow:0 2px 8px rgba(0,0,0,.2);
padding:4px;pointer-events:none;font-size:12px}
#tip tr[hidden]{display:table-row}
svg.roofline{display:block;max-width:100%;height:auto;background:#fcfcfc;border:1px solid #ddd}
svg.roofline text{font-size:11px;fill:#333}svg.roofline text.mid{text-anchor:middle}svg.roofline text.end{text-anchor:end}
svg.roofline .roof{fill:none;stroke:#333;stroke-width:2}svg.roofline .ridge{stroke:#999;stroke-dasharray:2 3}
svg.roofline .axis{stroke:#555}svg.roofline .tick{stroke:#e4e4e4}svg.roofline circle{opacity:.65;stroke:#fff}
svg.roofline circle:hover{opacity:1;stroke:#222}
footer{margin-top:2em;color:#777;font-size:.85em}
"""

PAGE_SCRIPT = r"""
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var tip = document.getElementById("tip");

  function bodyRows(table) { return Array.prototype.slice.call(table.tBodies[0].rows); }

  function refresh(table) {
    var visible = {};
    bodyRows(table).forEach(function (tr) {
      var parent = tr.getAttribute("data-p");
      var show = !parent || (visible[parent] && !!table.cnnOpen[parent]);
      visible[tr.id] = show;
      tr.hidden = !show;
      if (tr.classList.contains("blk")) { tr.classList.toggle("open", !!table.cnnOpen[tr.id]); }
    });
  }

  function filter(table, text, count) {
    text = text.trim().toLowerCase();
    if (!text) { count.textContent = ""; refresh(table); return; }
    var rows = bodyRows(table), byId = {}, shown = 0;
    rows.forEach(function (tr) { byId[tr.id] = tr; tr.hidden = true; });
    rows.forEach(function (tr) {
      var name = tr.getAttribute("data-n");
      if (name === null || name.indexOf(text) < 0) { return; }
      shown += 1;
      tr.hidden = false;
      for (var up = byId[tr.getAttribute("data-p")]; up; up = byId[up.getAttribute("data-p")]) {
        up.hidden = false;
        up.classList.add("open");
      }
    });
    count.textContent = shown + " matching row" + (shown === 1 ? "" : "s");
  }

  Array.prototype.forEach.call(document.querySelectorAll("section.model"), function (section) {
    var table = section.querySelector("table.layers");
    var tools = section.querySelector(".tools");
    var box = tools.querySelector(".filter"), count = tools.querySelector(".count");
    table.cnnOpen = {};
    refresh(table);
    tools.hidden = false;
    table.tBodies[0].addEventListener("click", function (event) {
      var tr = event.target.closest("tr.blk");
      if (!tr) { return; }
      table.cnnOpen[tr.id] = !table.cnnOpen[tr.id];
      box.value = "";
      count.textContent = "";
      refresh(table);
    });
    box.addEventListener("input", function () { filter(table, box.value, count); });
    tools.querySelector(".openall").addEventListener("click", function () {
      bodyRows(table).forEach(function (tr) { if (tr.classList.contains("blk")) { table.cnnOpen[tr.id] = true; } });
      box.value = "";
      refresh(table);
    });
    tools.querySelector(".closeall").addEventListener("click", function () {
      table.cnnOpen = {};
      box.value = "";
      refresh(table);
    });
  });

  var lit = null;
  function hideTip() {
    tip.hidden = true;
    if (lit) { lit.classList.remove("hl"); lit = null; }
  }

  document.addEventListener("mouseover", function (event) {
    var source = event.target.closest("[data-row]");
    var id = source && source.getAttribute("data-row");
    var tr = id ? document.getElementById(id) : null;
    if (!tr) { hideTip(); return; }
    hideTip();
    var table = document.createElement("table");
    table.appendChild(tr.closest("table").tHead.rows[0].cloneNode(true));
    var copy = tr.cloneNode(true);
    copy.removeAttribute("id");
    table.appendChild(copy);
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    tip.appendChild(table);
    tip.hidden = false;
    var x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    var y = event.clientY + 16 + tip.offsetHeight > window.innerHeight ? event.clientY - tip.offsetHeight - 12
                                                                       : event.clientY + 16;
    tip.style.left = Math.max(0, x) + "px";
    tip.style.top = Math.max(0, y) + "px";
    lit = tr;
    tr.classList.add("hl");
  });

  document.addEventListener("click", function (event) {
    var box = event.target.closest("[data-open]");
    if (!box) { return; }
    var details = document.getElementById(box.getAttribute("data-open"));
    for (var up = details; up; up = up.parentElement ? up.parentElement.closest("details") : null) { up.open = true; }
    details.scrollIntoView({block: "start"});
  });
})();
"""
