"""The codebook gazetteer every package shares: longest-first whole-word matching with exact offsets, the
case rules, scores, and normalisation of surface forms to codebook ids."""

from __future__ import annotations

import pytest

from corpus.codebook import Actor, load_codebook
from corpus.gazetteer import MULTI_WORD_SCORE, SINGLE_WORD_SCORE, Gazetteer
from corpus.store import CorpusStore


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(load_codebook())


def found(gazetteer: Gazetteer, text: str) -> list[tuple[str, str | None]]:
    return [(m.text, m.canonical) for m in gazetteer.find(text)]


def test_gazetteer_finds_the_longest_alias_with_exact_offsets(gazetteer: Gazetteer) -> None:
    text = "U.S. President Donald Trump met Sheinbaum. The Trump administration wants to enhance border security."
    assert [(m.text, m.label, m.canonical) for m in gazetteer.find(text)] == [
        ("U.S. President Donald Trump", "Actor", "donald_trump"), ("Sheinbaum", "Actor", "claudia_sheinbaum"),
        ("The Trump administration", "Actor", "trump_administration"),
        ("enhance border security", "Policy", "border_security")]
    assert all(text[m.start:m.end] == m.text and m.source == "gazetteer" for m in gazetteer.find(text))


def test_a_longer_alias_wins_over_an_earlier_shorter_one(gazetteer: Gazetteer) -> None:
    # "the U.S." starts first, but "U.S. government" is longer: the whole government, not the country.
    assert found(gazetteer, "Funding from the U.S. government ended.") == [("U.S. government", "us_government")]
    assert found(gazetteer, "Sheinbaum said no to the presence of the United States Army on our territory.") == [
        ("Sheinbaum", "claudia_sheinbaum"),
        ("the presence of the United States Army on our territory", "us_troops_in_mexico")]


def test_a_match_cut_on_its_right_falls_back_to_a_shorter_alias() -> None:
    cb = load_codebook()
    actors = [Actor(id="border_patrol", label="Border Patrol", type="agency", aliases=["Border"]),
              Actor(id="rodney_scott", label="Rodney Scott", type="person", aliases=["Patrol chief Rodney Scott"])]
    gazetteer = Gazetteer(cb.model_copy(update={"actors": actors, "policy_options": []}))
    assert found(gazetteer, "Border Patrol chief Rodney Scott spoke.") == [
        ("Border", "border_patrol"), ("Patrol chief Rodney Scott", "rodney_scott")]


@pytest.mark.parametrize("text, expected", [
    ("Trumpets and a trump card; Kellyanne spoke.", []),  # whole words; a single word only as written
    ("WASHINGTON (Reuters) - TRUMP spoke.", []),  # a dateline is a place; capitals only for multi-word aliases
    ("the heritage Foundation", []),  # an alias's capitals stay capitals
    ("Officials of the Trump Administration said", [("the Trump Administration", "trump_administration")]),
    ("THE WHITE HOUSE SAID", [("THE WHITE HOUSE", "white_house")]),
    ("WE CAN SHARE INFORMATION", [("WE CAN SHARE INFORMATION", "intelligence_sharing")]),  # policies: any case
    ("the Mexican President’s plan", [("the Mexican President", "claudia_sheinbaum")]),  # a possessive ends a word
    ("cooperation within each country’s territory", [("cooperation within each country’s territory",
                                                      "bilateral_cooperation")]),  # ’ and ' are one
])
def test_case_rules(gazetteer: Gazetteer, text: str, expected: list[tuple[str, str]]) -> None:
    assert found(gazetteer, text) == expected


def test_scores_say_how_ambiguous_the_alias_is(gazetteer: Gazetteer) -> None:
    scores = {m.text: m.score for m in gazetteer.find("Mexico and President Trump agreed.")}
    assert scores == {"Mexico": SINGLE_WORD_SCORE, "President Trump": MULTI_WORD_SCORE}


def test_gazetteer_recalls_every_gold_span_it_has_an_alias_for_on_the_seed(gazetteer: Gazetteer) -> None:
    store = CorpusStore()
    text = store.read_article("article-001").text
    gold = store.read_task(store.task_path("article-001"))["annotations"][0]["result"]
    spans = {(r["value"]["start"], r["value"]["end"]) for r in gold if r.get("from_name") == "mention"}
    mentions = gazetteer.find(text)
    assert len(spans & {(m.start, m.end) for m in mentions}) >= 18  # of 26 gold spans; "she", "Military Aid"
    assert all(a.end <= b.start for a, b in zip(mentions, mentions[1:], strict=False))  # in order, no overlap


@pytest.mark.parametrize("surface, label, expected", [
    ("Claudia Sheinbaum", "Actor", "claudia_sheinbaum"),  # exact alias
    ("the Mexican president's", "Actor", "claudia_sheinbaum"),  # article and possessive dropped
    ("Mexican President Claudia Sheinbaum's government", "Actor", "claudia_sheinbaum"),  # alias inside
    ("Claudia Sheinbam", "Actor", "claudia_sheinbaum"),  # a typo: character similarity
    ("share information", "Policy", "intelligence_sharing"),  # inside a longer example
    ("deploying American troops", "Policy", "us_troops_in_mexico"),  # shared stems
    ("designating the cartels as terrorist organizations", "Policy", "terrorist_designation"),
    ("she", "Actor", None),  # a pronoun is resolved from context, never from the table
    ("the weather in Oaxaca", "Policy", None),  # nothing close
])
def test_normalise(gazetteer: Gazetteer, surface: str, label: str, expected: str | None) -> None:
    assert gazetteer.normalise(surface, label)[0] == expected
