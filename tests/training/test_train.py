"""Each bundled config trained end to end through the CLI on fixtures, tracked in a temporary SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.training.conftest import unique
from training.cli import app

runner = CliRunner()
TINY = ["transformer.model=tests/fixtures/tiny_model", "transformer.random_init=true", "transformer.epochs=2",
        "transformer.batch_size=8", "transformer.max_length=48", "transformer.learning_rate=1e-3"]
CONFIGS = {
    "majority": [],
    "tfidf_logreg": ["sklearn.min_df=1", "sklearn.c_grid=[0.3, 3]"],
    "tiny": ["transformer.epochs=2", "transformer.class_weights=true"],
    # minilm.yaml runs through the same code with the tiny model swapped in (no real fine-tuning in tests)
    "minilm": TINY + ["data.input_form=pair", "transformer.pooling=cls", "transformer.early_stopping_patience=1"],
    # a head over the opening markers' states (training.pooling) with the word embeddings frozen
    "tiny:marker-pooling": ["transformer.pooling=markers", "transformer.freeze_embeddings=true"],
}
ARTIFACTS = {"evaluation/classification_report.txt", "evaluation/confusion_matrix.png",
             "evaluation/validation_predictions.parquet", "config/resolved.yaml"}


def train_cli(config: str, overrides: list[str], dataset: Path, uri: str, out: Path, registered: str,
              *extra: str) -> tuple[int, str, str]:
    sets = [a for o in [*overrides, f"output_dir={out}", f"tracking.registered_model={registered}"]
            for a in ("--set", o)]
    result = runner.invoke(app, ["train", "--config", config, "--dataset", str(dataset), "--tracking-uri", uri,
                                 "--quiet", *sets, *extra])
    return result.exit_code, result.stdout, result.stderr


def run_of(out: Path) -> str:
    return json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))["run_id"]


def assert_tracked(uri: str, run_id: str, config: str, registered: str, epochs: int, digest: str,
                   champion: bool = True) -> None:
    """Params, per-epoch metrics, dataset inputs with the build's digest, artifacts, registered (champion)."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["name"] == config and params["dataset.digest"] == digest and params["seed"] == "13"
    assert params["labels"] == "support,oppose,neutral"
    for metric in ("train_loss", "train_macro_f1", "train_accuracy", "validation_loss", "validation_macro_f1",
                   "validation_accuracy"):
        steps = sorted(m.step for m in client.get_metric_history(run_id, metric))
        assert steps == list(range(1, epochs + 1)), metric
    inputs = {(d.dataset.name, d.dataset.digest, d.tags[0].value) for d in run.inputs.dataset_inputs}
    short = digest.split(":", 1)[-1][:36]
    assert inputs == {("statements/train", short, "training"), ("statements/validation", short, "validation")}
    logged = {f.path for top in ("config", "evaluation") for f in client.list_artifacts(run_id, top)}
    assert logged >= ARTIFACTS and any(p.startswith("config/") and p.endswith(".yaml") and "resolved" not in p
                                       for p in logged)
    (version,) = client.search_model_versions(f"name = '{registered}' and run_id = '{run_id}'")
    assert float(version.tags["validation_macro_f1"]) == pytest.approx(run.data.metrics["model_validation_macro_f1"])
    assert version.tags["dataset_digest"] == digest
    if champion:
        assert str(client.get_model_version_by_alias(registered, "champion").version) == str(version.version)


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_train_each_config_end_to_end(config: str, statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                      request: pytest.FixtureRequest) -> None:
    from training.predict import load_predictor

    registered = unique("stance", request)
    name = config.split(":")[0]
    code, out, err = train_cli(name, CONFIGS[config], statements_dataset, tracking_uri, tmp_path / "run",
                               registered)
    assert code == 0, err
    assert "validation macro-F1" in out and "champion" in out and "moved to this version" in out
    run_id = run_of(tmp_path / "run")
    epochs = 1 if name in ("majority", "tfidf_logreg") else 2
    assert_tracked(tracking_uri, run_id, name, registered, epochs, "sha256:" + "ab" * 32)
    # the predictor API, from the local folder and from the registry alias, agree
    from datasets import load_from_disk

    test = load_from_disk(str(statements_dataset / "statements"))["test"]
    local = load_predictor(str(tmp_path / "run" / "latest" / "model"))
    remote = load_predictor(f"models:/{registered}@champion", tracking_uri)
    assert local.labels == remote.labels == ["support", "oppose", "neutral"]
    p_local, p_remote = local.predict_proba(test), remote.predict_proba(test.to_list())
    assert p_local.shape == (16, 3) and np.allclose(p_local.sum(axis=1), 1) and np.allclose(p_local, p_remote)
    # the logged validation predictions are the saved model's, row by row (ids, gold and probabilities)
    import mlflow
    import pandas as pd

    logged = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="evaluation/validation_predictions.parquet", tracking_uri=tracking_uri))
    validation = load_from_disk(str(statements_dataset / "statements"))["validation"]
    assert list(logged["id"]) == validation["id"]
    assert list(logged["gold"]) == [local.labels[i] for i in validation["stance"]]
    assert np.allclose(logged[["p_support", "p_oppose", "p_neutral"]].to_numpy(), local.predict_proba(validation),
                       atol=1e-5)


@pytest.mark.slow
def test_tfidf_learns_the_fixture(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                  request: pytest.FixtureRequest) -> None:
    """Not only runs: on this easy fixture the baseline beats the majority class on validation."""
    from training.config import load_config
    from training.run import train

    cfg, file = load_config("tfidf_logreg", ["sklearn.min_df=1", f"output_dir={tmp_path}",
                                             f"tracking.registered_model={unique('x', request)}"])
    summary = train(cfg, file, dataset=str(statements_dataset), tracking_uri=tracking_uri, progress=False)
    assert summary.metrics["validation_macro_f1"] > 0.8 and summary.extra["selected.C"] in cfg.sklearn.c_grid


# Run in a fresh interpreter, from another folder, with the project hidden (its editable-install finder and any
# path to the repository removed): the logged model must bring the code it imports (tracking.code_paths).
_LOAD_ALONE = """
import json, sys
from pathlib import Path
repo = Path(sys.argv[1]).resolve()
sys.meta_path = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path = [p for p in sys.path if p and Path(p).resolve() != repo]
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[2])
model = mlflow.pyfunc.load_model(sys.argv[3])
import corpus.codebook, training.inputs
rows = pd.DataFrame(json.loads(sys.argv[4]))
print(json.dumps({"labels": [str(v) for v in model.predict(rows)],
                  "from": [corpus.codebook.__file__, training.inputs.__file__]}))
"""


def load_alone(model_uri: str, tracking_uri: str, rows: list[dict[str, object]], cwd: Path) -> dict[str, list[str]]:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _LOAD_ALONE, str(repo), tracking_uri, model_uri, json.dumps(rows)],
                          cwd=cwd, capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_logged_model_loads_where_the_project_is_not_installed(statements_dataset: Path, tracking_uri: str,
                                                                  tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The registered model carries the training and corpus code it imports (never evaluation), not their data."""
    from datasets import load_from_disk

    from training.config import load_config
    from training.run import train

    registered = unique("alone", request)
    cfg, file = load_config("tfidf_logreg", ["sklearn.min_df=1", f"output_dir={tmp_path / 'run'}",
                                             f"tracking.registered_model={registered}"])
    train(cfg, file, dataset=str(statements_dataset), tracking_uri=tracking_uri, progress=False)
    rows = load_from_disk(str(statements_dataset / "statements"))["test"].select(range(4)).to_list()
    keep = ("context", "actor_mention", "policy_mention", "actor_label", "policy_label")
    out = load_alone(f"models:/{registered}@champion", tracking_uri, [{k: r[k] for k in keep} for r in rows],
                     tmp_path)
    assert len(out["labels"]) == 4 and set(out["labels"]) <= {"support", "oppose", "neutral"}
    repo = str(Path(__file__).resolve().parents[2])
    assert not any(f.startswith(repo) for f in out["from"]), out["from"]  # imported from the model's own code
    code = tmp_path / "run" / "latest" / "model" / "code"
    assert (code / "corpus" / "codebook.yaml").is_file() and (code / "training" / "predict.py").is_file()
    assert not (code / "evaluation").exists()
    assert not (code / "corpus" / "articles").exists() and not list(code.rglob("__pycache__"))

@pytest.mark.slow
def test_champion_moves_only_when_validation_macro_f1_beats_it(statements_dataset: Path, tracking_uri: str,
                                                                tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import mlflow

    from training import tracking

    name = unique("champ", request)
    code, _, err = train_cli("majority", [], statements_dataset, tracking_uri, tmp_path / "m", name)
    assert code == 0, err
    client = mlflow.MlflowClient(tracking_uri)
    first = client.get_model_version_by_alias(name, "champion")
    model_uri = json.loads((tmp_path / "m" / "latest" / "run.json").read_text())["model_uri"]
    score = float(first.tags["validation_macro_f1"])
    tracking.configure(tracking_uri)
    worse = tracking.register(model_uri, name, score - 0.1, "run-b")
    same = tracking.register(model_uri, name, score, "run-c")
    assert not worse.promoted and not same.promoted and worse.previous_score == pytest.approx(score)
    assert client.get_model_version_by_alias(name, "champion").version == first.version
    better = tracking.register(model_uri, name, score + 0.1, "run-d")
    assert better.promoted and str(client.get_model_version_by_alias(name, "champion").version) == better.version


@pytest.mark.slow
def test_predict_cli_on_a_split_and_a_file(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    import pandas as pd

    code, _, err = train_cli("tiny", ["transformer.epochs=1"], statements_dataset, tracking_uri, tmp_path / "run",
                             unique("p", request))
    assert code == 0, err
    model = str(tmp_path / "run" / "latest" / "model")
    result = runner.invoke(app, ["predict", f"{statements_dataset}:test", "--model", model,
                                 "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 0, result.stderr
    assert "16 rows" in result.stdout and "macro_f1" in result.stdout
    frame = pd.read_parquet(tmp_path / "p.parquet")
    assert list(frame.columns[-4:]) == ["predicted", "p_support", "p_oppose", "p_neutral"] and len(frame) == 16
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "text": "Donald Trump backs border security.", "actor": "Donald Trump", "policy": "border security"},
        {"id": "b", "text": "They rejected it.", "actor": "Mexico", "policy": "troops"}]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(rows), "--model", model, "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"] and all(abs(x["p_support"] + x["p_oppose"] + x["p_neutral"] - 1)
                                                          < 1e-6 for x in lines)


@pytest.mark.slow
def test_two_runs_of_one_config_keep_two_model_folders(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    """A second run never overwrites the first's folder: each printed path loads the model that run made."""
    from datasets import load_from_disk

    from training.predict import load_predictor

    name = unique("twice", request)
    folders = []
    for c in ("0.01", "100"):
        code, out, err = train_cli("tfidf_logreg", ["sklearn.min_df=1", f"sklearn.c_grid=[{c}]"],
                                   statements_dataset, tracking_uri, tmp_path / "runs", name)
        assert code == 0, err
        folder = Path(next(line.split(None, 2)[2] for line in out.splitlines() if line.startswith("model folder")))
        assert folder.parent.name == run_of(tmp_path / "runs") and folder.is_dir()
        folders.append(folder)
    assert folders[0] != folders[1] and all(f.is_dir() for f in folders)
    assert (tmp_path / "runs" / "latest").resolve() == folders[1].parent.resolve()
    test = load_from_disk(str(statements_dataset / "statements"))["test"]
    first, second = (load_predictor(str(f)).predict_proba(test) for f in folders)
    assert not np.allclose(first, second)  # C=0.01 and C=100 give different models, each kept in its folder
