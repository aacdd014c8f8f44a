"""Integration: a real scikit-learn model trained by `training`, evaluated from the registry and from its folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.evaluate import EvaluateSettings, evaluate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    run = pytest.importorskip("training.run", reason="the training package is not available")
    config = pytest.importorskip("training.config", reason="the training package is not available")
    root = tmp_path_factory.mktemp("trained")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg, file = config.load_config("tfidf_logreg", [f"output_dir={root / 'run'}", "sklearn.min_df=1",
                                                    "sklearn.c_grid=[1.0]"])
    summary = run.train(cfg, file, dataset=str(tiny_dataset), tracking_uri=uri, progress=False)
    return {"uri": uri, "root": root, "summary": summary}


def test_registered_champion_is_evaluated_and_linked(trained: dict) -> None:
    import mlflow

    s = trained["summary"]
    out = trained["root"] / "eval-champion"
    r = evaluate(s.dataset, "test", out, model="models:/newsstance-stance@champion", tracking_uri=trained["uri"],
                 settings=EvaluateSettings(n_resamples=100))
    assert r["source_run_id"] == s.run_id and r["n"] == 48
    assert (r["model_config"], r["model_kind"]) == (s.config, s.kind)  # the report's title names them
    assert f"Stance evaluation: {s.config}" in (out / "report.md").read_text(encoding="utf-8").splitlines()[0]
    run = mlflow.MlflowClient(trained["uri"]).get_run(r["mlflow"]["run_id"])
    assert run.data.tags["mlflow.parentRunId"] == s.run_id
    assert run.data.metrics["test_macro_f1"] == pytest.approx(r["metrics"]["macro_f1"]["point"])
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(abs(sum(x["probabilities"].values()) - 1) < 1e-5 for x in rows)


def test_local_model_folder_finds_its_run(trained: dict) -> None:
    s = trained["summary"]
    r = evaluate(s.dataset, "validation", trained["root"] / "eval-folder", model=str(s.model_dir),
                 tracking_uri=trained["uri"], settings=EvaluateSettings(n_resamples=100))
    assert r["source_run_id"] == s.run_id
    # the validation scores agree with what training logged for the same split
    import mlflow

    logged = mlflow.MlflowClient(trained["uri"]).get_run(s.run_id).data.metrics["validation_macro_f1"]
    assert r["metrics"]["macro_f1"]["point"] == pytest.approx(logged)
