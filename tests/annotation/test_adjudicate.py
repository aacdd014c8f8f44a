"""Adjudication: ground truth wins, else a strict majority per statement; the rest goes to review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotation.adjudicate import adjudicate, disagreement_predictions
from annotation.cli import app
from annotation.export import TaskSource, coded_annotations
from corpus.codebook import load_codebook
from corpus.tasks import relation_item, statement_item

from .builders import annotation, coder_a, coder_b, span, task


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def _coder_c() -> list[dict]:
    """Agrees with A on everything but heritage/strikes (support) and codes no trump/border statement."""
    result = [i for i in coder_a() if not (i.get("type") == "relation" and i["from_id"] in ("a4", "a6"))]
    return result + [relation_item("a4", "p4", "support")]


def _decide(cb, tasks):
    return adjudicate(TaskSource(Path("x.json"), tasks, {}), cb)


def test_majority_of_three(cb):
    out = _decide(cb, [task(1, [annotation(1, "A", coder_a()), annotation(2, "B", coder_b()),
                                annotation(3, "C", _coder_c())])])
    [gold] = out.gold
    [ann] = gold["annotations"]
    assert ann["annotator"] == "adjudicated" and ann["ground_truth"] is True
    assert ann["adjudication"]["method"] == "majority" and ann["adjudication"]["sources"] == ["A", "B", "C"]
    coded, issues = coded_annotations(gold, cb)
    assert [i for i in issues if i.severity == "error"] == []
    triples = sorted(s.triple for s in coded[0].statements)
    # kelly/extradition: A and C support, B oppose -> support; heritage/strikes: A, B oppose, C support -> oppose
    assert ("anna_kelly", "extradition", "support") in triples
    assert ("heritage_foundation", "unilateral_strikes", "oppose") in triples
    assert len(triples) == 5
    kinds = {(r["kind"], r.get("actor")) for r in out.review}
    assert ("minority", "donald_trump") in kinds  # trump/border: A alone of three
    assert out.statements == 5


def test_two_annotators_who_disagree_give_a_conflict(cb):
    out = _decide(cb, [task(1, [annotation(1, "A", coder_a()), annotation(2, "B", coder_b())])])
    conflicts = [r for r in out.review if r["kind"] == "conflict"]
    assert [(r["actor"], r["policy"], r["votes"]) for r in conflicts] == [
        ("anna_kelly", "extradition", {"A": "support", "B": "oppose"})]
    assert out.statements == 4  # four agreed; the conflict and A's lone trump/border statement are out
    preds = disagreement_predictions(TaskSource(Path("x.json"), [task(1, [annotation(1, "A", coder_a()),
                                                                          annotation(2, "B", coder_b())])], {}),
                                     out, cb)
    pred = preds["art-1"]
    assert pred["model_version"] == "disagreement"
    relations = [i for i in pred["result"] if i["type"] == "relation"]
    assert sorted(r["labels"][0] for r in relations) == ["oppose", "support", "support"]
    region_ids = {i["id"] for i in pred["result"] if i["type"] == "labels"}
    assert all(r["from_id"] in region_ids and r["to_id"] in region_ids for r in relations)


def test_ground_truth_wins_and_single_annotator_is_its_own_gold(cb):
    statements = [statement_item("s1", "Sheinbaum", "troops", "oppose", 0, 10)]
    out = _decide(cb, [
        task(1, [annotation(1, "A", coder_a()), annotation(2, "gold", coder_b(), ground_truth=True)]),
        task(2, [annotation(3, "A", coder_a() + statements)]),
        task(3, [annotation(4, "A", [], was_cancelled=True)]),
    ])
    assert out.methods == {"ground_truth": 1, "single": 1}
    assert out.skipped == ["3"]
    gt = out.gold[0]["annotations"][0]
    assert gt["adjudication"] == {"method": "ground_truth", "sources": ["gold"], "codebook_version": cb.version}
    assert any(i.get("type") == "statement" for i in out.gold[1]["annotations"][0]["result"])


def test_cli_writes_gold_and_review(tmp_path, cb):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task(1, [annotation(1, "A", coder_a()), annotation(2, "B", coder_b())])]))
    gold = tmp_path / "gold.json"
    result = CliRunner().invoke(app, ["adjudicate", str(export), "--out", str(gold)])
    assert result.exit_code == 0, result.output
    assert "1 tasks, 4 statements" in result.output
    tasks = json.loads(gold.read_text())
    assert len(tasks) == 1 and len(tasks[0]["annotations"]) == 1
    review = json.loads(gold.with_suffix(".review.json").read_text())
    assert review["summary"]["review_by_kind"] == {"conflict": 1, "minority": 1}


def test_spans_outside_statements_need_a_majority(cb):
    extra = span("x1", "Mexico", "Actor", "mexican_government")
    a = coder_a() + [dict(i, id="x1") for i in extra]
    out = _decide(cb, [task(1, [annotation(1, "A", a), annotation(2, "B", coder_b())])])
    assert any(r["kind"] == "span" for r in out.review)
