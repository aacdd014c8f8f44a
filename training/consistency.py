"""Pair pooling: one actor's stance toward one target is read from all its statements in the article.

Within a news article an actor rarely changes position on a target (SEESAW: 58% of the statements share their
article, actor and target with another one, and 97.6% of those agree with their group's majority), while a single
sentence is often ambiguous. So a stance model's log-probabilities for a row are mixed with the mean over its
group, the rows with the same article, actor and target passed in the same call:

    log p'_i = (1 - w) log p_i + w mean_{j in group(i)} log p_j        (then renormalised)

`w` (0: off, each row alone; 1: one answer per group) is chosen on validation macro-F1 after selection and saved
with the model, like the temperature. Rows without an article id, or alone in their group, are unchanged; the
labels are read, never the gold.

A detector (stance-or-none) pools only its stance: among the rows it detects as statements (P(statement) at or
above its threshold), the distribution over the stances given a statement is pooled and P(none) is left as it
is, so whether a sentence holds a statement is still decided sentence by sentence; its weight is chosen on
validation statement F1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
_FLOOR = 1e-12


def _side(row: Mapping[str, Any], side: str) -> str:
    from corpus.importers.statements import UNLISTED

    if row.get(f"{side}_label") == UNLISTED:  # "not in the list": unnamed holders or targets, not one entity
        return ""
    for key in (f"{side}_id", f"{side}_label", f"{side}_mention", side):
        value = row.get(key)
        if value not in (None, ""):
            return str(value).strip().casefold()
    return ""


def pair_keys(rows: Iterable[Mapping[str, Any]]) -> list[str | None]:
    """Each row's group: (article, actor, target) by id where there is one, else by name; None (a group of its
    own) without an article id or either side, or where a side is the placeholder for an unnamed one."""
    keys: list[str | None] = []
    for row in rows:
        article, actor, policy = row.get("article_id"), _side(row, "actor"), _side(row, "policy")
        keys.append(None if article in (None, "") or not actor or not policy
                    else "\x1f".join((str(article), actor, policy)))
    return keys


def pool(proba: np.ndarray, keys: Sequence[str | None], weight: float | None) -> np.ndarray:
    """Probabilities mixed with their group's mean log-probability at `weight` (0 or None: unchanged); classes
    at 0 stay at 0."""
    proba = np.asarray(proba, dtype=float)
    if not weight or proba.size == 0:
        return proba
    if len(keys) != len(proba):
        raise ValueError(f"pair pooling: {len(keys)} keys for {len(proba)} rows")
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            groups.setdefault(key, []).append(i)
    logp = np.log(np.clip(proba, _FLOOR, 1.0))
    out = logp.copy()
    w = float(weight)
    for members in groups.values():
        if len(members) > 1:
            out[members] = (1.0 - w) * logp[members] + w * logp[members].mean(axis=0)
    out[proba <= 0] = -np.inf
    out -= out.max(axis=1, keepdims=True)
    result = np.exp(out)
    return result / result.sum(axis=1, keepdims=True)


def fit_weight(proba: np.ndarray, keys: Sequence[str | None], score: Callable[[np.ndarray], float],
               weights: Sequence[float] = WEIGHTS,
               pooled: Callable[[float], np.ndarray] | None = None) -> tuple[float, dict[float, float]]:
    """The weight with the best `score` (of pooled probabilities; validation macro-F1) and every weight's score;
    `pool(weight)` gives the pooled probabilities (default: `pool(proba, keys, weight)`; a detector's is
    `pool_detected`). Ties go to the smaller weight, so pooling is only switched on where it helps."""
    at = pooled or (lambda w: pool(proba, keys, w))
    found = {float(w): float(score(at(w))) for w in weights}
    best = max(found.items(), key=lambda kv: (round(kv[1], 12), -kv[0]))[0]
    return best, found


def pool_detected(proba: np.ndarray, keys: Sequence[str | None], weight: float | None, none_index: int,
                  threshold: float) -> np.ndarray:
    """Detector probabilities with the stance part of the rows detected as statements pooled among themselves
    (P(none), and so every decision statement-or-none, unchanged)."""
    proba = np.asarray(proba, dtype=float)
    if not weight or proba.size == 0:
        return proba
    stances = [j for j in range(proba.shape[1]) if j != none_index]
    p_statement = 1.0 - proba[:, none_index]
    detected = [k if p >= threshold else None for k, p in zip(keys, p_statement, strict=True)]
    given = proba[:, stances] / np.clip(p_statement, _FLOOR, None)[:, None]
    out = proba.copy()
    out[:, stances] = pool(given, detected, weight) * p_statement[:, None]
    return out


def apply_pooling(proba: np.ndarray, rows: Sequence[Mapping[str, Any]], weight: float | None, labels: Sequence[str],
                  none_label: str | None = None, threshold: float | None = None) -> np.ndarray:
    """A saved model's pooling over the rows of one prediction call: `pool` for a stance model, `pool_detected`
    for a detector (its none label and threshold, 0.5 where it has none)."""
    if not weight:
        return proba
    keys = pair_keys(rows)
    if none_label is None:
        return pool(proba, keys, weight)
    return pool_detected(proba, keys, weight, list(labels).index(none_label), 0.5 if threshold is None else threshold)
