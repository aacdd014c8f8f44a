"""Sentence segmentation and tokenisation with exact character offsets."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.sentences import merge_across, segment, split_sentences, tokenize


@functools.cache
def _mention_schema() -> tuple:
    from corpus.codebook import load_codebook
    from corpus.convert import Scheme
    from corpus.tables import mention_features

    codebook = load_codebook()
    return mention_features(codebook), Scheme.from_codebook(codebook).tag_names


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


@settings(deadline=None)
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


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab_ .,’\n\té🇲1")), max_size=60))
def test_vectorised_token_bounds_equal_the_regex(text: str) -> None:
    from corpus.sentences import token_bounds

    starts, ends, nbytes, data = token_bounds(text)
    tokens, t_starts, t_ends = tokenize(text)
    assert starts.tolist() == t_starts and ends.tolist() == t_ends
    assert nbytes.tolist() == [len(t.encode()) for t in tokens]
    assert "".join(tokens) == "".join(text.split()) == data.decode()


@settings(deadline=None, max_examples=60)
@given(st.text(alphabet=st.sampled_from(list("ab .!\nA’é")), min_size=1, max_size=60), st.data())
def test_mention_table_equals_the_plain_rows(text: str, data: st.DataObject) -> None:
    from corpus.convert import MentionBlock
    from corpus.tables import mention_table

    features, names = _mention_schema()
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=4))))
    spans, pos = [], 0
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        if a >= pos and b > a and text[a:b].strip():
            spans.append((a, b, data.draw(st.sampled_from(["Actor", "Policy"]))))
            pos = b
    sentences = merge_across(split_sentences(text), [(a, b) for a, b, _ in spans])
    if data.draw(st.booleans()) and len(sentences) > 1:
        sentences = sentences[1:]  # a sentence left out: its tokens must not appear
        spans = [s for s in spans if s[0] >= sentences[0][0]]
    blocks = [MentionBlock("a", text, sentences, spans), MentionBlock("a-b", text, sentences, spans)]
    table = mention_table(blocks, features, names)
    expected = sorted((r for b in blocks for r in b.rows(names)), key=lambda r: r["id"])
    assert table.to_pylist() == expected
