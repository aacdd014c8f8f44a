"""Metrics against hand-computed values, bootstrap coverage on known answers, and the paired tests."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import (
    Interval,
    accuracy,
    approximate_randomisation,
    bootstrap_intervals,
    calibration_bins,
    confusion,
    expected_calibration_error,
    f_avg,
    macro_f1,
    paired_bootstrap,
    per_class,
    present_labels,
)

NAMES = ["support", "oppose", "neutral"]
# Hand-worked fixture. Confusion (rows gold, cols predicted):  support [2 1 0], oppose [0 2 0], neutral [1 0 0]
GOLD = ["support", "support", "oppose", "oppose", "neutral", "support"]
PRED = ["support", "oppose", "oppose", "oppose", "support", "support"]


def test_confusion_by_hand() -> None:
    assert confusion(GOLD, PRED, NAMES) == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_per_class_by_hand() -> None:
    pc = per_class(GOLD, PRED, NAMES)
    assert pc["support"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3,
                                           "predicted": 3})
    assert pc["oppose"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2,
                                          "predicted": 3})
    assert pc["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}


def test_point_metrics_by_hand() -> None:
    assert macro_f1(GOLD, PRED, NAMES) == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    assert f_avg(GOLD, PRED) == pytest.approx((2 / 3 + 0.8) / 2)
    assert accuracy(GOLD, PRED) == pytest.approx(4 / 6)


def test_macro_runs_over_gold_present_labels_in_codebook_order() -> None:
    gold, pred = ["oppose", "support", "support"], ["oppose", "neutral", "support"]
    assert present_labels(gold, NAMES) == ["support", "oppose"]
    # support: tp1 gold2 pred1 -> 2/3; oppose: 1.0; a predicted-only neutral is an error, not a class
    assert macro_f1(gold, pred, NAMES) == pytest.approx((2 / 3 + 1.0) / 2)


def test_empty_input_scores_zero() -> None:
    assert macro_f1([], [], NAMES) == 0.0 and f_avg([], []) == 0.0 and accuracy([], []) == 0.0


def test_unknown_label_is_an_error() -> None:
    with pytest.raises(ValueError, match="'maybe'"):
        confusion(["support"], ["maybe"], NAMES)


def test_bootstrap_point_equals_the_plain_metrics() -> None:
    ci = bootstrap_intervals(GOLD * 5, PRED * 5, NAMES, n_resamples=200, seed=1,
                             metrics=("macro_f1", "f_avg", "accuracy", "f1_oppose"))
    assert ci["macro_f1"].point == pytest.approx(macro_f1(GOLD, PRED, NAMES))
    assert ci["f_avg"].point == pytest.approx(f_avg(GOLD, PRED))
    assert ci["accuracy"].point == pytest.approx(4 / 6)
    assert ci["f1_oppose"].point == pytest.approx(0.8)
    for iv in ci.values():
        assert iv.low <= iv.point <= iv.high


def test_bootstrap_is_deterministic_and_degenerate_when_perfect() -> None:
    a = bootstrap_intervals(GOLD * 4, PRED * 4, NAMES, n_resamples=300, seed=7)
    b = bootstrap_intervals(GOLD * 4, PRED * 4, NAMES, n_resamples=300, seed=7)
    assert a == b
    perfect = bootstrap_intervals(GOLD, GOLD, NAMES, n_resamples=100)
    assert perfect["accuracy"] == Interval(1.0, 1.0, 1.0)


def test_singleton_groups_equal_the_item_bootstrap() -> None:
    ids = [f"a{i}" for i in range(len(GOLD) * 3)]
    assert bootstrap_intervals(GOLD * 3, PRED * 3, NAMES, groups=ids, seed=3) == \
        bootstrap_intervals(GOLD * 3, PRED * 3, NAMES, seed=3)


def test_chunked_resampling_matches_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluation.metrics as m

    one = bootstrap_intervals(GOLD * 3, PRED * 3, NAMES, n_resamples=50, seed=5)
    monkeypatch.setattr(m, "_CHUNK_CELLS", 40)  # forces many small chunks from the same RNG stream
    assert bootstrap_intervals(GOLD * 3, PRED * 3, NAMES, n_resamples=50, seed=5) == one


def _simulate(rng: np.random.Generator, p: float, articles: int, per_article: int, spread: float):
    """Gold/pred for `articles` articles whose own accuracy p_a ~ Beta with mean p (spread 0: all equal p)."""
    if spread:
        a = p * (1 / spread - 1)
        pa = rng.beta(a, a * (1 - p) / p, size=articles)
    else:
        pa = np.full(articles, p)
    correct = rng.random((articles, per_article)) < pa[:, None]
    gold = ["support"] * (articles * per_article)
    pred = ["support" if c else "oppose" for c in correct.ravel()]
    groups = np.repeat(np.arange(articles), per_article)
    return gold, pred, groups


def test_bootstrap_covers_a_known_accuracy_about_95_percent_of_the_time() -> None:
    """Many datasets drawn with accuracy p: the 95% interval must cover p in ~95% of them."""
    rng, p, reps = np.random.default_rng(2024), 0.7, 300
    hits = 0
    for rep in range(reps):
        gold, pred, _ = _simulate(rng, p, articles=200, per_article=1, spread=0)
        iv = bootstrap_intervals(gold, pred, ["support", "oppose"], n_resamples=400, seed=rep,
                                 metrics=("accuracy",))["accuracy"]
        hits += iv.low <= p <= iv.high
    coverage = hits / reps
    assert 0.92 <= coverage <= 0.98, coverage  # binomial s.e. of a 95% rate over 300 runs is 0.013


def test_article_clustered_bootstrap_keeps_coverage_where_the_item_bootstrap_loses_it() -> None:
    """Statements of one article are correlated: only resampling articles covers the true accuracy."""
    rng, p, reps = np.random.default_rng(7), 0.7, 150
    clustered = naive = 0
    for rep in range(reps):
        gold, pred, groups = _simulate(rng, p, articles=60, per_article=8, spread=0.3)
        c = bootstrap_intervals(gold, pred, ["support", "oppose"], groups=groups, n_resamples=300, seed=rep,
                                metrics=("accuracy",))["accuracy"]
        n = bootstrap_intervals(gold, pred, ["support", "oppose"], n_resamples=300, seed=rep,
                                metrics=("accuracy",))["accuracy"]
        clustered += c.low <= p <= c.high
        naive += n.low <= p <= n.high
    assert 0.89 <= clustered / reps <= 0.99, clustered / reps  # seeded: 0.927 (s.e. of a 95% rate: 0.018)
    assert naive / reps < clustered / reps - 0.12, (naive / reps, clustered / reps)  # seeded: 0.753


def test_approximate_randomisation_exact_by_hand() -> None:
    # A right on all three, B right only on item 2 where both say oppose. Of the 8 swap patterns, the 4
    # that swap items 1 and 3 together (or neither) keep |delta| = 2/3; the others give 0. p = 4/8.
    gold = ["support", "oppose", "support"]
    a, b = ["support", "oppose", "support"], ["oppose", "oppose", "oppose"]
    t = approximate_randomisation(gold, a, b, ["support", "oppose"], metric="accuracy")
    assert t.exact and t.rounds == 8
    assert t.delta == pytest.approx(2 / 3)
    assert t.p_value == pytest.approx(0.5)


def test_approximate_randomisation_by_group_swaps_whole_articles() -> None:
    gold = ["support", "oppose", "support"]
    a, b = ["support", "oppose", "support"], ["oppose", "oppose", "oppose"]
    # items 1 and 3 in one article: only 2 units, 4 patterns; 2 keep |delta| = 2/3 -> p = 1/2 still,
    # and with all three in one article every pattern is the observed one or its mirror -> p = 1
    t = approximate_randomisation(gold, a, b, ["support", "oppose"], groups=["x", "x", "x"], metric="accuracy")
    assert t.n_units == 1 and t.p_value == pytest.approx(1.0)


def test_paired_tests_on_identical_and_on_clearly_different_systems() -> None:
    rng = np.random.default_rng(0)
    gold = list(rng.choice(NAMES, size=300))
    good = [g if rng.random() < 0.9 else "neutral" for g in gold]
    poor = list(rng.choice(NAMES, size=300))
    same = paired_bootstrap(gold, good, good, NAMES, n_resamples=500)
    assert same.delta == 0.0 and same.p_value == 1.0
    boot = paired_bootstrap(gold, good, poor, NAMES, n_resamples=500, seed=1)
    assert boot.delta == pytest.approx(macro_f1(gold, good, NAMES) - macro_f1(gold, poor, NAMES))
    assert boot.low <= boot.delta <= boot.high and boot.low > 0
    assert boot.p_value < 0.01
    ar = approximate_randomisation(gold, good, poor, NAMES, n_rounds=2000, seed=1)
    assert not ar.exact and ar.p_value < 0.01 and ar.delta == pytest.approx(boot.delta)
    assert approximate_randomisation(gold, good, good, NAMES, n_rounds=200).p_value == 1.0


def test_calibration_bins_and_ece_by_hand() -> None:
    conf = [0.95, 0.95, 0.55, 0.55]
    correct = [True, True, True, False]
    bins = calibration_bins(conf, correct, n_bins=10)
    assert bins[9]["count"] == 2 and bins[9]["accuracy"] == 1.0
    assert bins[5]["count"] == 2 and bins[5]["accuracy"] == 0.5
    # ECE = (2 * |1 - 0.95| + 2 * |0.5 - 0.55|) / 4 = 0.05
    assert expected_calibration_error(conf, correct, 10) == pytest.approx(0.05)
    assert calibration_bins([1.0], [True], 10)[9]["count"] == 1  # confidence 1.0 falls in the last bin


def test_a_label_missing_from_a_resample_is_not_scored_zero() -> None:
    """Perfect predictions score 1 in every resample, even those that happen to miss the one neutral item."""
    gold = ["support"] * 20 + ["oppose"] * 5 + ["neutral"]
    assert bootstrap_intervals(gold, gold, NAMES, n_resamples=300)["macro_f1"] == Interval(1.0, 1.0, 1.0)
