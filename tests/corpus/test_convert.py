"""Pure conversion of one Label Studio task: which annotation counts, every rejection reason, the rows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.codebook import load_codebook
from corpus.convert import Document, Scheme, convert_task, reject_task
from corpus.tasks import relation_item, span_items, statement_item

TEXT = ("Trump offers troops\n\nPresident Trump offered to deploy American troops. Sheinbaum declined the "
        "offer to deploy American troops. The foundation said little.")


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return Scheme.from_codebook(load_codebook())


def spans(text: str = TEXT) -> list[dict[str, Any]]:
    def at(surface: str, nth: int = 0) -> tuple[int, int]:
        start = -1
        for _ in range(nth + 1):
            start = text.index(surface, start + 1)
        return start, start + len(surface)

    out = []
    for sid, surface, nth, label, canonical in [
        ("a1", "President Trump", 0, "Actor", "donald_trump"),
        ("p1", "deploy American troops", 0, "Policy", "us_troops_in_mexico"),
        ("a2", "Sheinbaum", 0, "Actor", "claudia_sheinbaum"),
        ("p2", "deploy American troops", 1, "Policy", "us_troops_in_mexico"),
    ]:
        s, e = at(surface, nth)
        out += span_items(sid, s, e, surface, label, canonical)
    return out


def ann(result: list[dict[str, Any]], aid: int = 1, **kw: Any) -> dict[str, Any]:
    return {"id": aid, "completed_by": aid, "result": result, "was_cancelled": False, "ground_truth": False, **kw}


def task(*annotations: dict[str, Any], tid: int = 5) -> dict[str, Any]:
    return {"id": tid, "data": {"text": TEXT, "article_id": "art"}, "annotations": list(annotations)}


def convert(t: dict[str, Any], scheme: Scheme, text: str = TEXT, **kw: Any):
    return convert_task(t, Document("art", text, {"source": "Wire"}), scheme, source="export.json", **kw)


GOOD = [*spans(), relation_item("a1", "p1", "support"), relation_item("a2", "p2", "oppose", ["conditional"])]


def reasons(conv) -> list[str]:
    return sorted(r["reason"] for r in conv.rejections)


def test_single_annotator_is_its_own_gold(scheme: Scheme) -> None:
    conv = convert(task(ann(GOOD)), scheme)
    assert [(r["actor_id"], r["policy_id"], r["stance"], r["qualifiers"]) for r in conv.statements] == [
        ("donald_trump", "us_troops_in_mexico", "support", []),
        ("claudia_sheinbaum", "us_troops_in_mexico", "oppose", ["conditional"])]
    assert conv.rejections == [] and conv.relations_in == 2
    row = conv.statements[1]
    assert row["actor_type"] == "person" and row["task_id"] == 5 and row["annotator"] == "ls-user:1"
    assert row["source"] == "Wire" and row["group"] == "art"
    assert row["context"] == "Sheinbaum declined the offer to deploy American troops."
    for r in conv.statements:  # offsets remapped into the context
        assert TEXT[r["actor_start"]:r["actor_end"]] == r["actor_mention"]
        assert r["context"][r["actor_context_start"]:r["actor_context_end"]] == r["actor_mention"]
        assert r["context"][r["policy_context_start"]:r["policy_context_end"]] == r["policy_mention"]
        assert TEXT[r["context_start"]:r["context_start"] + len(r["context"])] == r["context"]


def test_context_window_adds_sentences_each_side(scheme: Scheme) -> None:
    conv = convert(task(ann(GOOD)), scheme, context_window=1)
    first, second = conv.statements
    assert first["context"].startswith("Trump offers troops") and first["context"].endswith("troops.")
    assert second["context"].startswith("President Trump") and second["context"].endswith("said little.")
    assert second["context"][second["actor_context_start"]:second["actor_context_end"]] == "Sheinbaum"


def test_ground_truth_wins_and_the_others_are_superseded(scheme: Scheme) -> None:
    other = ann([*spans(), relation_item("a1", "p1", "oppose")], aid=2)
    conv = convert(task(other, ann(GOOD, aid=3, ground_truth=True)), scheme)
    assert [r["annotation_id"] for r in conv.statements] == ["3", "3"]
    assert reasons(conv) == ["superseded"] and conv.rejections[0]["relations"] == 1


def test_adjudicated_annotation_wins_without_ground_truth(scheme: Scheme) -> None:
    a = ann([*spans(), relation_item("a1", "p1", "oppose")], aid=2)
    b = ann([*spans(), relation_item("a1", "p1", "neutral")], aid=3)
    gold = ann([*spans(), relation_item("a1", "p1", "support")], aid=4, annotator="adjudicated")
    conv = convert(task(a, b, gold), scheme)
    assert [(r["annotator"], r["stance"]) for r in conv.statements] == [("adjudicated", "support")]
    assert reasons(conv) == ["superseded", "superseded"]


def test_two_annotators_without_gold_need_adjudication(scheme: Scheme) -> None:
    a = ann([*spans(), relation_item("a1", "p1", "support"), relation_item("a2", "p2", "oppose")], aid=2)
    b = ann([*spans(), relation_item("a1", "p1", "neutral")], aid=3)
    conv = convert(task(a, b), scheme)
    assert conv.statements == [] and conv.mentions is None
    assert reasons(conv) == ["needs_adjudication"] * 3
    assert {r["item"] for r in conv.rejections} == {"a1>p1", "a2>p2"}


def test_cancelled_and_empty_annotations_are_reported(scheme: Scheme) -> None:
    skipped = ann([], aid=2, was_cancelled=True)
    cancelled_with_work = ann(GOOD, aid=3, was_cancelled=True)
    empty = ann([], aid=4)
    conv = convert(task(skipped, cancelled_with_work, empty, ann(GOOD, aid=5)), scheme)
    assert len(conv.statements) == 2
    assert reasons(conv) == ["cancelled_annotation", "cancelled_annotation", "empty_annotation"]
    assert sum(r["relations"] for r in conv.rejections) == 2  # the cancelled one's relations are counted


@pytest.mark.parametrize(("item", "reason"), [
    (relation_item("a1", "p9", "support"), "relation_missing_span"),
    (relation_item("a1", "p1", "maybe"), "label_outside_codebook"),
    (relation_item("a1", "p1", "support", ["oppose"]), "label_outside_codebook"),  # two stances
    (relation_item("a1", "p1", "conditional"), "label_outside_codebook"),  # no stance
    (relation_item("a1", "a2", "support"), "relation_wrong_span_types"),
])
def test_bad_relations_are_rejected_with_a_reason(scheme: Scheme, item: dict[str, Any], reason: str) -> None:
    conv = convert(task(ann([*spans(), relation_item("a2", "p2", "oppose"), item])), scheme)
    assert len(conv.statements) == 1
    assert reasons(conv) == [reason]
    assert conv.rejections[0]["task_id"] == 5 and conv.rejections[0]["relations"] == 1


@pytest.mark.parametrize(("value", "reason"), [
    ({"start": 30, "end": 9999, "text": "x", "labels": ["Actor"]}, "offsets_out_of_range"),
    ({"start": -1, "end": 4, "text": "x", "labels": ["Actor"]}, "offsets_out_of_range"),
    ({"start": 0, "end": 5, "text": "Biden", "labels": ["Actor"]}, "span_text_mismatch"),
    ({"start": 0, "end": 5, "text": "Trump", "labels": ["Person"]}, "label_outside_codebook"),
])
def test_bad_spans_reject_the_span_and_its_relations(scheme: Scheme, value: dict[str, Any], reason: str) -> None:
    bad = {"id": "a9", "from_name": "mention", "to_name": "text", "type": "labels", "value": value}
    conv = convert(task(ann([*spans(), bad, relation_item("a9", "p1", "support")])), scheme)
    assert conv.statements == []
    assert [(r["kind"], r["reason"]) for r in conv.rejections] == [("span", reason), ("relation", reason)]


def test_choice_outside_codebook_is_rejected(scheme: Scheme) -> None:
    s = TEXT.index("President Trump")
    items = span_items("a9", s, s + 15, "President Trump", "Actor", "no_such_actor")
    conv = convert(task(ann([*spans(), *items, relation_item("a9", "p1", "support")])), scheme)
    assert reasons(conv) == ["label_outside_codebook"] and "no_such_actor" in conv.rejections[0]["detail"]


def test_relation_drawn_from_policy_end_and_leftward_relations(scheme: Scheme) -> None:
    left = {**relation_item("p2", "a2", "oppose"), "direction": "left"}
    backwards = relation_item("p1", "a1", "support")
    conv = convert(task(ann([*spans(), left, backwards])), scheme)
    assert [(r["actor_id"], r["policy_id"]) for r in conv.statements] == [
        ("claudia_sheinbaum", "us_troops_in_mexico"), ("donald_trump", "us_troops_in_mexico")]


def test_names_outside_the_codebook_get_external_ids(scheme: Scheme) -> None:
    fa, fp = TEXT.index("The foundation"), TEXT.index("little")
    a = span_items("a9", fa, fa + 14, "The foundation", "Actor", "Friends of the Foundation", in_codebook=False)
    p = span_items("p9", fp, fp + 6, "little", "Policy", "Donald Trump", in_codebook=False)
    conv = convert(task(ann([*a, *p, relation_item("a9", "p9", "neutral")])), scheme)
    row = conv.statements[0]
    assert (row["actor_id"], row["actor_label"], row["actor_type"]) == (
        "x:friends-of-the-foundation", "Friends of the Foundation", "unknown")
    assert (row["policy_id"], row["policy_label"]) == ("x:donald-trump", "Donald Trump")  # actors aren't options


def test_statement_items_keep_their_context_and_null_offsets(scheme: Scheme) -> None:
    start = TEXT.index("Sheinbaum declined")
    end = TEXT.index("troops.", start) + len("troops.")
    items = [statement_item("s1", "Claudia Sheinbaum", "Trump's offer", "oppose", start, end),
             statement_item("s2", "(author)", "x", "oppose", 5, 99999),
             statement_item("s3", "Sheinbaum", "y", "hates", start, end)]
    conv = convert(task(ann(items)), scheme)
    (row,) = conv.statements
    # the apostrophe is not kept, so the id carries a hash of the name (unique against "Trumps offer")
    assert row["actor_id"] == "claudia_sheinbaum" and row["policy_id"].startswith("x:trumps-offer_")
    assert row["context"] == TEXT[start:end] and row["context_start"] == start
    assert row["actor_start"] is None and row["actor_context_start"] is None
    assert row["actor_mention"] == "Claudia Sheinbaum"
    assert reasons(conv) == ["label_outside_codebook", "offsets_out_of_range"]


def test_utf16_offsets_from_label_studio_are_mapped(scheme: Scheme) -> None:
    text = "🇲🇽 flag\n\nSheinbaum rejected U.S. military assistance."
    shift = len("🇲🇽".encode("utf-16-le")) // 2 - len("🇲🇽")
    s = text.index("Sheinbaum")
    items = [*span_items("a1", s + shift, s + shift + 9, "Sheinbaum", "Actor", "claudia_sheinbaum"),
             *span_items("p1", text.index("U.S.") + shift, text.index("U.S.") + shift + 24,
                         "U.S. military assistance", "Policy", "us_troops_in_mexico"),
             relation_item("a1", "p1", "oppose")]
    conv = convert({"id": 1, "annotations": [ann(items)]}, scheme, text=text)
    (row,) = conv.statements
    assert (row["actor_start"], row["actor_mention"]) == (s, "Sheinbaum")
    assert text[row["policy_start"]:row["policy_end"]] == "U.S. military assistance"


def test_article_labels_and_unknown_items(scheme: Scheme) -> None:
    items = [{"id": "d1", "from_name": "relevance", "to_name": "text", "type": "choices",
              "value": {"choices": ["relevant"]}},
             {"id": "d2", "from_name": "primary_frame", "to_name": "text", "type": "choices",
              "value": {"choices": ["aliens"]}},
             {"id": "r1", "from_name": "rating", "to_name": "text", "type": "rating", "value": {"rating": 4}},
             *GOOD]
    conv = convert(task(ann(items)), scheme)
    assert conv.article["relevance"] == "relevant" and conv.article["primary_frame"] is None
    assert conv.article["statements"] == 2 and conv.article["annotation_id"] == "1"
    assert reasons(conv) == ["label_outside_codebook", "unknown_item"]


def test_mentions_are_sentence_rows_with_bio_tags(scheme: Scheme) -> None:
    conv = convert(task(ann(GOOD)), scheme)
    names = scheme.tag_names
    assert names == ["O", "B-Actor", "I-Actor", "B-Policy", "I-Policy"]
    rows = conv.mentions.rows(names)
    assert [r["sentence"] for r in rows] == [0, 1, 2, 3]
    row = rows[1]
    assert row["text"] == TEXT[row["start"]:row["end"]]
    tagged = [(t, names[g]) for t, g in zip(row["tokens"], row["tags"], strict=True) if g]
    assert tagged == [("President", "B-Actor"), ("Trump", "I-Actor"), ("deploy", "B-Policy"),
                      ("American", "I-Policy"), ("troops", "I-Policy")]
    for r in rows:
        assert [r["text"][s:e] for s, e in zip(r["token_starts"], r["token_ends"], strict=True)] == r["tokens"]


def test_overlapping_spans_are_reported_not_tagged(scheme: Scheme) -> None:
    s = TEXT.index("American troops")
    extra = span_items("p9", s, s + 8, "American", "Actor", "us_government")
    conv = convert(task(ann([*GOOD, *extra])), scheme)
    assert reasons(conv) == ["overlapping_span"] and conv.rejections[0]["relations"] == 0
    assert len(conv.statements) == 2


def test_a_span_across_sentences_joins_them_in_mentions(scheme: Scheme) -> None:
    s = TEXT.index("troops. Sheinbaum")
    items = span_items("a9", s, s + len("troops. Sheinbaum"), "troops. Sheinbaum", "Actor", "us_government")
    conv = convert(task(ann(items)), scheme)
    assert len(conv.mentions) == 3
    assert "troops. Sheinbaum" in conv.mentions.rows(scheme.tag_names)[1]["text"]


def test_reject_task_accounts_for_every_relation(scheme: Scheme) -> None:
    conv = reject_task(task(ann(GOOD), ann([], aid=2)), Document("art", TEXT), "duplicate_article", "twice")
    assert conv.relations_in == 2 == sum(r["relations"] for r in conv.rejections)
    assert reasons(conv) == ["duplicate_article", "duplicate_article"]


def test_malformed_shapes_do_not_crash(scheme: Scheme) -> None:
    conv = convert({"id": "7", "annotations": [5, ann("nope"), ann([3, *GOOD])]}, scheme)  # type: ignore[arg-type]
    assert len(conv.statements) == 2 and conv.article["task_id"] == 7
    assert reasons(conv) == ["malformed", "malformed", "malformed"]
    assert reasons(convert({"id": 1, "annotations": {"x": 1}}, scheme)) == ["malformed"]


_junk = st.recursive(st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                     max_leaves=6)
_item = st.fixed_dictionaries(
    {"type": st.sampled_from(["labels", "choices", "textarea", "relation", "statement", "rating", None, 3])},
    optional={"id": st.sampled_from(["a1", "p1", "a2", "p2", "zz", 7]),
              "from_name": st.sampled_from(["mention", "actor", "policy", "canonical", "relevance", ["x"], None]),
              "from_id": st.sampled_from(["a1", "p1", "a2", "zz", None]),
              "to_id": st.sampled_from(["p1", "p2", "a1", "zz", [1]]),
              "direction": st.sampled_from(["right", "left", "bi"]),
              "labels": st.lists(st.sampled_from(["support", "oppose", "conditional", "maybe", 1]), max_size=3) | _junk,
              "value": _junk | st.fixed_dictionaries({}, optional={
                  "start": st.integers(-2, 200) | _junk, "end": st.integers(-2, 200), "text": _junk,
                  "labels": st.lists(st.sampled_from(["Actor", "Policy", "X"]), max_size=2),
                  "choices": st.lists(st.sampled_from(["donald_trump", "extradition", "relevant", "nope"]),
                                      max_size=2),
                  "stance": st.sampled_from(["support", "oppose", "x", None]), "actor": _junk, "target": _junk,
                  "context_start": st.integers(-1, 150), "context_end": st.integers(-1, 150)})})


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_item | _junk, max_size=8), min_size=0, max_size=3), st.lists(st.booleans(), max_size=3))
def test_any_result_converts_or_is_reported(results: list, flags: list) -> None:
    scheme = Scheme.from_codebook(load_codebook())
    annotations = [ann(r, aid=i, ground_truth=flags[i] if i < len(flags) else False)
                   for i, r in enumerate(results)]
    conv = convert(task(*annotations), scheme)  # never raises: every relation is a row or a rejection line
    assert conv.relations_in == len(conv.statements) + conv.relations_rejected
    if conv.mentions is not None:
        conv.mentions.rows(scheme.tag_names)
