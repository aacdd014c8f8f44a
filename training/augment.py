"""Name augmentation for training rows: the actor's and the target's mentions masked with a placeholder or
swapped for another name of the same side from the training data, so a model must read how the position is
expressed rather than learn which names tend to be liked. Only the mention spans change; every offset after a
replaced span moves with it. Validation, test and prediction rows are never augmented.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

SIDES = ("actor", "policy")
# What a masked mention reads as: plain words the tokenizer knows, one per side.
PLACEHOLDERS = {"actor": "someone", "policy": "something"}


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)


def _span(row: Mapping[str, Any], side: str, length: int) -> tuple[int, int] | None:
    start, end = row.get(f"{side}_context_start"), row.get(f"{side}_context_end")
    if start is None or end is None or start != start or end != end:
        return None
    start, end = int(start), int(end)
    return (start, end) if 0 <= start < end <= length else None


def replace_mentions(row: Mapping[str, Any], new: Mapping[str, str]) -> dict[str, Any]:
    """`row` with each side in `new` renamed: its span in the context (when it has one) and its mention and
    label fields; offsets of the other side shift by the change in length. Everything else is left as it is."""
    out = dict(row)
    context = _text(row.get("context"))
    spans = {side: _span(row, side, len(context)) for side in SIDES}
    overlap = spans["actor"] and spans["policy"] and not (spans["actor"][1] <= spans["policy"][0]
                                                         or spans["policy"][1] <= spans["actor"][0])
    # right to left, so an earlier span's offsets are still right when it is replaced
    for side in sorted((s for s in new if spans[s] is not None and not overlap), key=lambda s: -spans[s][0]):
        start, end = spans[side]
        context = context[:start] + new[side] + context[end:]
        delta = len(new[side]) - (end - start)
        out[f"{side}_context_end"] = start + len(new[side])
        for other in SIDES:
            if other != side and spans[other] is not None and spans[other][0] >= end:
                out[f"{other}_context_start"] = int(out[f"{other}_context_start"]) + delta
                out[f"{other}_context_end"] = int(out[f"{other}_context_end"]) + delta
    out["context"] = context
    for side, name in new.items():
        out[f"{side}_mention"] = name
        out[f"{side}_label"] = name
    return out


def name_pool(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The distinct mentions of each side in `rows` (what swapping draws from), sorted for reproducibility."""
    pool: dict[str, set[str]] = {side: set() for side in SIDES}
    for row in rows:
        for side in SIDES:
            name = _text(row.get(f"{side}_mention")) or _text(row.get(f"{side}_label"))
            if name and not (name.startswith("(") and name.endswith(")")):
                pool[side].add(name)
    return {side: sorted(names) for side, names in pool.items()}


def placed(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with each side that has no offsets located in the context by the importers' rules (as the model
    input's `locate_unplaced` does), so that renaming reaches the context and not only the prefix."""
    from training.inputs import locate

    out = dict(row)
    context = _text(row.get("context"))
    for side, other in (("actor", "policy"), ("policy", "actor")):
        if _span(out, side, len(context)) is None:
            found = locate(context, _text(row.get(f"{side}_mention")) or _text(row.get(f"{side}_label")),
                           _span(out, other, len(context)))
            if found is not None:
                out[f"{side}_context_start"], out[f"{side}_context_end"] = found
    return out


def augment_rows(rows: Sequence[Mapping[str, Any]], mode: str, share: float, sides: Sequence[str],
                 seed: int, locate_unplaced: bool = False) -> tuple[list[dict[str, Any]], int]:
    """A copy of `rows` where a `share` of them (drawn with `seed`) have the named `sides` masked (`mode`
    mask) or swapped for another name of that side (swap); returns the rows and how many were changed.
    With `locate_unplaced`, sides without offsets are first looked for in the context (`placed`)."""
    if mode == "none" or share <= 0:
        return [dict(r) for r in rows], 0
    unknown = [s for s in sides if s not in SIDES]
    if unknown:
        raise ValueError(f"unknown side {unknown[0]!r} (expected {', '.join(SIDES)})")
    rng = random.Random(seed)
    pool = name_pool(rows) if mode == "swap" else {}
    out, changed = [], 0
    for row in rows:
        if rng.random() >= share:
            out.append(dict(row))
            continue
        new = {}
        for side in sides:
            current = _text(row.get(f"{side}_mention")) or _text(row.get(f"{side}_label"))
            if current.startswith("(") and current.endswith(")"):
                continue  # "(author)" and the like name no one to mask
            if mode == "mask":
                new[side] = PLACEHOLDERS[side]
            else:
                choices = [n for n in pool.get(side, []) if n != current]
                if choices:
                    new[side] = rng.choice(choices)
        out.append(replace_mentions(placed(row) if locate_unplaced else row, new) if new else dict(row))
        changed += bool(new)
    return out, changed
