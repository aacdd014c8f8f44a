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
                      row("a1", "", "The wall"), row("a1", "(unlisted)", "The wall"),
                      row("a1", "Trump", "(unlisted)")])
    assert keys[0] == keys[1] != keys[2]  # names compared without case or outer spaces; another article apart
    assert keys[3] != keys[0]  # an id wins over the name
    assert keys[4] is None and keys[5] is None  # no article, or a side missing: a group of its own
    assert keys[6] is None and keys[7] is None  # "not in the list" is no one entity


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


def test_a_detector_pools_only_the_stance_of_the_rows_it_detects() -> None:
    from training.consistency import pool_detected

    # support, oppose, none; threshold 0.5 on P(statement) = 1 - P(none)
    proba = np.array([[0.72, 0.08, 0.2], [0.3, 0.5, 0.2], [0.05, 0.15, 0.8], [0.1, 0.6, 0.3]])
    keys = ["g", "g", "g", "h"]
    out = pool_detected(proba, keys, 1.0, none_index=2, threshold=0.5)
    np.testing.assert_allclose(out[:, 2], proba[:, 2])  # P(none): every statement-or-none decision stays
    np.testing.assert_allclose(out[2:], proba[2:])  # below the threshold, or alone: unchanged
    # rows 0 and 1: the stance given a statement is the mean in log space of (0.9, 0.1) and (0.375, 0.625)
    given = np.exp((np.log([0.9, 0.1]) + np.log([0.375, 0.625])) / 2)
    np.testing.assert_allclose(out[0, :2], 0.8 * given / given.sum())
    np.testing.assert_allclose(out[1, :2], out[0, :2])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert np.array_equal(pool_detected(proba, keys, 0.0, 2, 0.5), proba)


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


def grouped(split: str, n: int) -> list[dict]:
    """`n` clear rows (statement_rows), each with two vague siblings ("X spoke about Y.") of the same article,
    actor, target and stance, so only pooling can get the siblings right."""
    rows = []
    for r in statement_rows(split, n):
        r["article_id"] = r["group"] = r["id"].rsplit("/", 2)[0] + "-" + r["id"].rsplit("/", 1)[1]
        rows.append(r)
        for k in range(2):
            context = f"{r['actor_mention']} spoke about {r['policy_mention']}."
            a0, p0 = context.index(r["actor_mention"]), context.index(r["policy_mention"])
            rows.append({**r, "id": f"{r['article_id']}/vague/{k}", "context": context,
                         "actor_context_start": a0, "actor_context_end": a0 + len(r["actor_mention"]),
                         "policy_context_start": p0, "policy_context_end": p0 + len(r["policy_mention"]),
                         "actor_start": None, "actor_end": None, "policy_start": None, "policy_end": None,
                         "context_start": None})
    return rows


@pytest.mark.slow
def test_a_trained_model_saves_its_weight_and_pools_at_prediction(tmp_path: Path, tracking_uri: str,
                                                                  request: pytest.FixtureRequest) -> None:
    """tfidf_logreg trained with data.pool_pairs: the weight chosen on validation (where vague rows have clear
    siblings) is logged, saved with the model and applied by the loaded predictor and the logged MLflow model
    over the rows of one call (and only there)."""
    import mlflow
    import pandas as pd

    from training.config import load_config
    from training.predict import load_predictor
    from training.run import train

    root = save_statements(tmp_path / "ds", {"train": statement_rows("train", 48), "validation": grouped("val", 16),
                                             "test": grouped("test", 16)})
    cfg, file = load_config("tfidf_logreg", ["sklearn.min_df=1", "sklearn.c_grid=[3.0]", "data.pool_pairs=true",
                                             f"output_dir={tmp_path / 'runs'}",
                                             f"tracking.registered_model={unique('pool', request)}"])
    summary = train(cfg, file, dataset=str(root), tracking_uri=tracking_uri, progress=False)
    weight = summary.metrics["pool_weight"]
    assert weight > 0 and summary.metrics["validation_macro_f1"] > summary.metrics["validation_macro_f1_unpooled"]
    predictor = load_predictor(str(summary.model_dir))
    assert predictor.model.pool_weight == weight
    rows = grouped("test", 16)
    pooled = predictor.predict_proba(rows)
    # the logged MLflow model (sklearn flavour: labels out) pools the same way: article and side ids are in its
    # signature, so MLflow passes them on
    mlflow.set_tracking_uri(tracking_uri)
    served = mlflow.pyfunc.load_model(summary.extra["model_uri"]).predict(pd.DataFrame(rows))
    labels = np.array(predictor.labels)
    assert list(served) == list(labels[pooled.argmax(axis=1)])
    predictor.model.pool_weight, temperature = 0.0, predictor.model.temperature
    predictor.model.temperature = 1.0
    alone = predictor.predict_proba(rows)
    predictor.model.pool_weight = weight
    np.testing.assert_allclose(predictor.predict_proba(rows), pool(alone, pair_keys(rows), weight), atol=1e-9)
    assert (labels[pooled.argmax(axis=1)] != labels[alone.argmax(axis=1)]).any()  # pooling changed answers
    # one row at a time has no siblings: pooling changes nothing
    np.testing.assert_allclose(np.vstack([predictor.predict_proba([r]) for r in rows]), alone, atol=1e-9)
    predictor.model.temperature = temperature
