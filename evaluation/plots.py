"""PNG figures for reports and networks, drawn on bare matplotlib Figures (Agg canvas, no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

GREEN, RED, GREY, BLUE = "#1a9850", "#d73027", "#9e9e9e", "#4575b4"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def confusion_png(matrix: Sequence[Sequence[int]], names: Sequence[str]) -> bytes:
    """Confusion matrix heat map, counts in the cells, rows = gold."""
    import numpy as np

    cm = np.asarray(matrix, dtype=float)
    fig = _figure(1.6 + 1.0 * len(names), 1.2 + 0.9 * len(names))
    ax = fig.add_subplot()
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=11,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion matrix (shade: share of gold row)")
    return _png(fig)


def per_class_png(per_class: dict[str, dict[str, float]], names: Sequence[str]) -> bytes:
    """Grouped bars of precision, recall and F1 per label (labels with gold support or predictions)."""
    labels = [n for n in names if per_class[n]["support"] or per_class[n]["predicted"]] or list(names)
    fig = _figure(1.5 + 1.4 * len(labels), 3.2)
    ax = fig.add_subplot()
    width = 0.26
    for k, (metric, color) in enumerate((("precision", BLUE), ("recall", "#91bfdb"), ("f1", "#fc8d59"))):
        xs = [i + (k - 1) * width for i in range(len(labels))]
        vals = [per_class[n][metric] for n in labels]
        bars = ax.bar(xs, vals, width, label=metric, color=color)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(range(len(labels)), [f"{n}\n(n={per_class[n]['support']})" for n in labels])
    ax.set_ylim(0, 1.1)
    ax.set_title("Per-class precision, recall, F1")
    ax.legend(loc="upper right", fontsize=8, ncols=3)
    return _png(fig)


def reliability_png(bins: list[dict[str, float]], ece: float) -> bytes:
    """Reliability diagram: accuracy per confidence bin against the diagonal, bin counts underneath."""
    fig = _figure(4.2, 4.6)
    ax, hist = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], linestyle="--", color=GREY, label="perfect calibration")
    used = [b for b in bins if b["count"]]
    width = bins[0]["high"] - bins[0]["low"] if bins else 0.1
    ax.bar([b["low"] for b in used], [b["accuracy"] for b in used], width=width, align="edge",
           edgecolor="black", color=BLUE, alpha=0.8, label="accuracy")
    ax.plot([b["confidence"] for b in used], [b["accuracy"] for b in used], "o", color=RED, markersize=4,
            label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram (ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    hist.bar([b["low"] for b in bins], [b["count"] for b in bins], width=width, align="edge", color=GREY)
    hist.set_xlabel("confidence (max probability)")
    hist.set_ylabel("items")
    return _png(fig)


def network_png(two_mode: Any, title: str = "", max_actors: int = 40, max_options: int = 30) -> bytes:
    """Two-column (bipartite) drawing: actors left, options right; green = net support, red = net oppose."""
    g = two_mode
    actors = [n for n, d in g.nodes(data=True) if d["type"] == "actor"]
    options = [n for n, d in g.nodes(data=True) if d["type"] == "policy"]

    def top(nodes: list[str], k: int) -> list[str]:
        ranked = sorted(nodes, key=lambda n: (-g.degree(n), g.nodes[n]["label"].lower()))[:k]
        return sorted(ranked, key=lambda n: g.nodes[n]["label"].lower())

    shown_a, shown_p = top(actors, max_actors), top(options, max_options)
    rows = max(len(shown_a), len(shown_p), 1)
    fig = _figure(9.0, max(3.0, 0.42 * rows + 1.2))
    ax = fig.add_subplot()
    ax.set_axis_off()

    def column(nodes: list[str]) -> dict[str, float]:
        step = (rows - 1) / max(len(nodes) - 1, 1) if len(nodes) > 1 else 0
        offset = 0 if len(nodes) > 1 else (rows - 1) / 2
        return {n: rows - 1 - (offset + i * step) for i, n in enumerate(nodes)}

    ya, yp = column(shown_a), column(shown_p)
    biggest = max((abs(d["weight"]) for _, _, d in g.edges(data=True)), default=1) or 1
    for u, v, d in g.edges(data=True):
        a, p = (u, v) if u in ya or g.nodes[u]["type"] == "actor" else (v, u)
        if a not in ya or p not in yp:
            continue
        color = GREEN if d["sign"] > 0 else RED if d["sign"] < 0 else GREY
        ax.plot([0, 1], [ya[a], yp[p]], color=color, alpha=0.75,
                linewidth=1.0 + 3.0 * abs(d["weight"]) / biggest, solid_capstyle="round", zorder=1)
    ax.scatter([0] * len(ya), list(ya.values()), s=60, color="#555555", zorder=2)
    ax.scatter([1] * len(yp), list(yp.values()), s=60, marker="s", color="#8c6bb1", zorder=2)
    for n, y in ya.items():
        ax.text(-0.045, y, g.nodes[n]["label"], ha="right", va="center", fontsize=9)
    for n, y in yp.items():
        ax.text(1.045, y, g.nodes[n]["label"], ha="left", va="center", fontsize=9)
    hidden = (len(actors) - len(shown_a), len(options) - len(shown_p))
    note = f" (showing {len(shown_a)} of {len(actors)} actors, {len(shown_p)} of {len(options)} options)" \
        if any(hidden) else ""
    ax.set_title((title or "Actor x policy-option network") + note
                 + "\ngreen: net support   red: net oppose   grey: ambivalent or neutral", fontsize=10)
    ax.set_xlim(-1.2, 2.2)
    ax.set_ylim(-0.8, rows - 0.2)
    return _png(fig)
