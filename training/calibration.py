"""Temperature scaling fitted on validation (Guo et al., 2017), and the expected calibration error it is judged by.

Works on class probabilities, so it serves every model kind: p_T = softmax(log p / T). One scalar per model,
saved with it and applied at prediction; the argmax (and so macro-F1) never changes, only what a confidence
means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_FLOOR = 1e-12
T_MIN, T_MAX = 0.05, 20.0


def apply_temperature(proba: np.ndarray, temperature: float | None) -> np.ndarray:
    """Probabilities rescaled by `temperature` (1 or None: unchanged); classes at 0 stay at 0."""
    proba = np.asarray(proba, dtype=float)
    if temperature is None or temperature == 1.0 or proba.size == 0:
        return proba
    logp = np.log(np.clip(proba, _FLOOR, 1.0)) / float(temperature)
    logp[proba <= 0] = -np.inf
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


def nll(proba: np.ndarray, gold: Sequence[int]) -> float:
    """Mean negative log-likelihood of the gold classes."""
    idx = np.asarray(gold, dtype=int)
    return float(-np.log(np.clip(np.asarray(proba)[np.arange(len(idx)), idx], _FLOOR, 1.0)).mean())


def fit_temperature(proba: np.ndarray, gold: Sequence[int]) -> float:
    """The temperature in [T_MIN, T_MAX] that minimises the validation NLL (bounded search over log T)."""
    from scipy.optimize import minimize_scalar

    if len(gold) == 0:
        return 1.0
    found = minimize_scalar(lambda t: nll(apply_temperature(proba, float(np.exp(t))), gold),
                            bounds=(np.log(T_MIN), np.log(T_MAX)), method="bounded", options={"xatol": 1e-4})
    best = float(np.exp(found.x))
    # keep 1.0 unless scaling really helps: a flat objective must not move a well-calibrated model
    return best if nll(apply_temperature(proba, best), gold) < nll(proba, gold) - 1e-6 else 1.0


def expected_calibration_error(proba: np.ndarray, gold: Sequence[int], bins: int = 15) -> float:
    """ECE of the top-class confidence over `bins` equal-width bins (weighted by the rows in each)."""
    proba = np.asarray(proba, dtype=float)
    if len(proba) == 0:
        return 0.0
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(gold, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)
