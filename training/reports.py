"""Run artifacts from gold and predicted labels: classification report, confusion-matrix PNG, predictions table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

KEEP_COLUMNS = ("id", "article_id", "task_id", "actor_label", "policy_label", "actor_mention", "policy_mention",
                "context", "source")


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> float:
    """Macro-F1 over the codebook labels present in the gold data (an absent class would add a meaningless 0)."""
    from sklearn.metrics import f1_score

    present = set(y_true)
    labels = [n for n in names if n in present]
    if not labels:
        return 0.0
    return float(f1_score(list(y_true), list(y_pred), labels=labels, average="macro", zero_division=0))


def scores(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> dict[str, float]:
    """macro-F1 (over gold-present codebook labels) and accuracy."""
    correct = np.asarray(list(y_true)) == np.asarray(list(y_pred))
    return {"macro_f1": macro_f1(list(y_true), list(y_pred), list(names)),
            "accuracy": float(correct.mean()) if len(correct) else 0.0}


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> str:
    """sklearn's per-class report over the codebook labels, with the macro-F1 we select on."""
    from sklearn.metrics import classification_report as report

    text = report(list(y_true), list(y_pred), labels=list(names), zero_division=0, digits=4)
    return text + f"\nmacro-F1 over gold-present labels: {macro_f1(list(y_true), list(y_pred), list(names)):.4f}\n"


def confusion_png(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str], path: Path,
                  title: str) -> Path:
    """Save the confusion matrix (rows gold, columns predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(list(y_true), list(y_pred), labels=list(names))
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    top = matrix.max() or 1
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > top / 2 else "black", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def predictions_frame(rows: Any, proba: np.ndarray, names: Sequence[str],
                      gold: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows' identifying columns, gold (when known), predicted label and one probability column per label."""
    records = rows.to_list() if hasattr(rows, "to_list") else (
        rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows))
    frame = pd.DataFrame({c: [r.get(c) for r in records] for c in KEEP_COLUMNS if any(c in r for r in records)})
    if gold is not None:
        frame["gold"] = list(gold)
    frame["predicted"] = [names[i] for i in proba.argmax(axis=1)] if len(proba) else []
    for j, name in enumerate(names):
        frame[f"p_{name}"] = proba[:, j] if len(proba) else []
    return frame
