"""Pre-annotations: extraction -> Label Studio result, checked against the labelling config, uploaded.

Unit tests use a fake stance predictor (fixed probabilities); the integration test uploads to the real
Label Studio server of the session and reads the predictions back from the tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annotation.label_config import build_label_config
from annotation.prelabel import check_prediction, prediction_result, prelabel_project
from corpus.codebook import load_codebook
from corpus.store import CorpusStore
from training.extract import Extractor

SHORT = ("Sheinbaum rejects US troops\n\nMexican President Claudia Sheinbaum said Mexico would never accept "
         "the presence of the United States Army on our territory. Trump wants strikes on cartel targets.")


class FakePredictor:
    """Stance probabilities by the policy mention's first letter: varied, deterministic, no model."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        out = []
        for row in rows:
            k = ord(row["policy_mention"][0].lower()) % 3
            p = [0.2, 0.2, 0.2]
            p[k] = 0.6 if k else 0.45
            out.append(np.asarray(p) / sum(p))
        return np.asarray(out)


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    codebook = load_codebook()
    return Extractor(FakePredictor(codebook.stance_names), codebook, model_version="fake/1")


def test_prediction_result_has_spans_choices_relations_and_passes_the_config(extractor: Extractor) -> None:
    codebook = extractor.codebook
    text = CorpusStore().read_article("article-001").text
    (art,) = extractor.run([("article-001", text)])
    items, relations = prediction_result(art)
    spans = [i for i in items if i["type"] == "labels"]
    choices = [i for i in items if i["type"] == "choices"]
    rels = [i for i in items if i["type"] == "relation"]
    assert relations == len(rels) == len(art.statements) > 5
    assert len(spans) == len(art.mentions) and {c["id"] for c in choices} <= {s["id"] for s in spans}
    assert all(0 < i["score"] <= 1 for i in items)
    assert {r["labels"][0] for r in rels} <= set(codebook.stance_names)
    assert check_prediction(items, text, build_label_config(codebook)) == []


@pytest.mark.parametrize("damage, expected", [
    (lambda items: items[-1].update(labels=["maybe"]), "label 'maybe' not in the config"),
    (lambda items: items[0]["value"].update(text="nonsense"), "text does not match"),
    (lambda items: items[1]["value"].update(choices=["not_an_actor"]), "choice 'not_an_actor'"),
    (lambda items: items[-1].update(from_id=items[-1]["to_id"]), "must run from an Actor to a Policy"),
    (lambda items: items[-1].update(to_id="nowhere"), "a region is missing"),
])
def test_check_prediction_names_each_problem(extractor: Extractor, damage: Any, expected: str) -> None:
    (art,) = extractor.run([("short", SHORT)])
    items, _ = prediction_result(art)
    assert items[-1]["type"] == "relation" and items[1]["type"] == "choices"
    damage(items)
    problems = check_prediction(items, SHORT, build_label_config(extractor.codebook))
    assert any(expected in p for p in problems), problems


@pytest.mark.labelstudio
def test_prelabel_uploads_predictions_that_appear_on_the_tasks(label_studio: Any, extractor: Extractor) -> None:
    from annotation.client import Connection, LabelStudioClient

    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    codebook = extractor.codebook
    project = client.create_project("prelabel-unit", build_label_config(codebook), "guideline")
    seed = CorpusStore().read_article("article-001")
    ids = client.import_tasks(project["id"], [
        {"data": {"text": seed.text, "article_id": seed.id}},
        {"data": {"text": SHORT, "article_id": "short"}},
        {"data": {"text": SHORT, "article_id": "annotated"}},
    ])
    client.create_annotation(ids[2], [])  # an annotated task is never pre-labelled
    result = prelabel_project(client, extractor, "prelabel-unit", batch_size=2)
    assert (result.predictions, result.skipped_annotated, result.rejected) == (2, 1, [])
    tasks = {t["id"]: t for t in client.iter_tasks(project["id"], with_annotations=True)}
    for task_id in ids[:2]:
        (pred,) = tasks[task_id]["predictions"]
        types = {i["type"] for i in pred["result"]}
        assert {"labels", "choices", "relation"} <= types
        assert pred["model_version"] == "fake/1" and 0 <= pred["score"] <= 1
    assert tasks[ids[2]]["predictions"] == []
    # The queue: the most uncertain task has the lowest score; the project samples by uncertainty.
    scores = {e.task_id: e.score for e in result.queue}
    assert [e.task_id for e in result.queue] == sorted(scores, key=scores.get)
    settings = client.get_project(project["id"])
    assert settings["sampling"] == "Uncertainty sampling" and settings["model_version"] == "fake/1"
    (tab,) = [v for v in client.sdk.views.list(project=project["id"]) if v.data.get("title") == "Most uncertain first"]
    listed = [t.id for t in client.sdk.tasks.list(project=project["id"], view=tab.id).items]
    assert [i for i in listed if i in scores] == [e.task_id for e in result.queue]  # the tab shows the queue
    # A second pass adds nothing: the tasks already hold this model version's prediction.
    again = prelabel_project(client, extractor, "prelabel-unit")
    assert (again.predictions, again.skipped_predicted) == (0, 2)


def test_prelabel_cli_bad_model_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from annotation.cli import app

    res = CliRunner().invoke(app, ["prelabel", "--model", str(tmp_path / "no-model"), "--project", "x"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1] == f"error: {tmp_path / 'no-model'}: model path not found"


@pytest.mark.labelstudio
@pytest.mark.slow
def test_prelabel_cli_end_to_end(label_studio: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from annotation.cli import app
    from annotation.client import Connection, LabelStudioClient
    from tests.training.test_extract import _tiny_stance_model

    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    project = client.create_project("prelabel-cli", build_label_config(load_codebook()), "guideline")
    (task_id,) = client.import_tasks(project["id"], [{"data": {"text": SHORT, "article_id": "short"}}])
    model = _tiny_stance_model(tmp_path / "stance")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    res = CliRunner().invoke(app, ["prelabel", "--model", str(model), "--project", "prelabel-cli",
                                   "--url", label_studio.url])
    assert res.exit_code == 0, res.output
    assert "1 task(s) pre-labelled" in res.output and "| 1 | " in res.output
    (pred,) = client.get_task(task_id)["predictions"]
    assert pred["model_version"] == str(model) and any(i["type"] == "relation" for i in pred["result"])


@pytest.mark.parametrize("kwargs, flag", [({"strategy": "vibes"}, "--strategy"), ({"aggregate": "median"}, "--aggregate"),
                                          ({"batch_size": 0}, "--batch-size")])
def test_prelabel_options_are_checked_before_any_call(extractor: Extractor, kwargs: dict, flag: str) -> None:
    from corpus.errors import InputError

    with pytest.raises(InputError, match=flag):
        prelabel_project(None, extractor, "p", **kwargs)  # type: ignore[arg-type]


DETECT = ("Claudia Sheinbaum rejects US troops on Mexican soil. Donald Trump visited a school on Monday; "
          "extradition of cartel leaders came up later in the news.\n"
          "Donald Trump backs stronger border security. Reporters followed The Heritage Foundation; separately, "
          "experts discussed US troops on Mexican soil.")


def train_fixture_detector(root: Path) -> Path:
    """A TF-IDF detector (`detector_tfidf`) trained on a small candidates dataset of the real schema (statement
    templates and co-occurring pairs without a statement), tracked in a temporary MLflow store; its folder."""
    from datasets import ClassLabel, Dataset, DatasetDict, load_from_disk

    from tests.training.conftest import save_statements, statement_rows
    from tests.training.test_detector import candidate_rows
    from training.config import load_config
    from training.run import train

    dataset = root / "dataset"
    splits = {"train": 48, "validation": 16}
    save_statements(dataset, {s: statement_rows(s, n) for s, n in splits.items()})
    features = load_from_disk(str(dataset / "statements"))["train"].features.copy()
    features["stance"] = ClassLabel(names=load_codebook().detection_names)
    DatasetDict({s: Dataset.from_list(candidate_rows(s, n), features=features) for s, n in splits.items()}
                ).save_to_disk(str(dataset / "candidates"))
    cfg, file = load_config("detector_tfidf", [f"output_dir={root / 'runs'}", "tracking.registered_model=prelabel-det",
                                               "sklearn.min_df=1", "sklearn.c_grid=[1.0, 10.0]"])
    summary = train(cfg, file, dataset=str(dataset), tracking_uri=f"sqlite:///{root / 'mlflow.db'}", progress=False)
    return Path(summary.model_dir)


@pytest.mark.labelstudio
def test_a_detector_prefills_only_detected_pairs_and_none_pairs_get_no_relation(label_studio: Any,
                                                                                 tmp_path: Path) -> None:
    from annotation.client import Connection, LabelStudioClient
    from training.extract import load_extractor

    extractor = load_extractor(str(train_fixture_detector(tmp_path)))
    assert extractor.kind == "detector" and extractor.threshold is not None
    (art,) = extractor.run([("detect", DETECT)])
    none_pairs = {(p.candidate.actor.text, p.candidate.policy.start) for p in art.pairs if not p.is_statement}
    detected = {(s.candidate.actor.text, s.candidate.policy.start) for s in art.statements}
    assert len(art.pairs) == 4 and none_pairs and detected  # both outcomes occur on this text
    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    project = client.create_project("prelabel-detector", build_label_config(extractor.codebook), "guideline")
    (task_id,) = client.import_tasks(project["id"], [{"data": {"text": DETECT, "article_id": "detect"}}])
    result = prelabel_project(client, extractor, "prelabel-detector")
    assert (result.predictions, result.pairs, result.none_pairs) == (1, 4, len(none_pairs))
    assert result.relations == len(detected)
    (pred,) = client.get_task(task_id)["predictions"]
    spans = {i["id"]: i["value"] for i in pred["result"] if i["type"] == "labels"}
    assert len(spans) == len(art.mentions) >= 6  # every mention is a region, also those only in none pairs
    linked = {(spans[r["from_id"]]["text"], spans[r["to_id"]]["start"]): r for r in pred["result"]
              if r["type"] == "relation"}
    assert set(linked) == detected and not set(linked) & none_pairs  # none pairs: no relation
    for s in art.statements:
        rel = linked[(s.candidate.actor.text, s.candidate.policy.start)]
        assert rel["labels"] == [s.stance] and rel["score"] == round(s.confidence, 4)
    # the queue counts detection uncertainty: the task's score is its certainty over all four pairs
    (entry,) = result.queue
    assert (entry.pairs, entry.statements) == (4, len(detected)) and pred["score"] == pytest.approx(entry.score)
