"""What annotators kept of the pre-annotations: a pure comparison of predictions and final annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotation.rounds import compare_result, kept_report, predicted_versions
from corpus.tasks import relation_item, span_items

TEXT = "Sheinbaum rejected US troops but backed information sharing with Washington."


def _span(rid: str, needle: str, label: str, canonical: str, start: int | None = None) -> list[dict]:
    s = TEXT.index(needle) if start is None else start
    return span_items(rid, s, s + len(needle), needle, label, canonical)


def _predicted() -> list[dict]:
    return [*_span("a", "Sheinbaum", "Actor", "claudia_sheinbaum"),
            *_span("t", "US troops", "Policy", "us_troops_in_mexico"),
            *_span("i", "information sharing", "Policy", "intelligence_sharing"),
            *_span("w", "Washington", "Actor", "us_government"),
            relation_item("a", "t", "support"), relation_item("a", "i", "support"),
            relation_item("w", "i", "neutral")]


def test_accepted_corrected_deleted_and_added() -> None:
    annotated = [*_span("A", "Sheinbaum", "Actor", "claudia_sheinbaum"),           # span accepted
                 *_span("T", "rejected US troops", "Policy", "us_troops_in_mexico"),  # boundaries corrected
                 *_span("I", "information sharing", "Policy", "bilateral_cooperation"),  # canonical corrected
                 *_span("X", "backed", "Policy", "intelligence_sharing"),            # added (no prediction)
                 relation_item("A", "T", "oppose"),                                  # stance corrected
                 relation_item("A", "I", "support"),                                 # accepted
                 relation_item("A", "X", "support")]                                 # added
    # Washington span deleted, so its relation is deleted too.
    report = compare_result(_predicted(), annotated)
    rows = {(r["kind"], r["label"]): r for r in report.rows()}
    assert rows[("span", "Actor")] == {"kind": "span", "label": "Actor", "accepted": 1, "corrected": 0,
                                            "deleted": 1, "added": 0, "predicted": 2, "kept": 0.5}
    assert (rows[("span", "Policy")]["accepted"], rows[("span", "Policy")]["corrected"],
            rows[("span", "Policy")]["added"]) == (0, 2, 1)
    assert rows[("relation", "support")]["accepted"] == 1
    assert rows[("relation", "support")]["corrected"] == 1
    assert rows[("relation", "support")]["added"] == 1
    assert rows[("relation", "neutral")]["deleted"] == 1
    assert report.totals("relation") == {"accepted": 1, "corrected": 1, "deleted": 1, "added": 1}
    metrics = report.metrics()
    assert metrics["kept_span_accepted"] == 1 and metrics["kept_span_deleted"] == 1
    assert metrics["kept_relation_accepted_share"] == round(1 / 3, 4)
    # three relations were pre-filled: one kept as predicted, one kept with another stance, one deleted
    assert report.prefilled() == {"prefilled": 3, "kept": 2, "accepted": 1, "corrected": 1, "deleted": 1,
                                  "added": 1}
    assert (metrics["kept_relation_prefilled"], metrics["kept_relation_kept"]) == (3.0, 2.0)
    assert ("Pre-filled relations: 3; annotators kept 2 (1 as predicted, 1 with another stance or direction) "
            "and deleted 1; they added 1 of their own.") in report.markdown()


def test_a_detectors_prediction_without_relations_for_none_pairs_counts_only_what_it_prefilled() -> None:
    # the detector left the Washington pair without a relation; the annotator adds it, deletes nothing
    detected = [i for i in _predicted() if not (i.get("type") == "relation" and i["from_id"] == "w")]
    report = compare_result(detected, _predicted())
    assert report.prefilled() == {"prefilled": 2, "kept": 2, "accepted": 2, "corrected": 0, "deleted": 0,
                                  "added": 1}


def test_all_accepted_when_the_annotator_submits_the_prediction_unchanged() -> None:
    report = compare_result(_predicted(), _predicted())
    assert report.totals("span") == {"accepted": 4, "corrected": 0, "deleted": 0, "added": 0}
    assert report.totals("relation") == {"accepted": 3, "corrected": 0, "deleted": 0, "added": 0}


def test_reversed_relation_and_qualifier_change_are_corrections() -> None:
    pred = [*_span("a", "Sheinbaum", "Actor", "claudia_sheinbaum"),
            *_span("t", "US troops", "Policy", "us_troops_in_mexico"),
            *_span("i", "information sharing", "Policy", "intelligence_sharing"),
            relation_item("a", "t", "oppose"), relation_item("a", "i", "support")]
    ann = [*pred[:6], relation_item("t", "a", "oppose"), relation_item("a", "i", "support", ["conditional"])]
    report = compare_result(pred, ann)
    assert report.totals("relation")["corrected"] == 2


def test_kept_report_over_an_export_skips_cancelled_empty_and_unpredicted() -> None:
    pred = {"id": 5, "model_version": "3", "created_at": "2026-01-02", "result": _predicted()}
    old = {"id": 4, "model_version": "2", "created_at": "2026-01-01", "result": []}
    tasks = [
        {"id": 1, "data": {"text": TEXT}, "predictions": [old, pred],
         "annotations": [{"result": _predicted(), "was_cancelled": False},
                         {"result": _predicted(), "was_cancelled": True},
                         {"result": [], "was_cancelled": False}]},
        {"id": 2, "data": {"text": TEXT}, "predictions": [], "annotations": [{"result": _predicted()}]},
        {"id": 3, "data": {"text": TEXT}, "predictions": [pred], "annotations": []},
    ]
    report = kept_report(tasks)
    assert (report.tasks, report.annotations) == (1, 1)
    assert report.totals("span")["accepted"] == 4
    # Against the older model version, the empty prediction predicted nothing: only additions.
    older = kept_report(tasks, model_version="2")
    assert older.totals("span") == {"accepted": 0, "corrected": 0, "deleted": 0, "added": 4}
    assert predicted_versions(tasks) == {"3": 2, "2": 1}
    assert "| span | Actor | 2 | 2 | 0 | 0 | 0 | 100% |" in report.markdown()


# --------------------------------------------------------------------------------------------- a real round
B_TEXT = ("Trump pushes strikes on cartel targets",
          "President Trump said Washington would pursue strikes on cartel targets and the extradition of cartel "
          "leaders.")
C_TEXT = ("Sheinbaum answers",
          "Claudia Sheinbaum rejected U.S. military assistance but backed information sharing.")


def _corpus(root: Path) -> Path:
    """The seed article with its gold annotation, and two unannotated short articles."""
    from corpus.schema import Article
    from corpus.store import CorpusStore

    bundled, store = CorpusStore(), CorpusStore(root)
    store.write_article(bundled.read_article("article-001"))
    store.write_task("article-001", bundled.read_task(bundled.task_path("article-001")))
    for aid, (title, body) in (("round-b", B_TEXT), ("round-c", C_TEXT)):
        store.write_article(Article(id=aid, title=title, body=body))
    return root


@pytest.mark.labelstudio
@pytest.mark.slow
def test_round_reports_what_the_annotator_kept_and_logs_it(label_studio: Any, tmp_path: Path) -> None:
    import mlflow

    from annotation.client import Connection, LabelStudioClient
    from annotation.push import push
    from annotation.rounds import RoundOptions, run_round
    from corpus.codebook import load_codebook

    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    push(client, load_codebook(), _corpus(tmp_path / "corpus"), project="round-test", with_annotations=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = RoundOptions(project="round-test", stance_config="tiny", out=tmp_path / "round-1",
                           exports=tmp_path / "exports", tracking_uri=uri)
    first = run_round(options, client)
    assert first.kept.tasks == 0 and first.prelabelled == 2  # the seed is annotated; b and c get predictions
    assert first.model_version == "newsstance-stance-tiny/1"

    # A simulated annotator: accepts task b's pre-annotation as it is; on task c changes the stance of one
    # relation and deletes the "information sharing" span (and so its relation).
    tasks = {t["data"]["article_id"]: t for t in client.iter_tasks(first_project_id(client), with_annotations=True)}
    (pred_b,) = tasks["round-b"]["predictions"]
    (pred_c,) = tasks["round-c"]["predictions"]
    client.create_annotation(tasks["round-b"]["id"], pred_b["result"])
    gone = next(i["id"] for i in pred_c["result"] if i["type"] == "labels" and i["value"]["text"] == "information sharing")
    edited = [dict(i) for i in pred_c["result"] if i.get("id") != gone and i.get("to_id") != gone]
    rel = next(i for i in edited if i["type"] == "relation")
    rel["labels"] = ["oppose" if rel["labels"][0] != "oppose" else "support"]
    client.create_annotation(tasks["round-c"]["id"], edited)
    spans_b = sum(1 for i in pred_b["result"] if i["type"] == "labels")
    spans_c = sum(1 for i in pred_c["result"] if i["type"] == "labels")
    rels_b = sum(1 for i in pred_b["result"] if i["type"] == "relation")
    rels_c = sum(1 for i in pred_c["result"] if i["type"] == "relation")
    assert rels_b >= 4 and rels_c == 2

    second = run_round(RoundOptions(project="round-test", stance_config="tiny", out=tmp_path / "round-2",
                                    exports=tmp_path / "exports", tracking_uri=uri), client)
    assert second.previous_version == first.model_version
    assert (second.kept.tasks, second.kept.annotations) == (2, 2)
    assert second.kept.totals("span") == {"accepted": spans_b + spans_c - 1, "corrected": 0, "deleted": 1, "added": 0}
    assert second.kept.totals("relation") == {"accepted": rels_b, "corrected": 1, "deleted": 1, "added": 0}
    assert second.prelabelled == 0  # every task is annotated now
    assert (tmp_path / "round-2" / "round.md").read_text().count("| relation |") >= 1

    run = mlflow.MlflowClient(uri).get_run(second.run_id)
    assert run.data.metrics["kept_span_deleted"] == 1
    assert run.data.metrics["kept_relation_corrected"] == 1
    assert run.data.metrics["kept_relation_accepted"] == rels_b
    assert run.data.params["previous_version"] == "newsstance-stance-tiny/1"


def first_project_id(client: Any) -> int:
    return int(client.find_project("round-test")["id"])


@pytest.mark.labelstudio
@pytest.mark.slow
def test_a_detector_round_scores_extraction_and_prefills_only_detected_pairs(label_studio: Any,
                                                                             tmp_path: Path) -> None:
    import mlflow

    from annotation.client import Connection, LabelStudioClient
    from annotation.push import push
    from annotation.rounds import RoundOptions, run_round
    from corpus.codebook import load_codebook
    from corpus.importers.seesaw import import_seesaw
    from tests.fixtures.seesaw_mini import mini_dir

    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    push(client, load_codebook(), _corpus(tmp_path / "corpus"), project="round-detector", with_annotations=True)
    seesaw = import_seesaw(mini_dir(), tmp_path / "seesaw") and tmp_path / "seesaw"  # its own train/valid/test
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_round(RoundOptions(project="round-detector", stance_config="detector_tiny", sources=[seesaw],
                                    out=tmp_path / "round", exports=tmp_path / "exports", tracking_uri=uri), client)
    assert result.threshold is not None and result.prelabelled == 2
    assert set(result.evaluation or {}) == {"statement_precision", "statement_recall", "statement_f1", "pair_f1",
                                            "polarity_accuracy"}
    assert (tmp_path / "round" / "evaluation" / "report.md").is_file()
    tasks = {t["data"]["article_id"]: t for t in client.iter_tasks(int(client.find_project("round-detector")["id"]),
                                                                   with_annotations=True)}
    relations = sum(1 for a in ("round-b", "round-c") for p in tasks[a]["predictions"] for i in p["result"]
                    if i["type"] == "relation")
    assert relations == result.prelabel_relations
    text = (tmp_path / "round" / "round.md").read_text()
    assert f"a detector, P(statement) threshold {result.threshold:.2f}" in text
    assert f"{result.prelabel_none_pairs} pairs detected as none left without one" in text
    run = mlflow.MlflowClient(uri).get_run(result.run_id)
    assert run.data.metrics["test_statement_f1"] == pytest.approx(result.evaluation["statement_f1"])
    assert run.data.metrics["prelabel_none_pairs"] == result.prelabel_none_pairs
    assert float(run.data.params["detection_threshold"]) == pytest.approx(result.threshold)
