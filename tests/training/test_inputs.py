"""Target-aware input: markers around located mentions, a marked prefix for unlocated ones, the pair form."""

from __future__ import annotations

import math

import pytest

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


def test_locate_unplaced_marks_what_the_importer_rules_find() -> None:
    """A statement imported without offsets (its other side could not be placed) gets each findable side marked."""
    unplaced = {"context": "Mr. Obama told the president of Mexico that Congress would not fund the wall.",
                "actor_mention": "Barack Obama", "policy_mention": "border wall funding",
                "actor_context_start": None, "actor_context_end": None,
                "policy_context_start": None, "policy_context_end": None}
    assert model_text(unplaced, "markers") == ("[ACT] Barack Obama [/ACT] [POL] border wall funding [/POL]",
                                               unplaced["context"])
    # "Obama" is only part of "Barack Obama": marked where found, and given whole before the context
    assert model_text(unplaced, "markers", locate_unplaced=True) == (
        "Barack Obama [POL] border wall funding [/POL]",
        "Mr. [ACT] Obama [/ACT] told the president of Mexico that Congress would not fund the wall.")
    both = {**unplaced, "actor_mention": "Obama", "policy_mention": "Congress"}
    assert model_text(both, "markers", locate_unplaced=True) == (
        "Mr. [ACT] Obama [/ACT] told the president of Mexico that [POL] Congress [/POL] would not fund the wall.",
        None)
    # holders without a name stay in the prefix; a side already placed is never moved or overlapped
    author = {**both, "actor_mention": "(author)"}
    assert model_text(author, "markers", locate_unplaced=True)[0] == "[ACT] (author) [/ACT]"
    placed = {**both, "policy_mention": "Mexico", "actor_mention": "Mexico", "policy_context_start": 32,
              "policy_context_end": 38}
    prefix, marked = mark(placed, locate_unplaced=True)
    assert prefix == "[ACT] Mexico [/ACT]" and marked.count("[POL]") == 1 and "[ACT]" not in marked


# the importers' rules find "Cuba" and "Pelosi": one word of each side (the defect was marking only those)
PARTLY = {"context": "Senators said the embargo on Cuba must go, and Pelosi agreed.",
          "actor_mention": "Nancy Pelosi", "actor_label": "Nancy Pelosi",
          "policy_mention": "the state should lift the embargo on Cuba",
          "policy_label": "the state should lift the embargo on Cuba",
          "actor_context_start": None, "actor_context_end": None,
          "policy_context_start": None, "policy_context_end": None}
NO_OFFSETS = {**PARTLY, "context": "The measure passed on Tuesday after a long night."}


def _bundled_inputs(config_name: str, row: dict) -> list[str]:
    """What the model of a bundled config reads for `row`, in every input form it can take."""
    from training.config import load_config
    from training.sklearn_models import statement_frame

    cfg, _ = load_config(config_name)
    if cfg.kind == "tfidf_logreg":
        assert cfg.sklearn is not None
        frame = statement_frame([row], cfg.sklearn.mask_names, cfg.sklearn.prefix_unlocated, cfg.data.locate_unplaced)
        # what the pipeline reads: the text, and the actor and target names where entity_names adds them
        columns = ["text", "actor", "policy"] if cfg.sklearn.entity_names else ["text"]
        return [" | ".join(frame[c][0] for c in columns)]
    out = []
    for form in ("markers", "pair"):
        first, second = model_text(row, form, cfg.data.locate_unplaced)
        out.append(f"{first} {second or ''}")
    return out


@pytest.mark.parametrize("config_name", ["tfidf_logreg", "detector_tfidf", "minilm", "tiny", "detector_tiny"])
@pytest.mark.parametrize("row", [NO_OFFSETS, PARTLY], ids=["no-offsets", "target-partly-found"])
def test_every_bundled_model_sees_the_whole_actor_and_target(config_name: str, row: dict) -> None:
    """(majority reads no text.) A row without offsets, and one whose target is found only in part, both give
    the model the whole target and actor text."""
    if row is PARTLY:
        assert "[POL] Cuba [/POL]" in mark(row, locate_unplaced=True)[1]  # found in part, marked there
    for text in _bundled_inputs(config_name, row):
        assert row["policy_mention"] in text, text
        assert row["actor_mention"] in text, text
