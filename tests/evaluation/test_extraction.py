"""The extraction scorer on a hand-computed example: both settings, duplicates, missing articles, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corpus.build import BuildOptions, build_dataset
from corpus.errors import InputError
from evaluation.cli import app
from evaluation.extraction import score_extraction
from tests.corpus.test_candidates import RESULT, TEXT, at

S0 = at("President Trump offered to deploy American troops while Sheinbaum listened.")
S1 = at("Sheinbaum rejected the plan to deploy American troops.")
S2 = at("Sheinbaum also discussed the extradition of cartel leaders.")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two articles with the same text and gold (Trump supports, Sheinbaum opposes the troops), all in train."""
    root = tmp_path_factory.mktemp("extraction")
    tasks = [{"id": n, "data": {"text": TEXT, "article_id": aid},
              "annotations": [{"id": n, "completed_by": 1, "result": RESULT, "was_cancelled": False}]}
             for n, aid in ((1, "art1"), (2, "art2"))]
    export = root / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    build_dataset(BuildOptions(out=root / "ds", sources=[export], ratios=(1.0, 0.0, 0.0)))
    return root / "ds"


def statement(article: str, actor: str, policy: str, stance: str, conf: float, span: tuple[int, int]
              ) -> dict[str, Any]:
    return {"article_id": article, "actor_id": actor, "policy_id": policy, "stance": stance, "confidence": conf,
            "evidence": {"text": TEXT[span[0]:span[1]], "start": span[0], "end": span[1]}}


def write(path: Path, setting: str | None, statements: list[dict[str, Any]], articles: list[str]) -> Path:
    doc = {"statements": statements, "articles": [{"article_id": a} for a in articles], "model_version": "m/1"}
    if setting:
        doc["setting"] = setting
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


GOLD_ENTITIES = [
    statement("art1", "donald_trump", "us_troops_in_mexico", "support", 0.9, S0),  # right
    statement("art1", "donald_trump", "us_troops_in_mexico", "support", 0.8, S0),  # its duplicate
    statement("art1", "claudia_sheinbaum", "us_troops_in_mexico", "support", 0.7, S1),  # right pair, wrong stance
    statement("art1", "claudia_sheinbaum", "extradition", "oppose", 0.95, S2),  # not in gold
    statement("ghost", "donald_trump", "extradition", "oppose", 0.5, S0),  # an article not in the dataset
]


def test_hand_computed_scores_both_settings(dataset: Path, tmp_path: Path) -> None:
    gold_file = write(tmp_path / "gold.json", "gold-entities", GOLD_ENTITIES, ["art1", "ghost"])
    found_file = write(tmp_path / "found.json", "found-entities", [], ["art1"])
    r = score_extraction([gold_file, found_file], dataset, "train", n_resamples=200)
    g, f = r["settings"]
    assert g["setting"] == "gold-entities" and f["setting"] == "found-entities"
    st, pa = g["statements"], g["pairs"]
    # statements: TP 1 (Trump), FP 2 (Sheinbaum support, extradition), FN 1 (Sheinbaum oppose)
    assert (st["matched"], st["false"], st["missed"], st["duplicates"]) == (1, 2, 1, 1)
    assert st["precision"] == pytest.approx(1 / 3) and st["recall"] == pytest.approx(1 / 2)
    assert st["f1"] == pytest.approx(0.4)
    # pairs: TP 2, FP 1 (extradition), FN 0
    assert (pa["matched"], pa["false"], pa["missed"]) == (2, 1, 0)
    assert pa["f1"] == pytest.approx(0.8)
    assert g["polarity"] == {**g["polarity"], "point": 0.5, "pairs": 2}
    iv = st["intervals"]["f1"]
    assert iv["low"] <= 0.4 <= iv["high"]
    assert g["articles_outside_split"] == ["ghost"] and any("ghost" in n and "1 statement" in n for n in g["notes"])
    assert g["articles_scored"] == 1 and g["articles_not_predicted"] == 1  # art2's gold is left out
    assert g["false_statements"][0]["confidence"] == 0.95  # most confident first
    assert [m["stance"] for m in g["misses"]] == ["oppose"]
    assert g["network"]["network"]["gold_edges"] == 2
    # the empty extraction: reported, scored zero, no crash
    assert (f["statements"]["precision"], f["statements"]["recall"], f["statements"]["gold"]) == (0.0, 0.0, 2)
    assert any("empty extraction" in n for n in f["notes"])


def test_cli_writes_the_report_and_exits_0_on_an_empty_extraction(dataset: Path, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.json", None, [], ["art1"])
    res = CliRunner().invoke(app, ["extraction", "--pred", str(empty), "--setting", "found-entities", "--dataset",
                                   str(dataset), "--split", "train", "--out", str(tmp_path / "rep"),
                                   "--resamples", "50"])
    assert res.exit_code == 0, res.output
    assert "found-entities: statements P 0.000 R 0.000" in res.output and "empty extraction" in res.output
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "### Misses (2 of 2)" in md and "<table" in (tmp_path / "rep" / "report.html").read_text("utf-8")


@pytest.mark.parametrize(("statements", "message"), [
    ([statement("art1", "nobody_known", "extradition", "oppose", 0.5, S2)], "actor_id 'nobody_known' is not in"),
    ([statement("art1", "donald_trump", "extradition", "maybe", 0.5, S2)], "stance 'maybe'"),
    ([{**statement("art1", "donald_trump", "extradition", "oppose", 0.5, S2), "evidence": None}], "evidence"),
])
def test_bad_predictions_are_named(dataset: Path, tmp_path: Path, statements: list[dict[str, Any]],
                                   message: str) -> None:
    bad = write(tmp_path / "bad.json", "gold-entities", statements, ["art1"])
    with pytest.raises(InputError, match=message) as err:
        score_extraction([bad], dataset, "train", n_resamples=10)
    assert "statement #0" in str(err.value)


def test_a_file_without_setting_and_a_dataset_without_candidates(dataset: Path, tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.json", None, [], ["art1"])
    with pytest.raises(InputError, match="pass --setting"):
        score_extraction([plain], dataset, "train")
    import shutil

    old = tmp_path / "old"
    shutil.copytree(dataset, old)
    shutil.rmtree(old / "candidates")
    with pytest.raises(InputError, match="built before candidates existed.*rebuild it with"):
        score_extraction([plain], old, "train", settings=["gold-entities"])


def test_human_figure_scores_annotator_against_annotator(dataset: Path, tmp_path: Path) -> None:
    from corpus.importers.statements import annotation, task, write_import
    from corpus.schema import Article
    from corpus.tasks import relation_item
    from evaluation.extraction import human_figure

    spans = [r for r in RESULT if r.get("type") != "relation"]

    def record(aid: str, coders: dict[str, list[dict[str, Any]]], base: int) -> tuple[Article, dict[str, Any]]:
        art = Article(id=aid, title="", body=TEXT)
        assert art.text == TEXT
        anns = [annotation(base, "gold", True, spans + [relation_item("a1", "p1", "support")])]
        anns += [annotation(base + n, who, False, spans + rels) for n, (who, rels) in enumerate(coders.items(), 1)]
        return art, task(art, anns, "test", "1")

    both = {"A": [relation_item("a1", "p1", "support"), relation_item("a3", "p2", "oppose")],
            "B": [relation_item("a1", "p1", "support"), relation_item("a4", "p3", "oppose")]}
    out = tmp_path / "imp"
    write_import(out, [record("two", both, 10), record("one", {"A": both["A"]}, 20)], [], {})
    h = human_figure(out, n_resamples=50)
    # only task "two" has two annotators (gold is not one): A and B share Trump's support and nothing else
    assert (h["tasks"], h["annotator_pairs"], h["annotators"]) == (1, 1, ["A", "B"])
    st = h["statements"]
    assert (st["matched"], st["false"], st["missed"]) == (1, 1, 1) and st["f1"] == pytest.approx(0.5)
    assert h["pairs"]["f1"] == pytest.approx(0.5) and h["polarity"] == {"point": 1.0, "pairs": 1}
    assert human_figure(out, articles={"one"})["tasks"] == 0
    # beside the model in the report: none of the split's articles is multiply coded here, all of them has one
    from evaluation.extraction import markdown

    pred = write(tmp_path / "p.json", "gold-entities", GOLD_ENTITIES[:1], ["art1"])
    r = score_extraction([pred], dataset, "train", n_resamples=20, human=out)
    assert (r["human"]["train"]["tasks"], r["human"]["all"]["tasks"]) == (0, 1)
    assert "| annotators vs annotators (all articles) | 0.500" in markdown(r)


def test_an_unresolved_side_is_resolved_by_name_as_the_build_does(dataset: Path, tmp_path: Path) -> None:
    found = statement("art1", "donald_trump", "us_troops_in_mexico", "support", 0.9, S0)
    found = {**found, "actor_id": None, "actor_mention": {"text": "Donald Trump", "start": None, "end": None}}
    other = {**found, "policy_id": None, "policy_mention": {"text": "a wall", "start": 0, "end": 5}}
    r = score_extraction([write(tmp_path / "f.json", "found-entities", [found, other], ["art1"])], dataset, "train",
                         n_resamples=20)
    st = r["settings"][0]["statements"]
    assert (st["matched"], st["false"]) == (1, 1)  # "Donald Trump" is the codebook's donald_trump; "a wall" is x:
