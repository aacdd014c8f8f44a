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


def _wrap(label: str, width: int = 34, lines: int = 3) -> str:
    """A node label in at most `lines` lines of `width` characters (the full label is in the files and the HTML)."""
    import textwrap

    parts = textwrap.wrap(label, width) or [label]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "\u2026"
    return "\n".join(parts)


def network_png(two_mode: Any, title: str = "", max_actors: int = 25, max_options: int = 25,
                targets_word: str = "policy options", placeholders: bool = False) -> bytes:
    """Two-column (bipartite) drawing: actors left, targets right; green = net support, red = net oppose; the
    rule for which nodes are drawn is written under the title; placeholder holders are left out unless asked."""
    from evaluation.network_html import is_placeholder

    g = two_mode
    keep = [n for n, d in g.nodes(data=True) if placeholders or not is_placeholder(str(d["label"]))]
    dropped = g.number_of_nodes() - len(keep)
    actors = [n for n in keep if g.nodes[n]["type"] == "actor"]
    options = [n for n in keep if g.nodes[n]["type"] == "policy"]

    def top(nodes: list[str], k: int) -> list[str]:
        ranked = sorted(nodes, key=lambda n: (-g.degree(n), g.nodes[n]["label"].lower()))[:k]
        return sorted(ranked, key=lambda n: g.nodes[n]["label"].lower())

    shown_a, shown_p = top(actors, max_actors), top(options, max_options)
    labels = {n: _wrap(str(g.nodes[n]["label"])) for n in shown_a + shown_p}
    lines_per_row = max((t.count("\n") + 1 for t in labels.values()), default=1)
    rows = max(len(shown_a), len(shown_p), 1)
    row_in = 0.2 + 0.16 * lines_per_row  # inches per row: wrapped labels of neighbours never touch
    fig = _figure(10.0, max(3.5, row_in * rows + 2.2))
    ax = fig.add_subplot()
    ax.set_axis_off()

    def column(nodes: list[str]) -> dict[str, float]:
        step = (rows - 1) / max(len(nodes) - 1, 1) if len(nodes) > 1 else 0
        offset = 0 if len(nodes) > 1 else (rows - 1) / 2
        return {n: rows - 1 - (offset + i * step) for i, n in enumerate(nodes)}

    ya, yp = column(shown_a), column(shown_p)
    drawn = [(a, p, d) for u, v, d in g.edges(data=True)
             for a, p in [((u, v) if g.nodes[u]["type"] == "actor" else (v, u))] if a in ya and p in yp]
    biggest = max((d["statements"] for _, _, d in drawn), default=1) or 1

    def width(statements: float) -> float:
        return 0.8 + 4.2 * statements / biggest

    for a, p, d in drawn:
        color = GREEN if d["sign"] > 0 else RED if d["sign"] < 0 else GREY
        ax.plot([0, 1], [ya[a], yp[p]], color=color, alpha=0.7, linewidth=width(d["statements"]),
                solid_capstyle="round", zorder=1)
    ax.scatter([0] * len(ya), list(ya.values()), s=50, color="#555555", zorder=2)
    ax.scatter([1] * len(yp), list(yp.values()), s=50, marker="s", color="#8c6bb1", zorder=2)
    for n, y in ya.items():
        ax.text(-0.04, y, labels[n], ha="right", va="center", fontsize=9, linespacing=1.0)
    for n, y in yp.items():
        ax.text(1.04, y, labels[n], ha="left", va="center", fontsize=9, linespacing=1.0)
    ax.text(0, rows - 0.2, "actors", ha="center", va="bottom", fontsize=10, weight="bold")
    ax.text(1, rows - 0.2, targets_word, ha="center", va="bottom", fontsize=10, weight="bold")

    def rule(shown: int, of: int, word: str) -> str:
        return f"all {of} {word}" if shown == of else f"top {shown} {word} by degree of {of}"

    note = f"{rule(len(shown_a), len(actors), 'actors')}; {rule(len(shown_p), len(options), targets_word)}"
    if dropped:
        note += f"; {dropped} placeholder node(s) ((author), (unlisted)) not drawn (in the files)"
    ax.set_title(title or f"Actor x {targets_word} network", fontsize=12, weight="bold", pad=20)
    ax.text(0.5, 1.005, note, transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
    from matplotlib.lines import Line2D

    steps = sorted({1, max(1, round(biggest / 2)), int(biggest)})
    handles = [Line2D([], [], color=GREEN, lw=2, label="net support"), Line2D([], [], color=RED, lw=2,
               label="net oppose"), Line2D([], [], color=GREY, lw=2, label="ambivalent / neutral")]
    handles += [Line2D([], [], color="#444444", lw=width(k), label=f"{k} statement{'s' if k > 1 else ''}")
                for k in steps]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3 + len(steps), fontsize=8,
              frameon=False, handlelength=2.5)
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(-0.8, rows + 0.3)
    return _png(fig)
