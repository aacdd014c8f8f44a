"""The uncertainty queue: per-pair uncertainty, task aggregation, ordering and the Label Studio tab."""

from __future__ import annotations

import math

import pytest

from annotation.queue import (
    QueueEntry,
    detection_uncertainty,
    order_queue,
    pair_uncertainty,
    prediction_score,
    queue_markdown,
    queue_tab,
    task_uncertainty,
)


@pytest.mark.parametrize("strategy", ["margin", "entropy", "least_confidence"])
def test_uniform_is_most_and_one_hot_least_uncertain(strategy: str) -> None:
    assert pair_uncertainty([1 / 3] * 3, strategy) == pytest.approx(1.0)
    assert pair_uncertainty([1.0, 0.0, 0.0], strategy) == pytest.approx(0.0)
    assert 0 < pair_uncertainty([0.6, 0.3, 0.1], strategy) < 1


def test_hand_computed_values() -> None:
    assert pair_uncertainty([0.6, 0.3, 0.1], "margin") == pytest.approx(0.7)
    h = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1)) / math.log(3)
    assert pair_uncertainty([0.6, 0.3, 0.1], "entropy") == pytest.approx(h)
    assert pair_uncertainty([0.6, 0.3, 0.1], "least_confidence") == pytest.approx(0.4 * 3 / 2)
    # Unnormalised scores are normalised first; order of classes does not matter.
    assert pair_uncertainty([1, 6, 3], "margin") == pytest.approx(0.7)


def test_task_aggregates_pairs_and_empty_task_is_certain() -> None:
    pairs = [[0.9, 0.05, 0.05], [0.5, 0.5, 0.0]]
    assert task_uncertainty(pairs, "margin", "max") == pytest.approx(1.0)
    assert task_uncertainty(pairs, "margin", "mean") == pytest.approx((0.15 + 1.0) / 2)
    assert task_uncertainty([], "margin") == 0.0
    assert prediction_score(0.25) == 0.75


def test_detection_uncertainty_peaks_at_the_threshold() -> None:
    assert detection_uncertainty(0.3, 0.3) == 1.0
    assert detection_uncertainty(1.0, 0.3) == pytest.approx(0.0)
    assert detection_uncertainty(0.0, 0.3) == pytest.approx(1 - 0.3 / 0.7)
    assert detection_uncertainty(0.65, 0.3) == pytest.approx(0.5)


def test_a_detectors_task_counts_detection_and_only_detected_pairs_stance() -> None:
    sure_stance, torn_stance = [0.9, 0.05, 0.05], [0.5, 0.5, 0.0]
    # a pair near the threshold is uncertain even with a sure stance
    assert task_uncertainty([sure_stance], "margin", "max", [0.52], 0.5) == pytest.approx(1 - 0.02 / 0.5)
    # a pair surely none: its torn stance does not count (no relation is pre-filled for it)
    assert task_uncertainty([torn_stance], "margin", "max", [0.02], 0.5) == pytest.approx(0.04)
    # a pair surely a statement: its stance uncertainty counts
    assert task_uncertainty([torn_stance], "margin", "max", [0.99], 0.5) == pytest.approx(1.0)
    assert task_uncertainty([sure_stance, torn_stance], "margin", "mean", [0.99, 0.02], 0.5) == pytest.approx(
        (max(0.15, 0.02) + 0.04) / 2)
    # no threshold (a stance model): stance uncertainty alone, as before
    assert task_uncertainty([torn_stance], "margin", "max", [0.02], None) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 P\\(statement\\) values for 2 pairs"):
        task_uncertainty([sure_stance, torn_stance], "margin", "max", [0.5], 0.5)


def test_bad_strategy_names_it() -> None:
    with pytest.raises(ValueError, match="bogus"):
        pair_uncertainty([0.5, 0.5], "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="median"):
        task_uncertainty([[0.5, 0.5]], "margin", "median")  # type: ignore[arg-type]


def test_order_most_uncertain_first_ties_by_pairs_then_id() -> None:
    entries = [QueueEntry(3, "c", 0.2, 1), QueueEntry(1, "a", 0.9, 2), QueueEntry(2, "b", 0.2, 4),
               QueueEntry(4, "d", 0.0, 0)]
    assert [e.task_id for e in order_queue(entries)] == [1, 2, 3, 4]
    assert [e.score for e in order_queue(entries)] == [pytest.approx(0.1), 0.8, 0.8, 1.0]
    table = queue_markdown(entries)
    assert table.splitlines()[2].startswith("| 1 | 1 | a | 0.900 | 2 |  |")
    assert queue_markdown([QueueEntry(9, "z", 0.5, 3, 1)]).splitlines()[2] == "| 1 | 9 | z | 0.500 | 3 | 1 |"


def test_queue_tab_orders_by_prediction_score() -> None:
    tab = queue_tab(7, "m-1")
    assert tab["project"] == 7
    assert tab["data"]["ordering"] == ["tasks:predictions_score"]
