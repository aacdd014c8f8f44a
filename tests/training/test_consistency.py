"""Pair pooling (training.consistency): the rows of one article, actor and target share evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import save_statements, statement_rows, unique
from training.consistency import fit_weight, pair_keys, pool


def row(article: str | None, actor: str, policy: str, **more: str) -> dict[str, str | None]:
    return {"article_id": article, "actor_label": actor, "policy_label": policy, **more}


def test_pair_keys_group_by_article_actor_and_target_ids_first() -> None:
    keys = pair_keys([row("a1", "Trump", "The wall"), row("a1", "trump ", "the wall"), row("a2", "Trump", "The wall"),
                      row("a1", "Trump", "The wall", actor_id="x"), row(None, "Trump", "The wall"),
                      row("a1", "", "The wall")])
    assert keys[0] == keys[1] != keys[2]  # names compared without case or outer spaces; another article apart
    assert keys[3] != keys[0]  # an id wins over the name
    assert keys[4] is None and keys[5] is None  # no article, or a side missing: a group of its own


def test_pool_mixes_log_probabilities_within_a_group_only() -> None:
    proba = np.array([[0.9, 0.1, 0.0], [0.4, 0.6, 0.0], [0.2, 0.8, 0.0], [0.3, 0.7, 0.0]])
    keys = ["g", "g", "h", None]
    assert np.array_equal(pool(proba, keys, 0.0), proba) and np.array_equal(pool(proba, keys, None), proba)
    full = pool(proba, keys, 1.0)
    # by hand: the mean log-probability of rows 0 and 1, renormalised
    mean = np.exp((np.log([0.9, 0.1]) + np.log([0.4, 0.6])) / 2)
    np.testing.assert_allclose(full[0, :2], mean / mean.sum())
    np.testing.assert_allclose(full[0], full[1])
    np.testing.assert_allclose(full[2:], proba[2:])  # alone in its group, or no group: unchanged
    assert (full[:, 2] == 0).all()  # a class at 0 stays at 0
    half = pool(proba, keys, 0.5)
    assert full[1, 0] > half[1, 0] > proba[1, 0]  # row 1 moves toward its sibling's support, more with the weight
    np.testing.assert_allclose(half.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="3 keys for 4 rows"):
        pool(proba, keys[:3], 0.5)


def test_fit_weight_switches_pooling_on_only_where_it_helps() -> None:
    gold = np.array([0, 0, 0, 1, 1, 1])
    # two groups of three: one row of each is wrong but unsure, its siblings right and sure
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.45, 0.55], [0.2, 0.8], [0.1, 0.9], [0.55, 0.45]])
    keys = ["a", "a", "a", "b", "b", "b"]

    def accuracy(p: np.ndarray) -> float:
        return float((p.argmax(axis=1) == gold).mean())

    weight, tried = fit_weight(proba, keys, accuracy)
    assert tried[0.0] == pytest.approx(4 / 6) and weight > 0 and tried[weight] == 1.0
    assert weight == min(w for w, s in tried.items() if s == 1.0)  # ties go to the smallest weight
    # nothing to pool (every row alone): the weight stays 0
    assert fit_weight(proba, [None] * 6, accuracy)[0] == 0.0


@pytest.mark.slow
def test_a_trained_model_saves_its_weight_and_pools_at_prediction(tmp_path: Path, tracking_uri: str,
                                                                  request: pytest.FixtureRequest) -> None:
    """tfidf_logreg trained with data.pool_pairs: the weight chosen on validation is logged, saved with the model
    and applied by the loaded predictor over the rows of one call (and only there)."""
    from training.config import load_config
    from training.predict import load_predictor
    from training.run import train

    def grouped(split: str, n: int) -> list[dict]:
        rows = statement_rows(split, n)
        for i, r in enumerate(rows):  # rows i and i+6 share actor and target: put them in one article
            r["article_id"] = r["group"] = f"{split}-article-{i % 6}"
            r["id"] = f"{r['article_id']}/gold/{i}"
        return rows

    root = save_statements(tmp_path / "ds", {"train": statement_rows("train", 48), "validation": grouped("val", 24),
                                             "test": grouped("test", 24)})
    cfg, file = load_config("tfidf_logreg", ["sklearn.min_df=1", "sklearn.c_grid=[0.3]", "data.pool_pairs=true",
                                             f"output_dir={tmp_path / 'runs'}",
                                             f"tracking.registered_model={unique('pool', request)}"])
    summary = train(cfg, file, dataset=str(root), tracking_uri=tracking_uri, progress=False)
    weight = summary.metrics["pool_weight"]
    assert weight in (0.0, 0.25, 0.5, 0.75, 1.0) and "validation_macro_f1_unpooled" in summary.metrics
    predictor = load_predictor(str(summary.model_dir))
    assert predictor.model.pool_weight == weight
    rows = grouped("test", 24)
    pooled = predictor.predict_proba(rows)
    predictor.model.pool_weight, predictor.model.temperature = 0.0, 1.0
    alone = predictor.predict_proba(rows)
    predictor.model.pool_weight = 1.0
    np.testing.assert_allclose(predictor.predict_proba(rows), pool(alone, pair_keys(rows), 1.0), atol=1e-9)
    # one row at a time has no siblings: pooling changes nothing
    np.testing.assert_allclose(np.vstack([predictor.predict_proba([r]) for r in rows]), alone, atol=1e-9)
    if weight == 0.0 and summary.metrics["temperature"] == 1.0:
        np.testing.assert_allclose(pooled, alone)
