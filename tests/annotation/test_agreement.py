"""Agreement against a hand-computed example.

Units coded by both coders (stance of A / B): trump-troops s/s, kelly-extradition s/o, sheinbaum-troops o/o,
heritage-strikes o/o, mexico-intelligence n/n. By hand:
* Krippendorff's alpha (nominal): coincidences o_ss=2, o_so=o_os=1, o_oo=4, o_nn=2; n=10, n_s=3, n_o=5, n_n=2;
  D_o = 2/10, D_e = 2(3·5 + 3·2 + 5·2)/(10·9) = 62/90; alpha = 1 - (0.2·90/62) = 22/31.
* Cohen's kappa: p_o = 4/5; A's marginals s2 o2 n1, B's s1 o3 n1; p_e = (2 + 6 + 1)/25 = 9/25;
  kappa = (0.8 - 0.36)/0.64 = 11/16.
* Statements: A 6, B 5, 4 equal: F1 = 8/11. Pairs: 5 shared of 6 + 5: F1 = 10/11.
* Actor spans: A 6, B 5 (B's Heritage span is longer): exact 4 -> 8/11, overlap 5 -> 10/11.
  Policy spans: A 6, B 5, all of B's exact: 10/11.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation.agreement import compute_agreement, format_report
from annotation.export import TaskSource
from corpus.codebook import load_codebook

from .builders import annotation, coder_a, coder_b, task


def _source(tasks: list[dict]) -> TaskSource:
    return TaskSource(Path("example.json"), tasks, {})


@pytest.fixture(scope="module")
def report() -> dict:
    tasks = [
        task(1, [annotation(11, "A", coder_a()), annotation(12, "B", coder_b())]),
        task(2, [annotation(21, "A", coder_a())]),  # one annotator: not compared
        task(3, [annotation(31, "A", coder_a()), annotation(32, "B", [], was_cancelled=True)]),  # cancelled
        task(4, []),  # skipped task, no annotation
        task(5, [annotation(51, "gold", coder_b(), ground_truth=True), annotation(52, "A", coder_a())]),
    ]
    return compute_agreement(_source(tasks), load_codebook())


def test_stance_agreement_matches_hand_computation(report):
    st = report["stance"]
    assert st["units"] == 5
    assert st["krippendorff_alpha"] == pytest.approx(22 / 31, abs=1e-4)
    assert report["by_pair"][0]["cohen_kappa"] == pytest.approx(11 / 16, abs=1e-4)
    assert st["observed_agreement"] == pytest.approx(0.8)
    assert st["per_label"]["oppose"] == {"specific_agreement": pytest.approx(4 / 5), "agreed": 2, "codings": 5}
    assert st["per_label"]["support"]["specific_agreement"] == pytest.approx(2 / 3, abs=1e-4)


def test_statement_and_span_f1(report):
    assert report["statements"]["f1"] == pytest.approx(8 / 11, abs=1e-4)
    assert report["pairs"]["f1"] == pytest.approx(10 / 11, abs=1e-4)
    assert report["spans"]["Actor"]["exact_f1"] == pytest.approx(8 / 11, abs=1e-4)
    assert report["spans"]["Actor"]["overlap_f1"] == pytest.approx(10 / 11, abs=1e-4)
    assert report["spans"]["Policy"]["exact_f1"] == pytest.approx(10 / 11, abs=1e-4)


def test_which_tasks_count_and_what_is_reported(report):
    assert report["tasks"] == 5 and report["tasks_compared"] == 1
    assert report["tasks_single_annotator"] == 3  # task 2, task 3 (B cancelled), task 5 (gold is no annotator)
    assert report["annotators"] == ["A", "B"]
    lines = "\n".join(report["issues"]["lines"])
    assert "relation to a missing span (b9)" in lines
    assert "task 3, annotation 32: error: cancelled" in lines
    text = format_report(report)
    assert "Krippendorff's alpha (nominal) 0.710" in text and "A / B" in text
    json.dumps(report)  # JSON-able


def test_ground_truth_can_be_counted_as_an_annotator():
    tasks = [task(5, [annotation(51, "gold", coder_b(), ground_truth=True), annotation(52, "A", coder_a())])]
    report = compute_agreement(_source(tasks), load_codebook(), include_ground_truth=True)
    assert report["annotators"] == ["A", "gold"]
    assert report["stance"]["krippendorff_alpha"] == pytest.approx(22 / 31, abs=1e-4)


def test_statements_without_offsets_match_by_canonical_names():
    from corpus.tasks import statement_item

    a = [statement_item("s1", "Claudia Sheinbaum", "US troops on Mexican soil", "oppose", 0, 10),
         statement_item("s2", "Joe Biden", "the wall", "support", 0, 10)]
    b = [statement_item("s1", "sheinbaum", "us_troops_in_mexico", "oppose", 0, 10),
         statement_item("s2", "joe  biden", "The Wall", "oppose", 0, 10)]
    report = compute_agreement(_source([task(1, [annotation(1, "x:A", a), annotation(2, "x:B", b)])]),
                               load_codebook())
    assert report["stance"]["units"] == 2 and report["stance"]["observed_agreement"] == 0.5
    assert report["spans"]["Actor"]["exact_f1"] is None  # nothing to compare


def test_unanimous_single_label_leaves_alpha_undefined():
    report = compute_agreement(_source([task(1, [annotation(1, "A", coder_b()[:-1]),
                                                  annotation(2, "B", coder_b()[:-1])])]), load_codebook())
    assert report["stance"]["observed_agreement"] == 1.0
    assert report["stance"]["krippendorff_alpha"] is not None  # several labels: alpha is 1
    one = [i for i in coder_b() if i.get("type") != "relation"] + [i for i in coder_b() if i.get("type") == "relation"][:1]
    report = compute_agreement(_source([task(1, [annotation(1, "A", one), annotation(2, "B", one)])]),
                               load_codebook())
    assert report["stance"]["krippendorff_alpha"] is None and "undefined" in report["stance"]["alpha_note"]
