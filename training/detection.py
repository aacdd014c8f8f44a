"""Stance-or-none decisions from a detector's class probabilities: the seam between training, extract and prelabel.

A detector predicts over the codebook's stance labels plus its `no_stance` label (`Codebook.detection_names`).
A pair is a statement when P(statement) = 1 - P(none) reaches the threshold chosen on validation for statement
F1; its stance is then the most probable stance label, its confidence P(statement) * P(stance | statement).
For a plain stance model (no `none` label) every pair is a statement, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Decision:
    """One pair's outcome: the label (a stance, or the none label), P(statement), and the stance's confidence."""

    label: str
    p_statement: float
    confidence: float


def split_proba(proba: np.ndarray, labels: Sequence[str], none_label: str | None) -> tuple[np.ndarray, np.ndarray,
                                                                                          list[str]]:
    """(P(statement) per row, P(stance | statement) per row over the stance labels, those stance labels)."""
    proba = np.asarray(proba, dtype=float)
    if none_label is None or none_label not in labels:
        return np.ones(len(proba)), proba, list(labels)
    k = list(labels).index(none_label)
    keep = [i for i in range(len(labels)) if i != k]
    stance = proba[:, keep]
    p_statement = 1.0 - proba[:, k]
    total = stance.sum(axis=1, keepdims=True)
    stance = np.divide(stance, total, out=np.full_like(stance, 1.0 / max(1, len(keep))), where=total > 0)
    return np.clip(p_statement, 0.0, 1.0), stance, [labels[i] for i in keep]


def decide(proba: np.ndarray, labels: Sequence[str], none_label: str | None,
           threshold: float | None = None) -> list[Decision]:
    """Each row's Decision; `threshold` defaults to 0.5 (P(statement) >= threshold is a statement)."""
    p_statement, stance, names = split_proba(proba, labels, none_label)
    cut = 0.5 if threshold is None else float(threshold)
    out = []
    for p, row in zip(p_statement, stance, strict=True):
        j = int(row.argmax()) if len(row) else 0
        is_statement = none_label is None or p >= cut
        label = names[j] if is_statement else str(none_label)
        out.append(Decision(label, float(p), float(p * row[j]) if is_statement else float(1.0 - p)))
    return out


def statement_prf(gold: Sequence[str], predicted: Sequence[str], none_label: str) -> dict[str, float]:
    """Precision, recall and F1 over candidate rows: a statement is right when its stance is; `none` is no claim."""
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if p != none_label and p == g)
    claimed = sum(1 for p in predicted if p != none_label)
    real = sum(1 for g in gold if g != none_label)
    precision = tp / claimed if claimed else 0.0
    recall = tp / real if real else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def choose_threshold(proba: np.ndarray, labels: Sequence[str], gold: Sequence[str], none_label: str,
                     grid: Sequence[float] | None = None) -> tuple[float, dict[str, float]]:
    """The P(statement) threshold with the best statement F1 on (validation) rows, and its scores.

    Ties go to the threshold nearest 0.5, so a flat curve does not drift to an extreme.
    """
    cuts = list(grid) if grid is not None else [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]
    best: tuple[float, float, dict[str, float]] | None = None
    for cut in cuts:
        predicted = [d.label for d in decide(proba, labels, none_label, cut)]
        prf = statement_prf(gold, predicted, none_label)
        key = (prf["f1"], -abs(cut - 0.5))
        if best is None or key > (best[0], -abs(best[1] - 0.5)):
            best = (prf["f1"], cut, prf)
    assert best is not None
    return best[1], best[2]


class DetectThenPolarity:
    """A detector's P(statement) with another model's stance: the Predictor `extract` and `prelabel` use when
    given a detector and a stance model (detect-then-polarity). Its probabilities are, per stance label,
    P(statement) * P(label) from the stance model, and P(none) from the detector; its threshold is the
    detector's."""

    def __init__(self, detector: Any, stance: Any) -> None:
        if getattr(detector, "none_label", None) is None:
            raise ValueError("the first model is not a detector (it has no none label)")
        self.detector, self.stance = detector, stance
        self.none_label: str = detector.none_label
        self.threshold: float | None = getattr(detector, "threshold", None)
        self.labels = list(detector.labels)
        missing = [n for n in stance.labels if n not in self.labels]
        if missing:
            raise ValueError(f"the stance model's label {missing[0]!r} is not one of the detector's "
                             f"({', '.join(self.labels)})")

    def predict_proba(self, rows: Any) -> np.ndarray:
        rows = rows if isinstance(rows, list) else list(rows)
        p_statement, _, _ = split_proba(self.detector.predict_proba(rows), self.detector.labels, self.none_label)
        stance = np.asarray(self.stance.predict_proba(rows), dtype=float)
        out = np.zeros((len(rows), len(self.labels)))
        for j, name in enumerate(self.stance.labels):
            out[:, self.labels.index(name)] = p_statement * stance[:, j]
        out[:, self.labels.index(self.none_label)] = 1.0 - p_statement
        return out
