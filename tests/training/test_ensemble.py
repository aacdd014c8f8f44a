"""`python -m training ensemble`: members averaged into one model folder, tracked and registered in a real store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.training.conftest import save_statements, statement_rows, unique
from training.cli import app

runner = CliRunner()


def _train(dataset: Path, tracking_uri: str, out: Path, c: float, registry: str) -> Path:
    from training.config import load_config
    from training.run import train

    cfg, file = load_config("tfidf_logreg", ["sklearn.min_df=1", f"sklearn.c_grid=[{c}]", "data.pool_pairs=false",
                                             f"output_dir={out}", f"tracking.registered_model={registry}"])
    return Path(train(cfg, file, dataset=str(dataset), tracking_uri=tracking_uri, progress=False).model_dir)


@pytest.fixture(scope="module")
def members(statements_dataset: Path, tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("members")
    return [_train(statements_dataset, tracking_uri, root / f"c{c}", c, "ensemble-members") for c in (0.1, 3.0)]


@pytest.mark.slow
def test_ensemble_averages_its_members_and_loads_from_the_registry(members: list[Path], statements_dataset: Path,
                                                                    tracking_uri: str, tmp_path: Path,
                                                                    request: pytest.FixtureRequest) -> None:
    from training.calibration import apply_temperature
    from training.ensemble import META_FILE
    from training.predict import load_predictor

    name = unique("ens", request)
    out = tmp_path / "ensemble"
    result = runner.invoke(app, ["ensemble", "--model", str(members[0]), "--model", str(members[1]), "--dataset",
                                 str(statements_dataset), "--out", str(out), "--tracking-uri", tracking_uri,
                                 "--registered-model", name, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "member 0  validation macro-F1" in result.output and "member 1" in result.output
    assert f"registered {name} version 1" in result.output
    meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    assert meta["members"] == ["members/0", "members/1"] and (out / "members" / "1" / "MLmodel").is_file()

    rows = statement_rows("test", 16)
    parts = [load_predictor(str(m)).predict_proba(rows) for m in members]
    ensemble = load_predictor(str(out))
    expected = apply_temperature((parts[0] + parts[1]) / 2, meta["temperature"])
    np.testing.assert_allclose(ensemble.predict_proba(rows), expected, atol=1e-9)
    import pandas as pd

    np.testing.assert_allclose(ensemble.predict_proba(pd.DataFrame(rows)), expected, atol=1e-9)  # pyfunc input
    # the copy stands alone: removing the members' own folders changes nothing
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    np.testing.assert_allclose(load_predictor(str(moved)).predict_proba(rows), expected, atol=1e-9)
    # registered like a trained model, and loaded back through MLflow (the pyfunc artifact is the folder)
    registered = load_predictor(f"models:/{name}/1", tracking_uri)
    np.testing.assert_allclose(registered.predict_proba(rows), expected, atol=1e-9)

    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    mv = client.get_model_version(name, "1")
    run = client.get_run(mv.run_id)
    assert run.data.params["kind"] == "ensemble" and run.data.params["member0"] == str(members[0])
    assert run.data.metrics["validation_macro_f1"] == pytest.approx(float(mv.tags["validation_macro_f1"]))
    assert "newsstance.dataset_lineage" in run.data.tags


@pytest.mark.slow
def test_ensemble_refuses_bad_members_with_the_reason(members: list[Path], statements_dataset: Path,
                                                      tracking_uri: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*models: str, out: Path | None = None, dataset: Path = statements_dataset) -> str:
        args = ["ensemble", "--dataset", str(dataset), "--out", str(out or tmp_path / "e"), "--tracking-uri",
                tracking_uri, "--no-register", "--quiet"]
        for m in models:
            args += ["--model", m]
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        return result.output

    one, two = str(members[0]), str(members[1])
    assert "at least two members" in run(one)
    assert "given twice" in run(one, one)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x", encoding="utf-8")
    assert "not empty" in run(one, two, out=busy)
    # a member trained on another dataset (its run.json says so)
    other = save_statements(tmp_path / "other", {"train": statement_rows("train", 48),
                                                 "validation": statement_rows("val", 16), "test": []},
                            digest="sha256:" + "cd" * 32)
    assert "members must be trained on the dataset" in run(one, two, dataset=other)
    # a detector is not a stance model
    import training.predict

    real = training.predict.load_predictor

    def fake(ref: str, tracking_uri: str | None = None):  # noqa: ANN202
        predictor = real(ref, tracking_uri)
        if ref == two:
            predictor.none_label = "none"
        return predictor

    monkeypatch.setattr(training.predict, "load_predictor", fake)
    assert "a detector" in run(one, two)


@pytest.mark.slow
def test_an_ensemble_file_pointing_outside_its_folder_is_refused(members: list[Path], statements_dataset: Path,
                                                                 tracking_uri: str, tmp_path: Path) -> None:
    from corpus.errors import InputError
    from training.ensemble import META_FILE, build_ensemble
    from training.predict import load_predictor

    out = tmp_path / "e"
    build_ensemble([str(m) for m in members], statements_dataset, out, tracking_uri=tracking_uri, register=False,
                   progress=False)
    meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    meta["members"][1] = "../../elsewhere"
    (out / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(InputError, match="leaves the ensemble folder"):
        load_predictor(str(out))
    (out / META_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable ensemble"):
        load_predictor(str(out))
