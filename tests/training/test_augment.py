"""Name augmentation touches only the mention spans, keeps the offsets right, and never the other text."""

from __future__ import annotations

import pytest

from training.augment import PLACEHOLDERS, augment_rows, name_pool, replace_mentions

ROW = {"context": "Yesterday Sheinbaum rejected US troops on Mexican soil, aides said.",
       "actor_mention": "Sheinbaum", "actor_label": "Claudia Sheinbaum",
       "policy_mention": "US troops on Mexican soil", "policy_label": "US troops in Mexico",
       "actor_context_start": 10, "actor_context_end": 19, "policy_context_start": 29, "policy_context_end": 54,
       "stance": "oppose"}


def spans(row: dict) -> tuple[str, str]:
    c = row["context"]
    return (c[row["actor_context_start"]:row["actor_context_end"]],
            c[row["policy_context_start"]:row["policy_context_end"]])


def test_masking_replaces_only_the_spans_and_moves_the_later_offsets() -> None:
    out = replace_mentions(ROW, {"actor": "someone", "policy": "something"})
    assert out["context"] == "Yesterday someone rejected something, aides said."
    assert spans(out) == ("someone", "something")
    assert out["actor_mention"] == "someone" and out["policy_label"] == "something"
    assert out["stance"] == "oppose" and ROW["context"].startswith("Yesterday Sheinbaum")  # input untouched


def test_a_target_before_the_actor_keeps_both_offsets_right() -> None:
    row = {**ROW, "context": "US troops on Mexican soil were rejected by Sheinbaum.", "policy_context_start": 0,
           "policy_context_end": 25, "actor_context_start": 43, "actor_context_end": 52}
    out = replace_mentions(row, {"policy": "the plan", "actor": "Donald Trump"})
    assert out["context"] == "the plan were rejected by Donald Trump."
    assert spans(out) == ("Donald Trump", "the plan")


def test_swapping_draws_other_names_of_the_same_side() -> None:
    rows = [ROW, {**ROW, "actor_mention": "Trump", "policy_mention": "tariffs on Mexico"}]
    pool = name_pool(rows)
    assert pool["actor"] == ["Sheinbaum", "Trump"]
    out, changed = augment_rows(rows, "swap", 1.0, ["actor", "policy"], seed=0)
    assert changed == 2
    assert out[0]["actor_mention"] == "Trump" and out[0]["policy_mention"] == "tariffs on Mexico"
    assert out[0]["context"] == "Yesterday Trump rejected tariffs on Mexico, aides said."
    assert spans(out[0]) == ("Trump", "tariffs on Mexico")


def test_an_unplaced_side_is_found_first_when_the_model_locates_mentions() -> None:
    row = {**ROW, "actor_context_start": None, "actor_context_end": None, "actor_mention": "Claudia Sheinbaum"}
    out, _ = augment_rows([row], "mask", 1.0, ["actor"], seed=0, locate_unplaced=True)
    assert out[0]["context"] == "Yesterday someone rejected US troops on Mexican soil, aides said."
    assert spans(out[0]) == ("someone", "US troops on Mexican soil")
    plain, _ = augment_rows([row], "mask", 1.0, ["actor"], seed=0)  # not located: only the name fields change
    assert plain[0]["context"] == row["context"] and plain[0]["actor_mention"] == PLACEHOLDERS["actor"]


def test_share_and_seed_decide_which_rows_change() -> None:
    rows = [dict(ROW) for _ in range(200)]
    out, changed = augment_rows(rows, "mask", 0.3, ["actor", "policy"], seed=13)
    assert 40 < changed < 80
    assert out == augment_rows(rows, "mask", 0.3, ["actor", "policy"], seed=13)[0]
    assert augment_rows(rows, "none", 1.0, ["actor"], seed=1)[1] == 0


def test_an_unknown_side_is_refused_by_the_config() -> None:
    from corpus.errors import InputError
    from training.config import load_config

    with pytest.raises(InputError, match="augment_sides"):
        load_config("minilm", ["data.augment_sides=[actor, speaker]"])
