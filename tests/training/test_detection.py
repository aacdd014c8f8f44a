"""The stance-or-none decision rule and the validation threshold, on hand-computed rows."""

from __future__ import annotations

import numpy as np
import pytest

from training.detection import choose_threshold, decide, statement_prf

LABELS = ["support", "oppose", "neutral", "none"]


def test_decide_drops_pairs_below_the_threshold_and_renormalises_the_stance() -> None:
    proba = np.array([[0.6, 0.2, 0.0, 0.2], [0.1, 0.1, 0.0, 0.8]])
    first, second = decide(proba, LABELS, "none", 0.5)
    assert first.label == "support"
    assert first.p_statement == pytest.approx(0.8)
    assert first.confidence == pytest.approx(0.8 * 0.75)  # P(statement) * P(support | statement)
    assert second.label == "none"
    assert second.confidence == pytest.approx(0.8)
    assert decide(proba, LABELS, "none", 0.15)[1].label in {"support", "oppose"}


def test_a_plain_stance_model_calls_every_pair_a_statement() -> None:
    (only,) = decide(np.array([[0.3, 0.7, 0.0]]), LABELS[:3], None)
    assert (only.label, only.p_statement) == ("oppose", 1.0)


def test_statement_prf_counts_wrong_stances_as_both_errors() -> None:
    gold = ["support", "none", "oppose", "oppose"]
    predicted = ["support", "support", "support", "none"]
    prf = statement_prf(gold, predicted, "none")
    assert prf["precision"] == pytest.approx(1 / 3)
    assert prf["recall"] == pytest.approx(1 / 3)


def test_choose_threshold_maximises_statement_f1() -> None:
    # Row 2 is a real statement with low P(statement): only a cut at or below 0.3 finds it, and no false
    # statement sits between 0.3 and 0.5, so the best cut is <= 0.3.
    proba = np.array([[0.9, 0.0, 0.0, 0.1], [0.25, 0.0, 0.0, 0.75], [0.0, 0.3, 0.0, 0.7], [0.1, 0.0, 0.0, 0.9]])
    gold = ["support", "none", "oppose", "none"]
    cut, prf = choose_threshold(proba, LABELS, gold, "none")
    assert 0.25 < cut <= 0.3
    assert prf["f1"] == pytest.approx(1.0)


class _Fixed:
    def __init__(self, labels: list[str], proba: list[list[float]], none_label: str | None = None,
                 threshold: float | None = None) -> None:
        self.labels, self.proba = labels, np.array(proba)
        self.none_label, self.threshold = none_label, threshold

    def predict_proba(self, rows: list) -> np.ndarray:
        return self.proba[: len(rows)]


def test_detect_then_polarity_takes_pairs_from_the_detector_and_stances_from_the_stance_model() -> None:
    from training.detection import DetectThenPolarity

    detector = _Fixed(LABELS, [[0.5, 0.1, 0.0, 0.4], [0.1, 0.1, 0.0, 0.8]], "none", 0.55)
    stance = _Fixed(LABELS[:3], [[0.2, 0.8, 0.0], [0.9, 0.1, 0.0]])
    both = DetectThenPolarity(detector, stance)
    assert (both.none_label, both.threshold, both.labels) == ("none", 0.55, LABELS)
    proba = both.predict_proba([{}, {}])
    assert proba[0] == pytest.approx([0.6 * 0.2, 0.6 * 0.8, 0.0, 0.4])
    first, second = decide(proba, both.labels, both.none_label, both.threshold)
    assert first.label == "oppose" and second.label == "none"  # the detector's pair, the stance model's polarity
    with pytest.raises(ValueError, match="not a detector"):
        DetectThenPolarity(stance, stance)
