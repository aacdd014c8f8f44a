"""Discourse networks (Leifeld's discourse network analysis) from stance statements, built with networkx.

* two-mode: actors x policy options; an edge per (actor, option) pair with the counts of support,
  oppose and neutral statements, `weight` = support - oppose (the net, signed) and `sign` in {1, -1, 0};
* one-mode congruence: actors linked by the options on which their net positions agree (weight = count);
* one-mode conflict: actors linked by the options on which their net positions are opposed.

Node ids are `actor:<id>` and `policy:<id>` (an actor and a target can share a name in imported
corpora); attributes `type`, `label`, `actor_type`, `bipartite` make the files readable in Gephi,
visone and R (igraph's read_graph(format="graphml")).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import networkx as nx

from evaluation.statements import Statement

SUPPORT, OPPOSE, NEUTRAL = "support", "oppose", "neutral"
ACTOR, POLICY = "actor", "policy"


def actor_node(actor_id: str) -> str:
    return f"{ACTOR}:{actor_id}"


def policy_node(policy_id: str) -> str:
    return f"{POLICY}:{policy_id}"


@dataclass
class Networks:
    """The three graphs of one set of statements."""

    two_mode: nx.Graph
    congruence: nx.Graph
    conflict: nx.Graph

    def summary(self) -> dict[str, Any]:
        g = self.two_mode
        signs = Counter(d["sign"] for _, _, d in g.edges(data=True))
        return {
            "actors": sum(1 for _, d in g.nodes(data=True) if d["type"] == ACTOR),
            "policy_options": sum(1 for _, d in g.nodes(data=True) if d["type"] == POLICY),
            "statements": int(sum(d["statements"] for _, _, d in g.edges(data=True))),
            "edges": g.number_of_edges(),
            "positive_edges": signs.get(1, 0), "negative_edges": signs.get(-1, 0), "ambivalent_edges": signs.get(0, 0),
            "congruence_edges": self.congruence.number_of_edges(),
            "conflict_edges": self.conflict.number_of_edges(),
        }


def _sign(net: int) -> int:
    return (net > 0) - (net < 0)


def two_mode_network(statements: Iterable[Statement]) -> nx.Graph:
    """Actor x policy-option graph with signed, weighted edges (see the module docstring)."""
    g = nx.Graph()
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    articles: dict[tuple[str, str], set[str]] = defaultdict(set)
    confidence: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in statements:
        a, p = actor_node(s.actor_id), policy_node(s.policy_id)
        if a not in g:
            g.add_node(a, type=ACTOR, label=s.actor_label or s.actor_id, actor_type=s.actor_type or "unknown",
                       bipartite=0, statements=0)
        if p not in g:
            g.add_node(p, type=POLICY, label=s.policy_label or s.policy_id, actor_type="", bipartite=1,
                       statements=0)
        g.nodes[a]["statements"] += 1
        g.nodes[p]["statements"] += 1
        counts[a, p][s.stance] += 1
        if s.article_id:
            articles[a, p].add(s.article_id)
        if s.confidence is not None:
            confidence[a, p].append(s.confidence)
    for (a, p), c in counts.items():
        net = c[SUPPORT] - c[OPPOSE]
        attrs: dict[str, Any] = {"weight": net, "sign": _sign(net), "support": c[SUPPORT], "oppose": c[OPPOSE],
                                 "neutral": c[NEUTRAL], "statements": sum(c.values()),
                                 "articles": len(articles[a, p])}
        if confidence[a, p]:
            attrs["mean_confidence"] = round(sum(confidence[a, p]) / len(confidence[a, p]), 4)
        g.add_edge(a, p, **attrs)
    return g


def actor_networks(two_mode: nx.Graph) -> tuple[nx.Graph, nx.Graph]:
    """One-mode congruence and conflict graphs of the actors, from their net position on each option."""
    congruence, conflict = nx.Graph(), nx.Graph()
    actors = [(n, d) for n, d in two_mode.nodes(data=True) if d["type"] == ACTOR]
    for g in (congruence, conflict):
        g.add_nodes_from((n, {k: v for k, v in d.items() if k != "bipartite"}) for n, d in actors)
    for p, d in two_mode.nodes(data=True):
        if d["type"] != POLICY:
            continue
        positions = sorted((a, two_mode.edges[a, p]["sign"]) for a in two_mode.neighbors(p))
        for (a, sa), (b, sb) in combinations(positions, 2):
            if not sa or not sb:
                continue  # an ambivalent (net 0) position neither agrees nor disagrees
            g = congruence if sa == sb else conflict
            if g.has_edge(a, b):
                g.edges[a, b]["weight"] += 1
                g.edges[a, b]["options"] += ";" + p.removeprefix(f"{POLICY}:")
            else:
                g.add_edge(a, b, weight=1, options=p.removeprefix(f"{POLICY}:"))
    return congruence, conflict


def build_networks(statements: Iterable[Statement]) -> Networks:
    """All three graphs of a set of statements."""
    two = two_mode_network(statements)
    congruence, conflict = actor_networks(two)
    return Networks(two, congruence, conflict)


# --- export ----------------------------------------------------------------------------------------------


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    from corpus.csvsafe import safe_record

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_record(r) for r in rows)  # no cell a spreadsheet would run as a formula
    return buf.getvalue()


def _id(node: str) -> str:
    return node.split(":", 1)[1]


def export_files(nets: Networks) -> dict[str, str]:
    """File name -> text of every export: GraphML for each graph, CSV node and edge lists."""
    g = nets.two_mode
    files = {
        "two_mode.graphml": "\n".join(nx.generate_graphml(g)) + "\n",
        "congruence.graphml": "\n".join(nx.generate_graphml(nets.congruence)) + "\n",
        "conflict.graphml": "\n".join(nx.generate_graphml(nets.conflict)) + "\n",
    }
    nodes = [{"id": n, "label": d["label"], "type": d["type"], "actor_type": d["actor_type"],
              "statements": d["statements"], "degree": g.degree(n)} for n, d in sorted(g.nodes(data=True))]
    files["nodes.csv"] = _csv(nodes, ["id", "label", "type", "actor_type", "statements", "degree"])
    edges = []
    for u, v, d in g.edges(data=True):
        a, p = (u, v) if g.nodes[u]["type"] == ACTOR else (v, u)
        edges.append({"source": a, "target": p, "actor_id": _id(a), "policy_id": _id(p),
                      "actor_label": g.nodes[a]["label"], "policy_label": g.nodes[p]["label"], **d})
    edges.sort(key=lambda e: (e["source"], e["target"]))
    files["two_mode_edges.csv"] = _csv(edges, ["source", "target", "actor_id", "policy_id", "actor_label",
                                               "policy_label", "weight", "sign", "support", "oppose", "neutral",
                                               "statements", "articles", "mean_confidence"])
    for name, one in (("congruence", nets.congruence), ("conflict", nets.conflict)):
        rows = [{"source": min(u, v), "target": max(u, v), "source_label": one.nodes[min(u, v)]["label"],
                 "target_label": one.nodes[max(u, v)]["label"], **d} for u, v, d in one.edges(data=True)]
        rows.sort(key=lambda e: (e["source"], e["target"]))
        files[f"{name}_edges.csv"] = _csv(rows, ["source", "target", "source_label", "target_label", "weight",
                                                 "options"])
    return files


def write_exports(nets: Networks, out: Path) -> list[Path]:
    """Write `export_files` into the folder `out` (which the caller stages atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in export_files(nets).items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


# --- scoring ---------------------------------------------------------------------------------------------


def _edge_signs(g: nx.Graph) -> dict[tuple[str, str], int]:
    out = {}
    for u, v, d in g.edges(data=True):
        a, p = (u, v) if g.nodes[u]["type"] == ACTOR else (v, u)
        out[_id(a), _id(p)] = d["sign"]
    return out


def _prf(pred: dict[Any, int], gold: dict[Any, int]) -> dict[str, float | int]:
    common = pred.keys() & gold.keys()
    tp = len(common)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    same = sum(pred[k] == gold[k] for k in common)
    sp = same / len(pred) if pred else 0.0
    sr = same / len(gold) if gold else 0.0
    return {"edge_precision": precision, "edge_recall": recall, "edge_f1": f1,
            "sign_accuracy": same / tp if tp else 0.0, "signed_edge_f1": 2 * sp * sr / (sp + sr) if sp + sr else 0.0,
            "predicted_edges": len(pred), "gold_edges": len(gold), "matched_edges": tp, "matched_same_sign": same}


def _article_signs(statements: Iterable[Statement]) -> dict[tuple[str, str, str], int]:
    net: Counter = Counter()
    for s in statements:
        key = (s.article_id, s.actor_id, s.policy_id)
        net[key] += (s.stance == SUPPORT) - (s.stance == OPPOSE)
    return {k: _sign(v) for k, v in net.items()}


def score_networks(predicted: list[Statement], gold: list[Statement], same_articles: bool = True) -> dict[str, Any]:
    """Predicted against gold network: edge precision/recall/F1, sign accuracy on matched edges, signed F1.

    Scored on the whole network (edge = actor-option pair) and, where both sides carry article ids, per
    article (edge = article-actor-option). With `same_articles`, gold is first cut to the articles the
    prediction covers, so a prediction for one article is not scored against the whole corpus.
    """
    pred_articles = {s.article_id for s in predicted}
    restricted = False
    if same_articles and predicted and "" not in pred_articles and all(s.article_id for s in gold):
        gold = [s for s in gold if s.article_id in pred_articles]
        restricted = True
    out: dict[str, Any] = {
        "network": _prf(_edge_signs(two_mode_network(predicted)), _edge_signs(two_mode_network(gold))),
        "gold_restricted_to_predicted_articles": restricted,
    }
    if predicted and gold and all(s.article_id for s in predicted) and all(s.article_id for s in gold):
        out["article"] = _prf(_article_signs(predicted), _article_signs(gold))
    return out


# --- naming -------------------------------------------------------------------------------------------------


def source_name(source: str | Path, codebook_name: str) -> str:
    """What a reader calls SOURCE: a dataset's card title, an importer's data (SEESAW), the bundled corpus, or
    the file's name; never a bare folder name."""
    from corpus.card import card_names
    from corpus.errors import InputError
    from corpus.store import BUNDLED_ROOT
    from corpus.yamlio import load_yaml

    path = Path(source)
    card = path / "README.md"
    if path.is_dir() and (path / "statements").is_dir() and card.is_file():
        text = card.read_text(encoding="utf-8", errors="replace")
        if text.startswith("---\n"):
            try:
                meta = load_yaml(text.split("---\n", 2)[1], card)
            except InputError:
                meta = None
            if isinstance(meta, dict) and isinstance(meta.get("pretty_name"), str):
                return meta["pretty_name"].removeprefix("newsstance: ") + " dataset"
    if path.is_dir():
        name = card_names(codebook_name, [path])["title"].removeprefix("newsstance: ")
        return name + (" (the bundled corpus)" if path.resolve() == BUNDLED_ROOT.resolve() else "")
    return path.name


def targets_word(statements: Iterable[Statement], codebook: Any) -> str:
    """'policy options' where every target is one of the codebook's, else 'targets' (SEESAW's people, parties,
    topics are not policy options)."""
    ids = {s.policy_id for s in statements}
    return "policy options" if ids and all(codebook.policy(i) for i in ids) else "targets"


# --- the command -----------------------------------------------------------------------------------------


def network(source: str | Path, out: str | Path, *, gold: str | Path | None = None, split: str | None = None,
            codebook: str | Path | None = None, same_articles: bool = True, tracking_uri: str | None = None,
            experiment: str | None = None, title: str | None = None, placeholders: bool = False) -> dict[str, Any]:
    """Build the networks of SOURCE, write GraphML/CSV/PNG/HTML/network.json into OUT (atomically), score
    against GOLD when given, and log to MLflow when a tracking URI is given or MLFLOW_TRACKING_URI is set."""
    import json
    import os

    from corpus.codebook import load_codebook
    from corpus.errors import InputError, atomic_path
    from evaluation.network_html import network_html
    from evaluation.plots import network_png
    from evaluation.statements import read_statements

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "network.json").is_file())):
        raise InputError(out, "exists and is not an earlier network output; choose a new --out folder")
    cb = load_codebook(codebook)
    src = read_statements(source, cb, split)
    if not src.statements:
        raise InputError(source, "holds no statements to draw" + (f" ({'; '.join(src.notes)})" if src.notes else ""))
    nets = build_networks(src.statements)
    summary: dict[str, Any] = {"source": str(source), "kind": src.kind, "network": nets.summary(),
                               "notes": list(src.notes)}
    if gold is not None:
        ref = read_statements(gold, cb, split)
        summary.update(gold=str(gold), score=score_networks(src.statements, ref.statements, same_articles))
        summary["notes"] += [f"gold: {n}" for n in ref.notes]
    word = targets_word(src.statements, cb)
    title = title or f"Discourse network: {source_name(source, cb.name)}" + (f", {split} split" if split else "")
    png = network_png(nets.two_mode, title, targets_word=word, placeholders=placeholders)
    page = network_html(nets.two_mode, src.statements, title, targets_word="targets" if word == "targets"
                        else "policy options")
    summary["drawing"] = {"title": title, "targets": word, "placeholders_drawn": placeholders}
    with atomic_path(out) as tmp:
        write_exports(nets, tmp)
        (tmp / "network.png").write_bytes(png)
        (tmp / "network.html").write_text(page, encoding="utf-8")
        (tmp / "network.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"):
        from evaluation import tracking

        summary["mlflow"] = tracking.log_network(summary, out, tracking_uri, experiment)
    return summary
