"""Candidate pairs and `none` from hand-made annotations: spans with and without relations, entity lists, author."""

from __future__ import annotations

from typing import Any

import pytest

from corpus.candidates import article_candidates
from corpus.codebook import load_codebook
from corpus.convert import Document, Scheme, convert_task
from corpus.importers.seesaw import locate_entities
from corpus.importers.statements import codebook_alias_index
from corpus.tasks import relation_item, span_items, statement_item

# three sentences: 1 has Trump + Sheinbaum + troops (only Trump -> troops related), 2 has Sheinbaum + troops
# (related), 3 has Sheinbaum + extradition (no relation)
TEXT = ("President Trump offered to deploy American troops while Sheinbaum listened. "
        "Sheinbaum rejected the plan to deploy American troops. "
        "Sheinbaum also discussed the extradition of cartel leaders.")


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return Scheme.from_codebook(load_codebook())


def at(surface: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(surface, start + 1)
    return start, start + len(surface)


def span(sid: str, surface: str, nth: int, label: str, canonical: str, in_codebook: bool = True
         ) -> list[dict[str, Any]]:
    s, e = at(surface, nth)
    return span_items(sid, s, e, surface, label, canonical, in_codebook=in_codebook)


def task(result: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": 7, "data": {"text": TEXT, "article_id": "art"},
            "annotations": [{"id": 1, "completed_by": 1, "result": result, "was_cancelled": False}]}


RESULT = [
    *span("a1", "President Trump", 0, "Actor", "donald_trump"),
    *span("p1", "deploy American troops", 0, "Policy", "us_troops_in_mexico"),
    *span("a2", "Sheinbaum", 0, "Actor", "claudia_sheinbaum"),
    *span("a3", "Sheinbaum", 1, "Actor", "claudia_sheinbaum"),
    *span("p2", "deploy American troops", 1, "Policy", "us_troops_in_mexico"),
    *span("a4", "Sheinbaum", 2, "Actor", "claudia_sheinbaum"),
    *span("p3", "extradition of cartel leaders", 0, "Policy", "extradition"),
    relation_item("a1", "p1", "support"),
    relation_item("a3", "p2", "oppose"),
]


def rows_of(scheme: Scheme, result: list[dict[str, Any]], meta: dict[str, Any] | None = None,
            **kw: Any) -> list[dict[str, Any]]:
    t = task(result)
    doc = Document("art", TEXT, meta or {"source": "Wire"})
    conv = convert_task(t, doc, scheme, source="export.json")
    return article_candidates(t, doc, scheme, conv, **kw)


def test_spans_without_relation_become_none_and_gold_keeps_its_stance(scheme: Scheme) -> None:
    rows = rows_of(scheme, RESULT)
    got = sorted((r["actor_id"], r["policy_id"], r["stance"], r["candidate_source"], r["context"][:20]) for r in rows)
    assert got == sorted([
        ("donald_trump", "us_troops_in_mexico", "support", "gold", "President Trump offe"),
        ("claudia_sheinbaum", "us_troops_in_mexico", "oppose", "gold", "Sheinbaum rejected t"),
        # sentence 1: Sheinbaum is named beside the troops with no relation drawn
        ("claudia_sheinbaum", "us_troops_in_mexico", "none", "span-pair", "President Trump offe"),
        # sentence 3: Sheinbaum and extradition co-occur, no relation
        ("claudia_sheinbaum", "extradition", "none", "span-pair", "Sheinbaum also discu"),
    ])
    neg = next(r for r in rows if r["policy_id"] == "extradition")
    assert neg["context"][neg["actor_context_start"]:neg["actor_context_end"]] == "Sheinbaum"
    assert neg["context"][neg["policy_context_start"]:neg["policy_context_end"]] == "extradition of cartel leaders"
    assert TEXT[neg["context_start"]:neg["context_start"] + len(neg["context"])] == neg["context"]
    assert neg["qualifiers"] == [] and neg["annotation_id"] == "1" and neg["task_id"] == 7
    assert len({r["id"] for r in rows}) == len(rows)


def test_a_relation_anywhere_in_the_sentence_blocks_the_same_pair(scheme: Scheme) -> None:
    # the relation is drawn from the second "deploy" span; the first co-occurrence is the same statement
    result = [r for r in RESULT if r.get("type") != "relation"] + [relation_item("a2", "p1", "oppose")]
    rows = rows_of(scheme, result)
    sentence1 = [r for r in rows if r["context"].startswith("President")]
    assert sorted((r["actor_id"], r["stance"]) for r in sentence1) == [
        ("claudia_sheinbaum", "oppose"), ("donald_trump", "none")]


def test_no_spans_no_relations_no_candidates_and_stance_ids(scheme: Scheme) -> None:
    codebook = load_codebook()
    ids = {n: i for i, n in enumerate(codebook.detection_names)}
    rows = rows_of(scheme, RESULT, stance_id=ids)
    assert sorted(r["stance"] for r in rows) == sorted([ids["support"], ids["oppose"], ids["none"], ids["none"]])
    only_spans = [*span("a1", "President Trump", 0, "Actor", "donald_trump")]
    assert rows_of(scheme, only_spans) == []  # an actor alone pairs with nothing


def test_a_task_needing_adjudication_gives_no_candidates(scheme: Scheme) -> None:
    t = task(RESULT)
    t["annotations"].append({**t["annotations"][0], "id": 2, "completed_by": 2})
    doc = Document("art", TEXT, {})
    conv = convert_task(t, doc, scheme)
    assert conv.statements == [] and article_candidates(t, doc, scheme, conv) == []


def test_entity_list_author_and_unplaced_sides(scheme: Scheme) -> None:
    # SEESAW-like: given sentences, an entity list, one located statement and one given by name
    sentences = [[0, *at("President Trump offered to deploy American troops while Sheinbaum listened.")],
                 [1, *at("Sheinbaum rejected the plan to deploy American troops.")]]
    entities = [{"name": "Claudia Sheinbaum", "types": ["People"]}, {"name": "Donald Trump", "types": ["People"]},
                {"name": "American troops", "types": ["Others"]}]
    cb_index = codebook_alias_index(load_codebook())
    s1 = sentences[1]
    result = [*span("a1", "Sheinbaum", 1, "Actor", "Claudia Sheinbaum", False),
              *span("p1", "American troops", 1, "Policy", "American troops", False),
              relation_item("a1", "p1", "oppose"),
              statement_item("s0-0", "(unlisted)", "Donald Trump", "oppose", s1[1], s1[2]),
              statement_item("s1-0", "Mexican officials", "American troops", "oppose", s1[1], s1[2])]

    def locate(text: str, units: Any) -> list[tuple[int, str, int, int]]:
        return locate_entities(text, units, entities, cb_index)

    rows = rows_of(scheme, result, {"sentence_spans": sentences}, locate=locate)
    by = {(r["actor_label"], r["policy_label"], r["context"][:9]): (r["stance"], r["candidate_source"])
          for r in rows}
    first, second = "President", "Sheinbaum"
    assert by[("Claudia Sheinbaum", "American troops", second)] == ("oppose", "gold")
    assert by[("Claudia Sheinbaum", "American troops", first)] == ("none", "entity-list")
    assert by[("Donald Trump", "American troops", first)] == ("none", "entity-list")
    assert by[("Donald Trump", "Claudia Sheinbaum", first)] == ("none", "entity-list")
    assert by[("(author)", "Donald Trump", first)] == ("none", "author")
    assert by[("Mexican officials", "Claudia Sheinbaum", second)] == ("none", "unplaced")
    assert ("Mexican officials", "American troops", second) in by and \
        by[("Mexican officials", "American troops", second)] == ("oppose", "gold")
    assert not any(a == "(unlisted)" and s == "none" for (a, _, _), (s, _) in by.items())
    assert not any(a == p for a, p, _ in by)  # nobody takes a stance on themselves
    located = next(r for r in rows if r["candidate_source"] == "entity-list")
    assert located["context"][located["actor_context_start"]:located["actor_context_end"]] in (
        "Trump", "President Trump", "Sheinbaum", "American troops")


def test_the_context_window_widens_contexts_not_the_pairs(scheme: Scheme) -> None:
    sentences = [[0, *at("President Trump offered to deploy American troops while Sheinbaum listened.")],
                 [1, *at("Sheinbaum rejected the plan to deploy American troops.")],
                 [2, *at("Sheinbaum also discussed the extradition of cartel leaders.")]]
    s1 = sentences[1]
    result = [*RESULT, statement_item("s1-0", "Mexican officials", "extradition", "oppose", s1[1], s1[2])]
    meta = {"sentence_spans": sentences}

    def pairs(window: int) -> set[tuple[str, str, str, str]]:
        t = task(result)
        doc = Document("art", TEXT, meta)
        conv = convert_task(t, doc, scheme, context_window=window)
        rows = article_candidates(t, doc, scheme, conv, context_window=window)
        if window:
            assert all(len(r["context"]) > 60 for r in rows)  # a neighbour sentence joined every context
        return {(r["actor_id"], r["policy_id"], r["stance"], r["id"].split("/none/")[-1][:4]) for r in rows}

    assert pairs(0) == pairs(1)
    # the officials (given by name in sentence 2) are paired there only, never in the neighbours the window adds
    assert {p[3] for p in pairs(1) if p[0] == "x:mexican-officials" and p[2] == "none"} == {"0001"}


def test_build_writes_the_candidates_config_and_its_card_section(tmp_path) -> None:
    import json

    from datasets import load_from_disk

    from corpus.build import BuildOptions, build_dataset

    export = tmp_path / "export.json"
    export.write_text(json.dumps([task(RESULT)]), encoding="utf-8")
    result = build_dataset(BuildOptions(out=tmp_path / "ds", sources=[export]))
    assert result.sizes["candidates"]["train"] == 4
    ds = load_from_disk(str(tmp_path / "ds" / "candidates"))["train"]
    names = ds.features["stance"].names
    assert names == load_codebook().detection_names
    assert sorted(names[s] for s in ds["stance"]) == ["none", "none", "oppose", "support"]
    statements = load_from_disk(str(tmp_path / "ds" / "statements"))["train"]
    assert [c for c in ds.column_names if c not in statements.column_names] == ["candidate_source"]
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert "## Candidates" in card and "none : statement = 1.00" in card and "| train | 2 | 2 | 4 |" in card
