"""The stance-or-none detector: trained on a `candidates` config, threshold and temperature chosen on validation
and saved with the model, read back by the predictor; calibration on an over-confident fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus.codebook import load_codebook
from tests.training.conftest import POLICIES, save_statements, statement_rows, unique

NONE_TEMPLATES = ["{a} visited a school on Monday; {p} came up later in the news.",
                  "{a} arrived in town while others debated {p}.",
                  "Reporters followed {a}; separately, experts discussed {p}."]


def candidate_rows(split: str, n: int) -> list[dict[str, Any]]:
    """Statement rows (their stance) plus as many co-occurring pairs without a statement (`none`)."""
    names = load_codebook().detection_names
    rows = statement_rows(split, n)
    for r in rows:
        r["stance"] = names.index(load_codebook().stance_names[r["stance"]])
    negatives = []
    for i, base in enumerate(statement_rows(split, n)):
        policy = POLICIES[(i + 1) % len(POLICIES)]
        context = NONE_TEMPLATES[i % len(NONE_TEMPLATES)].format(a=base["actor_label"], p=policy[1].lower())
        a0, p0 = context.index(base["actor_label"]), context.index(policy[1].lower())
        negatives.append({**base, "id": f"{base['id']}/none", "policy_id": policy[0], "policy_label": policy[1],
                          "policy_mention": policy[1].lower(), "context": context, "stance": names.index("none"),
                          "actor_start": a0, "actor_end": a0 + len(base["actor_label"]), "context_start": 0,
                          "policy_start": p0, "policy_end": p0 + len(policy[1]),
                          "actor_context_start": a0, "actor_context_end": a0 + len(base["actor_label"]),
                          "policy_context_start": p0, "policy_context_end": p0 + len(policy[1])})
    return rows + negatives


@pytest.fixture(scope="module")
def candidates_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("candidates-dataset")
    splits = {"train": 48, "validation": 16, "test": 16}
    save_statements(root, {s: statement_rows(s, n) for s, n in splits.items()})
    cb = load_codebook()
    from datasets import ClassLabel, DatasetDict, load_from_disk

    stmts = load_from_disk(str(root / "statements"))
    features = stmts["train"].features.copy()
    features["stance"] = ClassLabel(names=cb.detection_names)
    from datasets import Dataset

    DatasetDict({s: Dataset.from_list(candidate_rows(s, n), features=features) for s, n in splits.items()}
                ).save_to_disk(str(root / "candidates"))
    return root


@pytest.mark.parametrize("config", ["detector_tfidf", "detector_tiny"])
def test_a_detector_learns_none_and_keeps_its_threshold(config: str, candidates_dataset: Path, tracking_uri: str,
                                                        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from training.config import load_config
    from training.predict import load_predictor
    from training.run import train

    sets = [f"output_dir={tmp_path}", f"tracking.registered_model={unique('det', request)}"]
    if config == "detector_tfidf":
        sets += ["sklearn.min_df=1", "sklearn.c_grid=[1.0, 10.0]", "data.pool_pairs=true"]
    cfg, file = load_config(config, sets)
    summary = train(cfg, file, dataset=str(candidates_dataset), tracking_uri=tracking_uri, progress=False)
    assert summary.registered and summary.version
    assert 0.05 <= summary.metrics["detection_threshold"] <= 0.95
    assert "validation_statement_f1" in summary.metrics and "validation_ece" in summary.metrics
    predictor = load_predictor(str(summary.model_dir))
    assert predictor.labels == load_codebook().detection_names
    assert predictor.none_label == "none"
    assert predictor.threshold == pytest.approx(summary.metrics["detection_threshold"])
    if config == "detector_tfidf":  # the fixture is learnable: most none pairs are found as none
        from training.detection import decide

        rows = candidate_rows("test", 16)
        decisions = decide(predictor.predict_proba(rows), predictor.labels, "none", predictor.threshold)
        gold = [load_codebook().detection_names[r["stance"]] for r in rows]
        right = sum(d.label == g for d, g in zip(decisions, gold, strict=True))
        assert right / len(rows) > 0.7
        # pair pooling of a detector: a weight chosen on validation statement F1, saved; P(none) never moves
        assert predictor.model.pool_weight == summary.metrics["pool_weight"]
        assert "validation_statement_f1_unpooled" in summary.metrics
        pooled = predictor.predict_proba(rows)
        predictor.model.pool_weight = 1.0
        np.testing.assert_allclose(predictor.predict_proba(rows)[:, -1], pooled[:, -1])


def test_a_stance_dataset_without_candidates_says_how_to_rebuild(tmp_path: Path, tracking_uri: str) -> None:
    from corpus.errors import InputError
    from training.config import load_config
    from training.run import train

    root = save_statements(tmp_path / "ds", {"train": statement_rows("train", 8),
                                             "validation": statement_rows("val", 4)})
    cfg, file = load_config("detector_tfidf", [f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(InputError, match="rebuild it with"):
        train(cfg, file, dataset=str(root), tracking_uri=tracking_uri, progress=False)


def test_temperature_lowers_ece_of_an_over_confident_model() -> None:
    from training.calibration import apply_temperature, expected_calibration_error, fit_temperature

    rng = np.random.default_rng(0)
    n = 2000
    gold = rng.integers(0, 2, n)
    # right 70% of the time, always 97% sure: over-confident
    predicted = np.where(rng.random(n) < 0.7, gold, 1 - gold)
    proba = np.full((n, 2), 0.03)
    proba[np.arange(n), predicted] = 0.97
    before = expected_calibration_error(proba, gold)
    t = fit_temperature(proba, gold)
    after = expected_calibration_error(apply_temperature(proba, t), gold)
    assert t > 1.5
    assert before > 0.2 and after < 0.05
    assert (apply_temperature(proba, t).argmax(1) == proba.argmax(1)).all()  # labels never change


def test_a_well_calibrated_model_keeps_temperature_one() -> None:
    from training.calibration import fit_temperature

    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 4000)
    gold = (rng.random(4000) < p).astype(int)
    t = fit_temperature(np.stack([1 - p, p], axis=1), gold)
    assert 0.85 < t < 1.15
