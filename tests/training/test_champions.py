"""Champions scoped to their data: two datasets in one store each keep their own champion, and a model evaluated
on another dataset than it was trained on is refused (or, when allowed, flagged) naming both."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.errors import InputError
from training.cli import app

runner = CliRunner()
REGISTERED = "two-tables"


def _table(path: Path, favour: float, seed: int) -> Path:
    """A stance table of 80 rows (train 48, dev 16, test 16) where `favour` of the rows are FAVOR."""
    import random

    rng = random.Random(seed)
    targets = ["border wall", "tariffs on steel", "troops at the border", "a new trade deal"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "target", "stance", "story", "split"])
        for i in range(80):
            label = "FAVOR" if rng.random() < favour else "AGAINST"
            target = targets[i % len(targets)]
            verb = "backs" if label == "FAVOR" else "rejects"
            split = "train" if i < 48 else "dev" if i < 64 else "test"
            w.writerow([f"Speaker {i} {verb} {target} in statement number {i} of {path.stem}.", target, label,
                        f"{path.stem}-s{i // 4}", split])
    return path


def _dataset(tmp: Path, name: str, favour: float, seed: int) -> Path:
    from corpus.build import BuildOptions, build_dataset
    from corpus.importers.table import Columns, import_table

    table = _table(tmp / f"{name}.csv", favour, seed)
    import_table(table, tmp / name, Columns("text", "target", "stance", group="story", split="split"),
                 {"FAVOR": "support", "AGAINST": "oppose"})
    build_dataset(BuildOptions(out=tmp / f"ds-{name}", sources=[tmp / name]))
    return tmp / f"ds-{name}"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("champions")
    return {"uri": f"sqlite:///{tmp / 'mlflow.db'}", "tmp": tmp,
            "a": _dataset(tmp, "table-alpha", 0.7, 1), "b": _dataset(tmp, "table-beta", 0.5, 2)}


def _train(two: dict, which: str, config: str = "majority", *sets: str) -> str:
    args = ["train", "--config", config, "--dataset", str(two[which]), "--tracking-uri", two["uri"], "--quiet",
            "--set", f"output_dir={two['tmp'] / 'runs' / config}", "--set", f"tracking.registered_model={REGISTERED}"]
    for s in sets:
        args += ["--set", s]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_each_dataset_keeps_its_own_champion(two: dict) -> None:
    import mlflow

    from training.lineage import dataset_lineage

    a, b = dataset_lineage(two["a"]), dataset_lineage(two["b"])
    assert a.key != b.key and a.slug.startswith("table-alpha-") and b.slug.startswith("table-beta-")
    first_a = _train(two, "a")
    assert "moved to this version" in first_a and f"judged on dataset {a.slug}" in first_a
    assert f"models:/{REGISTERED}@{a.alias}" in first_a
    first_b = _train(two, "b")  # another dataset: its own first champion, whatever A's score
    assert "moved to this version" in first_b and f"judged on dataset {b.slug}" in first_b
    client = mlflow.MlflowClient(two["uri"])
    va, vb = (client.get_model_version_by_alias(REGISTERED, x.alias) for x in (a, b))
    assert va.version != vb.version
    assert va.tags["newsstance.dataset_lineage"] == a.key and vb.tags["newsstance.dataset_lineage"] == b.key
    assert va.tags["newsstance.codebook_version"] and "table-alpha" in va.tags["newsstance.dataset_sources"]
    # a later run on A competes with A's champion only: its score is compared with A's, not B's
    again = _train(two, "a", "tfidf_logreg", "sklearn.min_df=1", "sklearn.c_grid=[1.0]")
    score_a = float(va.tags["validation_macro_f1"])
    assert f"judged on dataset {a.slug}" in again
    if "kept" in again:
        assert f"validation score {score_a:.4f}" in again
    assert client.get_model_version_by_alias(REGISTERED, b.alias).version == vb.version  # B's untouched


def test_evaluating_one_datasets_champion_on_the_other_is_refused_naming_both(two: dict) -> None:
    from evaluation.evaluate import EvaluateSettings, evaluate
    from training.lineage import dataset_lineage

    a, b = dataset_lineage(two["a"]), dataset_lineage(two["b"])
    if not list((two["tmp"] / "runs").glob("*/latest")):
        _train(two, "a")
        _train(two, "b")
    fast = EvaluateSettings(n_resamples=50)
    with pytest.raises(InputError) as err:
        evaluate(two["b"], "test", two["tmp"] / "e1", model=f"models:/{REGISTERED}@{a.alias}",
                 tracking_uri=two["uri"], settings=fast, track=False)
    message = str(err.value)
    assert a.slug in message and b.slug in message and "--allow-other-dataset" in message
    assert not (two["tmp"] / "e1").exists()
    allowed = evaluate(two["b"], "test", two["tmp"] / "e2", model=f"models:/{REGISTERED}@{a.alias}",
                       tracking_uri=two["uri"], settings=fast, track=False, allow_other_dataset=True)
    assert allowed["lineage_match"] is False and allowed["training_dataset"]["key"] == a.key
    report = (two["tmp"] / "e2" / "report.md").read_text(encoding="utf-8")
    assert "WARNING: the model was trained on dataset" in report and "ANOTHER DATASET" in report
    # the plain alias means "this dataset's champion": on A it scores A's champion, stated in the report
    own = evaluate(two["a"], "test", two["tmp"] / "e3", model=f"models:/{REGISTERED}@champion",
                   tracking_uri=two["uri"], settings=fast, track=False)
    assert own["model"] == f"models:/{REGISTERED}@{a.alias}" and own["lineage_match"] is True
    assert f"Model trained on: {a.slug}" in (two["tmp"] / "e3" / "report.md").read_text(encoding="utf-8")


def test_the_evaluate_cli_refuses_in_one_line(two: dict) -> None:
    from evaluation.cli import app as eval_app
    from training.lineage import dataset_lineage

    a = dataset_lineage(two["a"])
    if not list((two["tmp"] / "runs").glob("*/latest")):
        _train(two, "a")
    result = runner.invoke(eval_app, ["evaluate", "--model", f"models:/{REGISTERED}@{a.alias}", "--dataset",
                                      str(two["b"]), "--out", str(two["tmp"] / "e4"), "--tracking-uri", two["uri"],
                                      "--no-track", "--quiet", "--resamples", "50"])
    assert result.exit_code != 0
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--allow-other-dataset" in lines[0]


def test_evaluating_a_registered_model_prints_no_download_bars(two: dict) -> None:
    import os
    import subprocess
    import sys

    if not list((two["tmp"] / "runs").glob("*/latest")):
        _train(two, "a")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"}
    done = subprocess.run([sys.executable, "-m", "evaluation", "evaluate", "--model", f"models:/{REGISTERED}@champion",
                           "--dataset", str(two["a"]), "--out", str(two["tmp"] / "e5"), "--tracking-uri", two["uri"],
                           "--no-track", "--resamples", "50"], capture_output=True, text=True, timeout=300,
                          env={**env, "MLFLOW_DISABLE_TELEMETRY": "true"}, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Downloading artifacts" not in done.stdout + done.stderr and "%|" not in done.stderr
    assert "macro-F1" in done.stdout


def test_two_tables_imported_into_folders_of_one_name_are_two_lineages(tmp_path: Path) -> None:
    from corpus.build import BuildOptions, build_dataset
    from corpus.importers.table import Columns, import_table
    from training.lineage import dataset_lineage

    lineages = []
    for table in ("first.csv", "second.csv", "first.csv"):  # the last: the first table imported again
        run = tmp_path / str(len(lineages))
        run.mkdir()
        _table(run / table, 0.6, len(lineages))
        import_table(run / table, run / "imported", Columns("text", "target", "stance", group="story",
                                                            split="split"), {"FAVOR": "support", "AGAINST": "oppose"})
        build_dataset(BuildOptions(out=run / "ds", sources=[run / "imported"]))
        lineages.append(dataset_lineage(run / "ds"))
    first, second, again = lineages
    assert second.key != first.key and "origin:table:second.csv" in second.sources  # same folder name, other table
    assert again.key == first.key  # the same source rebuilt: one lineage, its champion competes
