"""Gazetteer pre-annotations: codebook aliases found in the seed article, valid against the codebook, the same
mentions `training extract` finds without a tagger."""

from __future__ import annotations

import pytest

from annotation.gazetteer import gazetteer_prediction, model_version
from annotation.validate import read_annotation
from corpus.codebook import load_codebook
from corpus.gazetteer import MATCHER_VERSION, Gazetteer
from corpus.store import CorpusStore


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(load_codebook())


@pytest.fixture(scope="module")
def text() -> str:
    return CorpusStore().read_article("article-001").text


def test_seed_article_mentions(gazetteer: Gazetteer, text: str) -> None:
    surfaces = {(m.text, m.canonical) for m in gazetteer.find(text)}
    assert ("Mexican President Claudia Sheinbaum", "claudia_sheinbaum") in surfaces
    assert ("deploy American troops", "us_troops_in_mexico") in surfaces


def test_prediction_is_valid_and_scored(gazetteer: Gazetteer, text: str) -> None:
    cb = gazetteer.codebook
    pred = gazetteer_prediction(text, gazetteer)
    assert pred["model_version"] == model_version(cb) == f"gazetteer-{cb.version}-m{MATCHER_VERSION}"
    assert 0 < pred["score"] <= 1
    coded, issues = read_annotation("1", text, {"id": 1, "result": pred["result"]}, "gazetteer", cb)
    assert issues == [] and len(coded.spans) == len(pred["result"]) // 2
    assert gazetteer_prediction("Nothing to see here.", gazetteer) is None


def test_prediction_regions_are_the_mentions_extract_finds(gazetteer: Gazetteer, text: str) -> None:
    from training.tagger import find_mentions

    regions = [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0], r["score"])
               for r in gazetteer_prediction(text, gazetteer)["result"] if r["from_name"] == "mention"]
    assert regions == [(m.start, m.end, m.label, m.score) for m in find_mentions(text, gazetteer)]
