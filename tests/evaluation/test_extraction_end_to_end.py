"""End to end through the real CLIs on fixtures: import the SEESAW-shaped fixture, build (with candidates), train
a TF-IDF detector registered in a temporary MLflow store, extract with it by its models:/ URI in both settings
(gold entities from the dataset's candidates; found entities from the article file), and score the extraction
against the test split's gold with `python -m evaluation extraction`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fixtures.seesaw_mini import mini_dir

pytestmark = pytest.mark.slow


def _ok(app: object, args: list[str]) -> str:
    res = CliRunner().invoke(app, args)  # type: ignore[arg-type]
    assert res.exit_code == 0, f"{args[0]}: {res.output}"
    return res.output


def _has_extraction_scorer() -> bool:
    from evaluation.cli import app

    return any(c.name == "extraction" or (c.callback and c.callback.__name__ == "extraction")
               for c in app.registered_commands)


def test_build_train_extract_score(tmp_path: Path) -> None:
    from corpus.cli import app as corpus_app
    from training.cli import app as training_app

    imported, dataset = tmp_path / "seesaw", tmp_path / "dataset"
    _ok(corpus_app, ["import", "seesaw", str(mini_dir()), "--out", str(imported)])
    _ok(corpus_app, ["build", str(imported), "--out", str(dataset)])
    assert (dataset / "candidates" / "dataset_dict.json").is_file()

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _ok(training_app, ["train", "--config", "detector_tfidf", "--dataset", str(dataset), "--tracking-uri", uri,
                       "--quiet", "--set", f"output_dir={tmp_path / 'runs'}", "--set", "data.config=candidates",
                       "--set", "tracking.registered_model=e2e-detector", "--set", "sklearn.min_df=1",
                       "--set", "sklearn.c_grid=[1.0, 10.0]"])
    model = "models:/e2e-detector/1"

    gold_out = tmp_path / "gold-entities.json"
    said = _ok(training_app, ["extract", "--gold-entities", str(dataset), "--split", "test", "--model", model,
                              "--tracking-uri", uri, "--out", str(gold_out)])
    assert "gold-entities, detector e2e-detector/1, threshold" in said
    gold = json.loads(gold_out.read_text(encoding="utf-8"))
    assert (gold["setting"], gold["model_kind"], gold["model_version"]) == ("gold-entities", "detector",
                                                                            "e2e-detector/1")
    assert 0.0 < gold["threshold"] < 1.0
    from datasets import load_from_disk

    candidates = load_from_disk(str(dataset / "candidates"))["test"]
    (article,) = gold["articles"]
    assert article["candidates"] == len(candidates) and article["statements"] <= article["detected"]
    assert len(gold["statements"]) == article["statements"]
    for st in gold["statements"]:
        assert st["p_statement"] >= gold["threshold"] and st["stance"] in ("support", "oppose", "neutral")

    found_out = tmp_path / "found-entities.json"
    test_file = imported / "articles" / f"{article['article_id']}.json"
    _ok(training_app, ["extract", str(test_file), "--model", model, "--tracking-uri", uri, "--out", str(found_out)])
    found = json.loads(found_out.read_text(encoding="utf-8"))
    assert found["setting"] == "found-entities" and found["tagger"] == "gazetteer"
    assert [a["article_id"] for a in found["articles"]] == [article["article_id"]]

    if not _has_extraction_scorer():
        pytest.skip("`python -m evaluation extraction` (issue 13 part A) is not in evaluation.cli yet")
    from evaluation.cli import app as evaluation_app

    for name, pred in (("gold", gold_out), ("found", found_out)):
        report = tmp_path / f"report-{name}"
        _ok(evaluation_app, ["extraction", "--pred", str(pred), "--dataset", str(dataset), "--split", "test",
                             "--out", str(report)])
        assert any(report.iterdir())
