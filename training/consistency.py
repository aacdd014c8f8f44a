"""Pair pooling: one actor's stance toward one target is read from all its statements in the article.

Within a news article an actor rarely changes position on a target (SEESAW: 58% of the statements share their
article, actor and target with another one, and 97.6% of those agree with their group's majority), while a single
sentence is often ambiguous. So a stance model's log-probabilities for a row are mixed with the mean over its
group, the rows with the same article, actor and target passed in the same call:

    log p'_i = (1 - w) log p_i + w mean_{j in group(i)} log p_j        (then renormalised)

`w` (0: off, each row alone; 1: one answer per group) is chosen on validation macro-F1 after selection and saved
with the model, like the temperature. Rows without an article id, or alone in their group, are unchanged; the
labels are read, never the gold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
_FLOOR = 1e-12


def _side(row: Mapping[str, Any], side: str) -> str:
    for key in (f"{side}_id", f"{side}_label", f"{side}_mention", side):
        value = row.get(key)
        if value not in (None, ""):
            return str(value).strip().casefold()
    return ""


def pair_keys(rows: Iterable[Mapping[str, Any]]) -> list[str | None]:
    """Each row's group: (article, actor, target) by id where there is one, else by name; None (a group of its
    own) without an article id or either side."""
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
               weights: Sequence[float] = WEIGHTS) -> tuple[float, dict[float, float]]:
    """The weight with the best `score` (of pooled probabilities; validation macro-F1) and every weight's score.
    Ties go to the smaller weight, so pooling is only switched on where it helps."""
    found = {float(w): float(score(pool(proba, keys, w))) for w in weights}
    best = max(found.items(), key=lambda kv: (round(kv[1], 12), -kv[0]))[0]
    return best, found
