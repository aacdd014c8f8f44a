"""A self-contained interactive page of the actor x target network: one HTML file, inline SVG and a small inline
script (no CDN, nothing fetched), opened offline. Search a node, hover a node or an edge for its statements and
evidence sentences, filter by stance, show or hide the placeholder holders ((author), (unlisted))."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import networkx as nx

from evaluation.statements import Statement

EVIDENCE_PER_EDGE = 25  # sentences kept per actor-target pair (the rest are counted, not embedded)


def is_placeholder(label: str) -> bool:
    """A holder or target that is not a name: SEESAW's author voice and 'Not in the list'."""
    from corpus.importers.statements import AUTHOR, UNLISTED

    return label in (AUTHOR, UNLISTED)


def page_data(two_mode: nx.Graph, statements: Iterable[Statement]) -> dict[str, Any]:
    """Nodes, edges and each edge's evidence, as the page's script reads them."""
    evidence: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for s in statements:
        ev = evidence[f"actor:{s.actor_id}", f"policy:{s.policy_id}"]
        ev.append({"article": s.article_id, "stance": s.stance, "text": s.context})
    nodes = [{"id": n, "label": str(d["label"]), "type": d["type"], "degree": two_mode.degree(n),
              "statements": int(d["statements"]), "placeholder": is_placeholder(str(d["label"]))}
             for n, d in two_mode.nodes(data=True)]
    nodes.sort(key=lambda n: (-n["degree"], n["label"].lower()))
    edges = []
    for u, v, d in two_mode.edges(data=True):
        a, p = (u, v) if two_mode.nodes[u]["type"] == "actor" else (v, u)
        ev = sorted(evidence.get((a, p), []), key=lambda e: (e["article"], e["stance"], e["text"]))
        edges.append({"actor": a, "target": p, "support": d["support"], "oppose": d["oppose"],
                      "neutral": d["neutral"], "weight": d["weight"], "evidence": ev[:EVIDENCE_PER_EDGE],
                      "more": max(0, len(ev) - EVIDENCE_PER_EDGE)})
    edges.sort(key=lambda e: (e["actor"], e["target"]))
    return {"nodes": nodes, "edges": edges}


def network_html(two_mode: nx.Graph, statements: Iterable[Statement], title: str, targets_word: str = "targets"
                 ) -> str:
    """The page: title, controls, an SVG drawn by the inline script from the embedded data, a details panel."""
    data = json.dumps({**page_data(two_mode, statements), "targets": targets_word}, ensure_ascii=False,
                      separators=(",", ":"))
    data = data.replace("<", "\\u003c")  # nothing in the data can close the script element
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__TARGETS__", html.escape(targets_word)) \
        .replace("__DATA__", data)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; \
style-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;height:100vh}
#main{flex:1;overflow:auto;padding:12px}#side{width:420px;overflow:auto;border-left:1px solid #ccc;padding:12px;
background:#fafafa}h1{font-size:17px;margin:0 0 6px}#controls{margin:6px 0 10px}#controls label{margin-right:10px}
#hits{list-style:none;padding:0;margin:4px 0}#hits li{cursor:pointer;padding:1px 4px}#hits li:hover{background:#eef}
svg text{font-size:12px;cursor:pointer}svg line{stroke-linecap:round}.sel{font-weight:bold;fill:#0645ad}
.ev{margin:4px 0 8px 10px;color:#333}.support{color:#1a9850}.oppose{color:#d73027}.neutral{color:#777}
.muted{color:#777}</style></head>
<body><div id="main"><h1>__TITLE__</h1>
<div class="muted">Actors left, __TARGETS__ right; green: net support, red: net oppose, grey: ambivalent or neutral;
line width: statements of the pair. Hover a node or a line for its statements.</div>
<div id="controls"><input id="search" type="search" placeholder="search a node" size="30" autocomplete="off">
<label><input type="checkbox" class="stance" value="support" checked> support</label>
<label><input type="checkbox" class="stance" value="oppose" checked> oppose</label>
<label><input type="checkbox" class="stance" value="neutral" checked> neutral</label>
<label><input type="checkbox" id="placeholders"> placeholders ((author), (unlisted))</label>
<ul id="hits"></ul></div><div id="count" class="muted"></div><svg id="net" xmlns="http://www.w3.org/2000/svg"></svg>
</div><div id="side"><div id="details" class="muted">Hover or search a node.</div></div>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg", ROW = 20, W = 600;
const byId = new Map(D.nodes.map(n => [n.id, n]));
const svg = document.getElementById("net");
function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function h(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function stances() { return [...document.querySelectorAll(".stance:checked")].map(c => c.value); }
function count(e, ss) { return ss.reduce((t, s) => t + e[s], 0); }
function visibleEdges() {
  const ss = stances(), ph = document.getElementById("placeholders").checked;
  return D.edges.filter(e => count(e, ss) > 0 &&
    (ph || (!byId.get(e.actor).placeholder && !byId.get(e.target).placeholder)));
}
let pos = new Map();
function draw() {
  svg.replaceChildren();
  const edges = visibleEdges(), used = new Set();
  edges.forEach(e => { used.add(e.actor); used.add(e.target); });
  const actors = D.nodes.filter(n => n.type === "actor" && used.has(n.id));
  const targets = D.nodes.filter(n => n.type !== "actor" && used.has(n.id));
  const rows = Math.max(actors.length, targets.length, 1);
  svg.setAttribute("height", rows * ROW + 10);
  pos = new Map();
  const place = (list, x) => list.forEach((n, i) =>
    pos.set(n.id, {x: x, y: 10 + (i + 0.5) * rows * ROW / list.length}));
  const chars = list => Math.max(4, ...list.map(n => n.label.length));
  const ax = 16 + 7 * chars(actors), tx = ax + 260;
  svg.setAttribute("width", Math.max(W, tx + 24 + 7 * chars(targets)));
  place(actors, ax); place(targets, tx);
  const ss = stances(), most = Math.max(1, ...edges.map(e => count(e, ss)));
  for (const e of edges) {
    const a = pos.get(e.actor), t = pos.get(e.target);
    const net = ss.includes("support") * e.support - ss.includes("oppose") * e.oppose;
    const line = el("line", {x1: a.x, y1: a.y, x2: t.x, y2: t.y, "stroke-width": 1 + 5 * count(e, ss) / most,
      stroke: net > 0 ? "#1a9850" : net < 0 ? "#d73027" : "#9e9e9e", "stroke-opacity": 0.7});
    line.addEventListener("mouseenter", () => showEdge(e));
    svg.appendChild(line);
  }
  for (const n of [...actors, ...targets]) {
    const p = pos.get(n.id), left = n.type === "actor";
    const t = el("text", {x: left ? p.x - 8 : p.x + 8, y: p.y + 4, "text-anchor": left ? "end" : "start",
      "data-id": n.id}, n.label);
    t.addEventListener("mouseenter", () => showNode(n.id));
    svg.appendChild(t);
    svg.appendChild(el("circle", {cx: p.x, cy: p.y, r: 4, fill: left ? "#555" : "#8c6bb1"}));
  }
  document.getElementById("count").textContent = actors.length + " actors, " + targets.length + " " + D.targets +
    ", " + edges.length + " pairs shown (of " + D.nodes.length + " nodes)";
}
function evidence(box, e) {
  const ss = stances();
  for (const ev of e.evidence.filter(v => ss.includes(v.stance))) {
    const d = h("div", "", "ev");
    d.appendChild(h("span", ev.stance, ev.stance));
    d.appendChild(h("span", " [" + (ev.article || "?") + "] "));
    d.appendChild(h("span", ev.text || "(no sentence in this source)"));
    box.appendChild(d);
  }
  if (e.more) box.appendChild(h("div", "and " + e.more + " more statements", "muted"));
}
function pairLine(e, other) {
  return other + ": +" + e.support + " support, -" + e.oppose + " oppose, =" + e.neutral + " neutral";
}
function showNode(id) {
  const n = byId.get(id), box = document.getElementById("details");
  box.className = "";
  box.replaceChildren(h("h2", n.label), h("div", (n.type === "actor" ? "actor" : D.targets.replace(/s$/, "")) +
    ", " + n.statements + " statements, " + n.degree + " partners", "muted"));
  svg.querySelectorAll("text.sel").forEach(t => t.classList.remove("sel"));
  const label = svg.querySelector('text[data-id="' + CSS.escape(id) + '"]');
  if (label) label.classList.add("sel");
  for (const e of D.edges.filter(e => e.actor === id || e.target === id)) {
    const other = byId.get(e.actor === id ? e.target : e.actor).label;
    box.appendChild(h("h3", pairLine(e, other)));
    evidence(box, e);
  }
}
function showEdge(e) {
  const box = document.getElementById("details");
  box.className = "";
  box.replaceChildren(h("h2", byId.get(e.actor).label + " \\u2192 " + byId.get(e.target).label),
    h("div", pairLine(e, "statements"), "muted"));
  evidence(box, e);
}
function search() {
  const q = document.getElementById("search").value.trim().toLowerCase(), hits = document.getElementById("hits");
  hits.replaceChildren();
  if (!q) return;
  const found = D.nodes.filter(n => n.label.toLowerCase().includes(q)).slice(0, 15);
  for (const n of found) {
    const li = h("li", n.label + " (" + (n.type === "actor" ? "actor" : D.targets.replace(/s$/, "")) + ")");
    li.addEventListener("click", () => pick(n.id));
    hits.appendChild(li);
  }
  if (!found.length) hits.appendChild(h("li", "no node matches", "muted"));
}
function pick(id) {
  if (byId.get(id).placeholder && !document.getElementById("placeholders").checked) {
    document.getElementById("placeholders").checked = true; draw();
  }
  showNode(id);
  const label = svg.querySelector('text[data-id="' + CSS.escape(id) + '"]');
  if (label) label.scrollIntoView({block: "center"});
}
document.getElementById("search").addEventListener("input", search);
document.getElementById("search").addEventListener("keydown", ev => {
  const first = document.querySelector("#hits li");
  if (ev.key === "Enter" && first) first.click();
});
document.querySelectorAll(".stance, #placeholders").forEach(c => c.addEventListener("change", draw));
draw();
</script></body></html>
"""
