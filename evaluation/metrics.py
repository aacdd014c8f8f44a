"""Pure stance metrics (no I/O): the single definition that training and evaluation both use.

Point metrics (`macro_f1`, `f_avg`, `accuracy`, `per_class`, `confusion`), 95% bootstrap intervals
(percentile; items resampled one by one, or whole clusters such as articles), and two paired tests of
the difference between two systems on the same items (paired bootstrap, approximate randomisation).
Everything derives from confusion counts, so a thousand resamples cost a few matrix products.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import f1_score

SUPPORT, OPPOSE = "support", "oppose"
METRICS = ("macro_f1", "f_avg", "accuracy")
_CHUNK_CELLS = 4_000_000  # resample weights held at once (rows x units), bounds memory on large sets


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


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of items whose predicted label equals the gold label; 0.0 for empty input."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold labels but {len(y_pred)} predictions")
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)])) if len(y_true) else 0.0


def confusion(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> list[list[int]]:
    """Confusion counts: row = gold label, column = predicted label, both in `names` order."""
    return _counts(_encode(y_true, names), _encode(y_pred, names), len(names)).astype(int).tolist()


def per_class(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, gold support and predicted count of every label in `names` (0.0 where undefined)."""
    cm = np.asarray(confusion(y_true, y_pred, names), dtype=float)
    tp, gold, pred = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    out = {}
    for k, name in enumerate(names):
        out[name] = {
            "precision": float(tp[k] / pred[k]) if pred[k] else 0.0,
            "recall": float(tp[k] / gold[k]) if gold[k] else 0.0,
            "f1": float(2 * tp[k] / (gold[k] + pred[k])) if gold[k] + pred[k] else 0.0,
            "support": int(gold[k]),
            "predicted": int(pred[k]),
        }
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval."""

    point: float
    low: float
    high: float
    confidence: float = 0.95

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.point:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class PairedTest:
    """Difference `metric(A) - metric(B)` on the same items, its interval (bootstrap only) and p-value."""

    method: str
    metric: str
    score_a: float
    score_b: float
    delta: float
    p_value: float
    low: float | None
    high: float | None
    n_items: int
    n_units: int
    rounds: int
    exact: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# --- confusion-count core --------------------------------------------------------------------------------


def _encode(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    index = {n: i for i, n in enumerate(names)}
    try:
        return np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
    except KeyError as e:
        raise ValueError(f"label {e.args[0]!r} is not one of {list(names)}") from None


def _counts(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k).astype(float)


def _unit_counts(gold: np.ndarray, pred: np.ndarray, units: np.ndarray, n_units: int, k: int) -> np.ndarray:
    """Flattened confusion counts per resampling unit: shape (n_units, k*k)."""
    cells = units * (k * k) + gold * k + pred
    return np.bincount(cells, minlength=n_units * k * k).reshape(n_units, k * k).astype(float)


def _scores(cm: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics from a batch of flattened confusion matrices (rows, k*k) -> {metric: (rows,)}."""
    k = len(names)
    cm = cm.reshape(-1, k, k)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = cm.sum(axis=2) + cm.sum(axis=1)  # gold + predicted per label
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        total = cm.sum(axis=(1, 2))
        acc = np.where(total > 0, tp.sum(axis=1) / np.where(total > 0, total, 1), 0.0)
    # macro over the labels present in each (resampled) gold set, as `macro_f1` does on the full set: a label
    # a resample happens to miss has no F1 to average, rather than an F1 of zero
    present = cm.sum(axis=2) > 0
    macro = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    out = {"accuracy": acc, "macro_f1": macro}
    pos = [names.index(x) for x in (SUPPORT, OPPOSE) if x in names]
    out["f_avg"] = f1[:, pos].sum(axis=1) / 2 if pos else np.zeros(len(cm))
    for i, name in enumerate(names):
        out[f"f1_{name}"] = f1[:, i]
    return out


def _units(groups: Sequence[object] | None, n: int) -> tuple[np.ndarray, int]:
    """Resampling unit of each item: its cluster (first-seen order) or the item itself."""
    if groups is None:
        return np.arange(n), n
    if len(groups) != n:
        raise ValueError(f"{n} items but {len(groups)} group ids")
    index: dict[object, int] = {}
    units = np.fromiter((index.setdefault(g, len(index)) for g in groups), dtype=np.int64, count=n)
    return units, len(index)


def _prepare(y_true: Sequence[str], preds: Sequence[Sequence[str]], names: Sequence[str],
             groups: Sequence[object] | None) -> tuple[list[np.ndarray], int]:
    names = list(names)
    n = len(y_true)
    if n == 0:
        raise ValueError("no items to score")
    for p in preds:
        if len(p) != n:
            raise ValueError(f"{n} gold labels but {len(p)} predictions")
    gold = _encode(y_true, names)
    units, n_units = _units(groups, n)
    per_unit = [_unit_counts(gold, _encode(p, names), units, n_units, len(names)) for p in preds]
    return per_unit, n_units


def _resample_weights(rng: np.random.Generator, rows: int, n_units: int) -> np.ndarray:
    """How often each unit is drawn in each of `rows` bootstrap samples of size n_units (with replacement)."""
    draws = rng.integers(0, n_units, size=(rows, n_units)) + (np.arange(rows) * n_units)[:, None]
    return np.bincount(draws.ravel(), minlength=rows * n_units).reshape(rows, n_units).astype(float)


def _chunks(total: int, n_units: int) -> list[int]:
    size = max(1, _CHUNK_CELLS // max(n_units, 1))
    return [min(size, total - start) for start in range(0, total, size)]


def bootstrap_intervals(
    y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str], groups: Sequence[object] | None = None,
    n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0, metrics: Sequence[str] = METRICS,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of `metrics` (macro_f1, f_avg, accuracy, f1_<label>).

    With `groups` (e.g. article ids) whole groups are resampled (cluster bootstrap), which keeps the
    dependence between statements of one article; without, single items are. Deterministic for a seed.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    names = list(names)
    (counts,), n_units = _prepare(y_true, [y_pred], names, groups)
    point = _scores(counts.sum(axis=0, keepdims=True), names)
    unknown = [m for m in metrics if m not in point]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {sorted(point)}")
    rng = np.random.default_rng(seed)
    samples: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for rows in _chunks(n_resamples, n_units):
        scores = _scores(_resample_weights(rng, rows, n_units) @ counts, names)
        for m in metrics:
            samples[m].append(scores[m])
    tail = (1 - confidence) / 2
    out = {}
    for m in metrics:
        low, high = np.quantile(np.concatenate(samples[m]), [tail, 1 - tail])
        out[m] = Interval(float(point[m][0]), float(low), float(high), confidence)
    return out


def paired_bootstrap(
    y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str], names: Sequence[str],
    groups: Sequence[object] | None = None, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
    metric: str = "macro_f1",
) -> PairedTest:
    """Paired bootstrap of metric(A) - metric(B): both systems scored on the same resamples.

    The p-value is two-sided, from the resampled differences shifted to the null (delta 0):
    share of |delta_b - delta| >= |delta|, with the +1 correction of a Monte Carlo test.
    """
    names = list(names)
    (ca, cb), n_units = _prepare(y_true, [pred_a, pred_b], names, groups)
    sa = float(_scores(ca.sum(axis=0, keepdims=True), names)[metric][0])
    sb = float(_scores(cb.sum(axis=0, keepdims=True), names)[metric][0])
    delta = sa - sb
    rng = np.random.default_rng(seed)
    deltas = []
    for rows in _chunks(n_resamples, n_units):
        w = _resample_weights(rng, rows, n_units)
        deltas.append(_scores(w @ ca, names)[metric] - _scores(w @ cb, names)[metric])
    d = np.concatenate(deltas)
    tail = (1 - confidence) / 2
    low, high = np.quantile(d, [tail, 1 - tail])
    extreme = int(np.sum(np.abs(d - delta) >= abs(delta) - 1e-12))
    p = (extreme + 1) / (len(d) + 1)
    return PairedTest("paired_bootstrap", metric, sa, sb, delta, float(min(p, 1.0)), float(low), float(high),
                      len(y_true), n_units, n_resamples)


def approximate_randomisation(
    y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str], names: Sequence[str],
    groups: Sequence[object] | None = None, n_rounds: int = 10_000, seed: int = 0, metric: str = "macro_f1",
) -> PairedTest:
    """Approximate randomisation (Noreen 1989): swap A's and B's outputs per item (or per group) at random.

    Two-sided p = (#rounds with |delta'| >= |delta| + 1) / (rounds + 1). When 2**units <= n_rounds every
    swap pattern is enumerated instead and the p-value is exact.
    """
    names = list(names)
    (ca, cb), n_units = _prepare(y_true, [pred_a, pred_b], names, groups)
    total_a, total_b, diff = ca.sum(axis=0), cb.sum(axis=0), cb - ca
    sa = float(_scores(total_a[None], names)[metric][0])
    sb = float(_scores(total_b[None], names)[metric][0])
    delta = sa - sb
    exact = n_units <= 20 and 2**n_units <= n_rounds
    rng = np.random.default_rng(seed)
    if exact:
        masks = np.array(list(itertools.product((0.0, 1.0), repeat=n_units)))
        batches = [masks[i:i + 4096] for i in range(0, len(masks), 4096)]
    else:
        batches = [rng.integers(0, 2, size=(rows, n_units)).astype(float) for rows in _chunks(n_rounds, n_units)]
    extreme, rounds = 0, 0
    for swap in batches:
        moved = swap @ diff
        stat = _scores(total_a + moved, names)[metric] - _scores(total_b - moved, names)[metric]
        extreme += int(np.sum(np.abs(stat) >= abs(delta) - 1e-12))
        rounds += len(swap)
    p = extreme / rounds if exact else (extreme + 1) / (rounds + 1)
    return PairedTest("approximate_randomisation", metric, sa, sb, delta, float(p), None, None, len(y_true),
                      n_units, rounds, exact)


# --- calibration -----------------------------------------------------------------------------------------


def calibration_bins(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-width confidence bins: [low, high), count, mean confidence and accuracy (reliability diagram)."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        sel = which == b
        count = int(sel.sum())
        bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                     "confidence": float(conf[sel].mean()) if count else 0.0,
                     "accuracy": float(hit[sel].mean()) if count else 0.0})
    return bins


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: count-weighted mean |accuracy - confidence| over equal-width bins; 0.0 for empty input."""
    bins = calibration_bins(confidence, correct, n_bins)
    total = sum(b["count"] for b in bins)
    if not total:
        return 0.0
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / total)
