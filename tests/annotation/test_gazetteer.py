"""Gazetteer pre-annotations: codebook aliases found in the seed article, valid against the codebook."""

from __future__ import annotations

from annotation.gazetteer import find_mentions, gazetteer_prediction, model_version
from annotation.validate import read_annotation
from corpus.codebook import load_codebook
from corpus.store import CorpusStore


def test_seed_article_mentions():
    cb = load_codebook()
    text = CorpusStore().read_article("article-001").text
    found = find_mentions(text, cb)
    surfaces = {(text[s:e], cid) for s, e, _, cid, _ in found}
    assert ("Mexican President Claudia Sheinbaum", "claudia_sheinbaum") in surfaces
    assert ("deploy American troops", "us_troops_in_mexico") in surfaces
    spans = sorted((s, e) for s, e, *_ in found)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # never overlapping


def test_prediction_is_valid_and_scored():
    cb = load_codebook()
    text = CorpusStore().read_article("article-001").text
    pred = gazetteer_prediction(text, cb)
    assert pred["model_version"] == model_version(cb) == f"gazetteer-{cb.version}"
    assert 0 < pred["score"] <= 1
    coded, issues = read_annotation("1", text, {"id": 1, "result": pred["result"]}, "gazetteer", cb)
    assert issues == [] and len(coded.spans) == len(pred["result"]) // 2
    assert gazetteer_prediction("Nothing to see here.", cb) is None
