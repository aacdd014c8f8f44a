"""Article context for statement rows: the preceding sentences and title, with the mentions still marked right."""

from __future__ import annotations

from training.context import attach, context_text, preceding_sentences
from training.inputs import model_text

TITLE = "Mexico rejects US troops"
TEXT = ("The president spoke on Monday. He was asked about the border. "
        "She rejected US troops on Mexican soil. Aides agreed.")
START = TEXT.index("She rejected")
ROW = {"article_id": "a1", "context": "She rejected US troops on Mexican soil.", "context_start": START,
       "actor_mention": "She", "policy_mention": "US troops on Mexican soil",
       "actor_context_start": 0, "actor_context_end": 3, "policy_context_start": 13, "policy_context_end": 38}


def test_preceding_sentences_end_before_the_context() -> None:
    assert preceding_sentences(TEXT, START) == ["The president spoke on Monday.", "He was asked about the border."]
    assert preceding_sentences(TEXT, START, 1) == ["He was asked about the border."]
    assert preceding_sentences(TEXT, 0) == []


def test_the_context_segment_leaves_the_marked_sentence_and_its_offsets_as_they_were() -> None:
    (row,) = attach([ROW], {"a1": (TITLE, TEXT)})
    assert row["title"] == TITLE and len(row["preceding"]) == 2
    first, second = model_text(row, "markers", context_sentences=1, context_title=True)
    assert first == "[ACT] She [/ACT] rejected [POL] US troops on Mexican soil [/POL] ."
    assert second == f"{TITLE} . He was asked about the border."
    assert model_text(row, "markers") == (first, None)  # a model without context reads what it read before
    pair = model_text(row, "pair", context_sentences=2)
    assert pair == ("She ; US troops on Mexican soil",
                    f"{' '.join(row['preceding'])} {ROW['context']}")


def test_rows_without_their_article_get_no_context() -> None:
    (row,) = attach([{**ROW, "article_id": "elsewhere"}], {"a1": (TITLE, TEXT)})
    assert "preceding" not in row
    assert context_text(row, 2, True) == ""
    assert model_text(row, "markers", context_sentences=2)[1] is None


def test_left_truncation_keeps_the_sentence_and_cuts_the_farthest_context() -> None:
    from training.transformer import encode, load_tokenizer

    tokenizer = load_tokenizer("tests/fixtures/tiny_model", "markers")
    long = {**ROW, "preceding": ["the border " * 40, "He was asked about the border."]}
    ds = encode(tokenizer, [long], "markers", 32, context_sentences=2)
    tokens = tokenizer.convert_ids_to_tokens(ds["input_ids"][0])
    assert len(tokens) == 32
    sep = tokens.index("[SEP]")
    assert tokens[1:sep] == tokenizer.tokenize(model_text(long, "markers")[0])  # the marked sentence whole
    assert tokens[-4:] == ["the", "border", ".", "[SEP]"]  # the nearest sentence kept, the far one cut
    assert tokenizer.truncation_side == "right"  # restored for everyone else
