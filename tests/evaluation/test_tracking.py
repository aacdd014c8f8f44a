"""Evaluation runs in a temporary MLflow store: linked to the training run, on the leaderboard, comparable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.errors import InputError
from evaluation.cli import app
from evaluation.compare import compare, leaderboard, leaderboard_markdown
from evaluation.evaluate import EvaluateSettings, evaluate
from tests.evaluation.conftest import FakePredictor

FAST = EvaluateSettings(n_resamples=200, top_errors=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> dict:
    """A SQLite tracking store holding one training run and two evaluations (one linked to it)."""
    from training import tracking as tt

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with tt.start_run(uri, "newsstance-stance", "train-fake") as train_run:
        tt.log_metrics({"validation_macro_f1": 0.5})
    good = evaluate(tiny_dataset, "test", root / "good", model=f"runs:/{train_run}/model", settings=FAST,
                    tracking_uri=uri, loader=lambda m: FakePredictor(skill=0.9, seed=1))
    poor = evaluate(tiny_dataset, "test", root / "poor", model="elsewhere/poor-model", settings=FAST,
                    tracking_uri=uri, loader=lambda m: FakePredictor(skill=0.3, seed=2))
    return {"uri": uri, "root": root, "train": train_run, "good": good, "poor": poor}


def test_evaluation_run_is_linked_to_its_training_run(store: dict) -> None:
    import mlflow

    good = store["good"]
    assert good["source_run_id"] == store["train"]
    client = mlflow.MlflowClient(store["uri"])
    run = client.get_run(good["mlflow"]["run_id"])
    assert run.data.tags["newsstance.run_type"] == "evaluation"
    assert run.data.tags["newsstance.source_run_id"] == store["train"]
    assert run.data.tags["mlflow.parentRunId"] == store["train"]  # nested under it in the UI
    assert run.info.experiment_id == client.get_run(store["train"]).info.experiment_id
    m = run.data.metrics
    assert m["test_macro_f1"] == pytest.approx(good["metrics"]["macro_f1"]["point"])
    assert m["test_macro_f1_ci_low"] <= m["test_macro_f1"] <= m["test_macro_f1_ci_high"]
    assert m["test_n"] == 48 and "test_f1_oppose" in m and "test_ece" in m
    assert run.data.params["split"] == "test" and run.data.params["bootstrap_unit"] == "group"
    by_target = {b["value"]: b for b in good["breakdowns"]["Target in the training split"]}
    assert by_target
    for seen, b in by_target.items():  # scores on targets seen / unseen in training are run metrics too
        key = "seen" if seen == "seen in train" else "unseen"
        assert m[f"test_macro_f1_target_{key}"] == pytest.approx(b["macro_f1"]["point"])
        assert m[f"test_n_target_{key}"] == b["n"]
    assert run.data.tags["newsstance.dataset_lineage"] == good["dataset_lineage"]["key"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "predictions.jsonl", "report.html", "report.md", "confusion_matrix.png"} <= artifacts
    # an evaluation without a known training run goes to the evaluation experiment
    poor = client.get_run(store["poor"]["mlflow"]["run_id"])
    assert client.get_experiment(poor.info.experiment_id).name == "newsstance-evaluation"
    assert "newsstance.source_run_id" not in poor.data.tags


def test_leaderboard_lists_runs_best_first(store: dict) -> None:
    rows = leaderboard(tracking_uri=store["uri"])
    assert [r["run_id"] for r in rows] == [store["good"]["mlflow"]["run_id"], store["poor"]["mlflow"]["run_id"]]
    assert rows[0]["macro_f1"]["point"] == pytest.approx(store["good"]["metrics"]["macro_f1"]["point"])
    assert rows[0]["source_run_id"] == store["train"] and rows[0]["trained_by"] == "train-fake"
    md = leaderboard_markdown(rows)
    assert md.count("\n| ") == 3 and "[" in md.splitlines()[4]
    assert leaderboard("newsstance-evaluation", tracking_uri=store["uri"])[0]["run_id"] == \
        store["poor"]["mlflow"]["run_id"]
    assert leaderboard(split="validation", tracking_uri=store["uri"]) == []
    with pytest.raises(InputError, match="no such MLflow experiment"):
        leaderboard("nope", tracking_uri=store["uri"])


def test_compare_runs_by_id_folder_and_training_run(store: dict) -> None:
    good_id, poor_id = store["good"]["mlflow"]["run_id"], store["poor"]["mlflow"]["run_id"]
    c = compare(good_id, poor_id, n_resamples=500, tracking_uri=store["uri"])
    boot, ar = c["tests"]
    assert c["n"] == 48 and c["unit"] == "group" and c["units"] == 12  # the group column evaluate wrote
    assert boot["delta"] == pytest.approx(store["good"]["metrics"]["macro_f1"]["point"]
                                          - store["poor"]["metrics"]["macro_f1"]["point"])
    assert boot["delta"] > 0 and boot["p_value"] < 0.05 and ar["p_value"] < 0.05
    # the training run resolves to the evaluation linked to it; folders work too
    via_train = compare(store["train"], str(store["root"] / "poor"), n_resamples=500, tracking_uri=store["uri"])
    assert via_train["tests"][0]["delta"] == pytest.approx(boot["delta"])
    with pytest.raises(InputError, match="not a predictions file, an evaluation output folder or an MLflow run id"):
        compare("no-such-thing", poor_id, tracking_uri=store["uri"])
    for unit, units in (("article", 12), ("statement", 48)):
        c = compare(good_id, poor_id, n_resamples=100, unit=unit, tracking_uri=store["uri"])
        assert (c["unit"], c["units"]) == (unit, units)
    with pytest.raises(InputError, match="--unit: must be one of auto, group, article, statement"):
        compare(good_id, poor_id, unit="story", tracking_uri=store["uri"])


def test_cli_leaderboard_and_compare(store: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["leaderboard", "--tracking-uri", store["uri"], "--out", str(tmp_path / "lb.md")])
    assert res.exit_code == 0, res.output
    assert "| 1 | runs:/" in res.output and "| train-fake |" in res.output and (tmp_path / "lb.md").read_text(encoding="utf-8") == res.output
    res = runner.invoke(app, ["compare", str(store["root"] / "good"), str(store["root"] / "poor"),
                              "--rounds", "300", "--json", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    assert "paired bootstrap" in res.output and "approximate randomisation" in res.output
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["n"] == 48


def test_unreachable_tracking_server_fails_before_predicting(tiny_dataset: Path, tmp_path: Path) -> None:
    called = []
    with pytest.raises(Exception, match="127.0.0.1:9"):
        evaluate(tiny_dataset, "test", tmp_path / "o", model="m", settings=FAST, tracking_uri="http://127.0.0.1:9",
                 loader=lambda m: called.append(m) or FakePredictor())
    assert not called and not (tmp_path / "o").exists()


def test_leaderboard_keeps_the_newest_evaluation_per_model(store: dict, tiny_dataset: Path) -> None:
    again = evaluate(tiny_dataset, "test", store["root"] / "poor-again", model="elsewhere/poor-model", settings=FAST,
                     tracking_uri=store["uri"], loader=lambda m: FakePredictor(skill=0.5, seed=3))
    rows = leaderboard(tracking_uri=store["uri"])
    assert len(rows) == 2 and again["mlflow"]["run_id"] in {r["run_id"] for r in rows}
    assert store["poor"]["mlflow"]["run_id"] not in {r["run_id"] for r in rows}
    assert len(leaderboard(tracking_uri=store["uri"], latest_only=False)) == 3


@pytest.mark.mlflow_server
def test_against_a_real_tracking_server(mlflow_server: str, tiny_dataset: Path, tmp_path: Path) -> None:
    """Evaluation runs logged over HTTP, artifacts proxied, then compared by run id and listed."""
    from evaluation.network import network
    from tests.evaluation.test_network import SEED_TASK

    a = evaluate(tiny_dataset, "test", tmp_path / "a", model="server/model-a", settings=FAST,
                 tracking_uri=mlflow_server, experiment="eval-server-test", loader=lambda m: FakePredictor(skill=0.9))
    b = evaluate(tiny_dataset, "test", tmp_path / "b", model="server/model-b", settings=FAST,
                 tracking_uri=mlflow_server, experiment="eval-server-test", loader=lambda m: FakePredictor(skill=0.2))
    c = compare(a["mlflow"]["run_id"], b["mlflow"]["run_id"], n_resamples=300, tracking_uri=mlflow_server)
    assert c["n"] == 48 and c["tests"][0]["delta"] > 0
    rows = leaderboard("eval-server-test", tracking_uri=mlflow_server)
    assert [r["model"] for r in rows] == ["server/model-a", "server/model-b"]
    s = network(SEED_TASK, tmp_path / "net", gold=SEED_TASK, tracking_uri=mlflow_server, experiment="eval-server-test")
    import mlflow

    run = mlflow.MlflowClient(mlflow_server).get_run(s["mlflow"]["run_id"])
    assert run.data.metrics["network_edge_f1"] == 1.0 and run.data.metrics["negative_edges"] == 1
