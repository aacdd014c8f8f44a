"""Target-aware input: markers around located mentions, a marked prefix for unlocated ones, the pair form."""

from __future__ import annotations

import math

from training.inputs import WORD_MARKERS, mark, model_text, sklearn_text

ROW = {"context": "Sheinbaum rejected US troops on Mexican soil.", "actor_mention": "Sheinbaum",
       "policy_mention": "US troops on Mexican soil", "actor_context_start": 0, "actor_context_end": 9,
       "policy_context_start": 19, "policy_context_end": 44}


def test_markers_wrap_both_mentions() -> None:
    assert model_text(ROW, "markers") == ("[ACT] Sheinbaum [/ACT] rejected [POL] US troops on Mexican soil [/POL] .",
                                          None)


def test_pair_form_puts_entities_first() -> None:
    assert model_text(ROW, "pair") == ("Sheinbaum ; US troops on Mexican soil", ROW["context"])


def test_unlocated_mentions_are_prefixed_with_markers() -> None:
    row = {**ROW, "actor_context_start": None, "actor_context_end": None}
    assert model_text(row, "markers") == ("[ACT] Sheinbaum [/ACT]",
                                          "Sheinbaum rejected [POL] US troops on Mexican soil [/POL] .")
    none = {**ROW, "actor_context_start": math.nan, "policy_context_start": None}  # pandas NaN too
    first, second = model_text(none, "markers")
    assert first == "[ACT] Sheinbaum [/ACT] [POL] US troops on Mexican soil [/POL]" and second == ROW["context"]


def test_out_of_range_offsets_fall_back_to_the_prefix() -> None:
    row = {**ROW, "policy_context_start": 30, "policy_context_end": 400}
    prefix, marked = mark(row)
    assert prefix == "[POL] US troops on Mexican soil [/POL]" and "[POL]" not in marked


def test_nested_and_adjacent_spans_keep_markers_balanced() -> None:
    row = {"context": "The Trump administration plan", "actor_context_start": 4, "actor_context_end": 24,
           "policy_context_start": 4, "policy_context_end": 9, "actor_mention": "x", "policy_mention": "y"}
    assert mark(row)[1] == "The [ACT] [POL] Trump [/POL] administration [/ACT] plan"
    row = {**row, "policy_context_start": 24, "policy_context_end": 29}
    assert mark(row)[1] == "The [ACT] Trump administration [/ACT] [POL] plan [/POL]"


def test_sklearn_text_uses_word_markers() -> None:
    text = sklearn_text(ROW)
    assert text.startswith(f"{WORD_MARKERS['[ACT]']} Sheinbaum {WORD_MARKERS['[/ACT]']} rejected")
