"""Pure stance metrics (no I/O): the single definition that training and evaluation both use."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import f1_score

SUPPORT, OPPOSE = "support", "oppose"


def present_labels(y_true: Sequence[str], names: Sequence[str] | None = None) -> list[str]:
    """Labels that occur in the gold data, in codebook order when `names` is given.

    Macro averages run over these: a class absent from the gold labels (SEESAW has no neutral) would
    otherwise add a meaningless zero.
    """
    seen = set(y_true)
    return [n for n in names if n in seen] if names else sorted(seen)


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str] | None = None) -> float:
    """Macro-F1 over the gold-present labels; 0.0 for empty input."""
    if len(y_true) == 0:
        return 0.0
    labels = present_labels(y_true, names)
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def f_avg(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """SemEval-2016 F_avg: mean of the F1 of support and oppose (neutral counts only as an error)."""
    if len(y_true) == 0:
        return 0.0
    return float(f1_score(y_true, y_pred, labels=[SUPPORT, OPPOSE], average="macro", zero_division=0))
