"""End to end through the real CLIs on fixtures: import the SEESAW-shaped fixture, build (with candidates), train
a detector registered in a temporary MLflow store, extract with it by its models:/ URI in both settings
(gold entities from the dataset's candidates; found entities from the article file), and score the extraction
against the test split's gold with `python -m evaluation extraction`; for the TF-IDF and the tiny random BERT
detector configs."""

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


@pytest.mark.parametrize("config", ["detector_tfidf", "detector_tiny"])
def test_build_train_extract_score(config: str, tmp_path: Path) -> None:
    from corpus.cli import app as corpus_app
    from training.cli import app as training_app

    imported, dataset = tmp_path / "seesaw", tmp_path / "dataset"
    _ok(corpus_app, ["import", "seesaw", str(mini_dir()), "--out", str(imported)])
    _ok(corpus_app, ["build", str(imported), "--out", str(dataset)])
    assert (dataset / "candidates" / "dataset_dict.json").is_file()

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sklearn = ["--set", "sklearn.min_df=1", "--set", "sklearn.c_grid=[1.0, 10.0]"] if config == "detector_tfidf" else []
    _ok(training_app, ["train", "--config", config, "--dataset", str(dataset), "--tracking-uri", uri, "--quiet",
                       "--set", f"output_dir={tmp_path / 'runs'}", "--set", "data.config=candidates",
                       "--set", "tracking.registered_model=e2e-detector", *sklearn])
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

    from evaluation.cli import app as evaluation_app

    report = tmp_path / "report"
    said = _ok(evaluation_app, ["extraction", "--pred", str(gold_out), "--pred", str(found_out), "--dataset",
                                str(dataset), "--split", "test", "--out", str(report), "--resamples", "50"])
    assert "gold-entities: statements P" in said and "found-entities: statements P" in said
    scored = json.loads((report / "extraction.json").read_text(encoding="utf-8"))
    test_gold = load_from_disk(str(dataset / "statements"))["test"]
    assert scored["gold_statements"] == len(test_gold) and scored["gold_articles"] == 1
    by_setting = {s["setting"]: s for s in scored["settings"]}
    g = by_setting["gold-entities"]["statements"]
    assert (g["predicted"], g["gold"]) == (len(gold["statements"]), len(test_gold))
    assert g["matched"] + g["false"] == g["predicted"] and g["matched"] + g["missed"] == g["gold"]
    assert by_setting["found-entities"]["statements"]["predicted"] == len(found["statements"])
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
