"""Sentence segmentation and tokenisation with exact character offsets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from corpus.sentences import merge_across, segment, split_sentences, tokenize


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_news_prose() -> None:
    text = ('Mexican President Claudia Sheinbaum declined U.S. President Donald Trump’s offer. "We can '
            'collaborate," she said. "No." Then Mr. J. Smith left on Jan. 5. It rained!  Did it?\n\n'
            'A new paragraph\nwith a line break')
    assert texts(text) == [
        "Mexican President Claudia Sheinbaum declined U.S. President Donald Trump’s offer.",
        '"We can collaborate," she said.', '"No."', "Then Mr. J. Smith left on Jan. 5.", "It rained!",
        "Did it?", "A new paragraph", "with a line break"]


def test_no_sentence_in_blank_text() -> None:
    assert split_sentences("") == [] and split_sentences(" \n\n \n") == []


def test_source_sentences_are_used_where_given() -> None:
    text = "Title\nFirst one. Still first.\nSecond."
    given_spans = [[0, 6, 29], [1, 30, 37]]
    assert [text[s:e] for s, e in segment(text, given_spans)] == ["Title", "First one. Still first.", "Second."]
    assert segment(text, [[0, 6, 999]]) == split_sentences(text)  # invalid: ignored whole
    assert segment(text, None) == split_sentences(text)


def test_merge_across_joins_sentences_a_span_crosses() -> None:
    sents = [(0, 5), (6, 10), (11, 15), (16, 20)]
    assert merge_across(sents, [(3, 7)]) == [(0, 10), (11, 15), (16, 20)]
    assert merge_across(sents, [(12, 19), (1, 2)]) == [(0, 5), (6, 10), (11, 20)]
    assert merge_across(sents, []) == sents


def test_tokenize_offsets_relative_to_start() -> None:
    text = "xx Trump’s U.S.-backed plan."
    tokens, starts, ends = tokenize(text, 3)
    assert tokens == ["Trump", "’", "s", "U", ".", "S", ".", "-", "backed", "plan", "."]
    assert [text[3 + s:3 + e] for s, e in zip(starts, ends, strict=True)] == tokens


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\"'AB1")), max_size=80))
def test_sentences_cover_every_non_blank_character_once(text: str) -> None:
    spans = split_sentences(text)
    covered = [False] * len(text)
    last = -1
    for s, e in spans:
        assert last <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        for i in range(s, e):
            covered[i] = True
        last = e
    assert all(covered[i] for i, c in enumerate(text) if not c.isspace())
