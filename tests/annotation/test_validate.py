"""Export validation: every bad item is reported with task id and reason, nothing is dropped silently."""

from __future__ import annotations

import copy

import pytest

from annotation.export import coded_annotations, validate_tasks
from annotation.validate import ERROR, WARNING, Names, read_annotation
from corpus.codebook import load_codebook
from corpus.tasks import relation_item, span_items

from .builders import TEXT, annotation, at, coder_a, span, task


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def _issues(cb, result, **extra):
    coded, issues = read_annotation("7", TEXT, annotation(3, "A", result, **extra), "A", cb, Names(cb))
    return coded, [(i.task, i.annotation, i.severity, i.reason) for i in issues]


def test_clean_annotation_has_no_issues(cb):
    coded, issues = _issues(cb, coder_a())
    assert issues == [] and len(coded.statements) == 6 and len(coded.spans) == 12


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda r: r.append(relation_item("a1", "zz", "oppose")), "relation to a missing span (zz)"),
    (lambda r: r[0]["value"].update(labels=["Person"]), "span label ['Person'] is not one of"),
    (lambda r: r.append(relation_item("a1", "p1", "furious")), "unknown relation label(s) ['furious']"),
    (lambda r: r.append(relation_item("a1", "p1", "conditional")), "exactly one stance label, has none"),
    (lambda r: r[0]["value"].update(start=10_000, end=10_005), "outside the text"),
    (lambda r: r[0]["value"].update(text="Obrador"), "span text 'Obrador' does not match the text"),
    (lambda r: r[1]["value"].update(choices=["amlo"]), "actor choice ['amlo'] is not a codebook id"),
    (lambda r: r.append(relation_item("a1", "a2", "support")), "relation between a Actor and a Actor span"),
    (lambda r: r.append({"id": "x", "from_name": "sentiment", "type": "rating", "value": {}}), "unknown result item"),
    (lambda r: r.append({"id": "article-relevance", "from_name": "relevance", "type": "choices",
                         "value": {"choices": ["maybe"]}}), "article label 'relevance'"),
])
def test_each_problem_is_reported_with_task_and_reason(cb, damage, expected):
    result = copy.deepcopy(coder_a())
    damage(result)
    coded, issues = _issues(cb, result)
    assert coded is not None
    hits = [i for i in issues if expected in i[3]]
    assert hits, issues
    assert hits[0][:3] == ("7", "3", ERROR)


def test_overlapping_spans_are_a_warning_and_kept(cb):
    s, e = at("Sheinbaum rejects")
    result = coder_a() + span_items("ov", s, e, TEXT[s:e], "Actor", "claudia_sheinbaum")
    coded, issues = _issues(cb, result)
    assert any(sev == WARNING and "overlaps span" in why for _, _, sev, why in issues)
    assert "ov" in coded.spans


def test_cancelled_and_empty_annotations_are_reported(cb):
    assert _issues(cb, coder_a(), was_cancelled=True) == (None, [("7", "3", ERROR, "cancelled (skipped) annotation: "
                                                                                   "left out")])
    coded, issues = _issues(cb, [])
    assert coded is None and "empty annotation" in issues[0][3]


def test_relation_drawn_from_the_policy_end_is_the_same_statement(cb):
    result = [*span("a1", "Sheinbaum", "Actor", "claudia_sheinbaum"), *span("p1", "troops", "Policy",
              "us_troops_in_mexico"), relation_item("p1", "a1", "oppose")]
    coded, issues = _issues(cb, result)
    assert issues == [] and coded.statements[0].triple == ("claudia_sheinbaum", "us_troops_in_mexico", "oppose")


def test_utf16_offsets_from_the_browser_are_mapped():
    cb = load_codebook()
    text = "😀 Sheinbaum rejects troops."
    # JavaScript counts the emoji as two code units: Sheinbaum starts at 3 there, at 2 in Python.
    result = [{"id": "a1", "from_name": "mention", "to_name": "text", "type": "labels",
               "value": {"start": 3, "end": 12, "text": "Sheinbaum", "labels": ["Actor"]}}]
    coded, issues = read_annotation("1", text, annotation(1, "A", result), "A", cb)
    assert issues == [] and (coded.spans["a1"].start, coded.spans["a1"].end) == (2, 11)


def test_validate_tasks_covers_task_level_problems(cb):
    tasks = [task(1, [annotation(1, "A", coder_a()), annotation(2, "A", coder_a())]),
             {"id": 2, "data": {"article_id": "x"}, "annotations": [annotation(3, "A", coder_a())]}]
    lines = [i.line() for i in validate_tasks(tasks, cb)]
    assert any("task 2: error: task has no 'text'" in line for line in lines)
    assert any("A has another annotation (2) on this task: the later one is used" in line for line in lines)
    coded, _ = coded_annotations(tasks[0], cb)
    assert [c.annotation_id for c in coded] == ["2"]
