"""SEESAW through the importer and `corpus build`: its own splits and label counts come through unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from corpus.build import BuildOptions, build_dataset
from tests.fixtures.seesaw_mini import mini_dir

REPO = Path(__file__).resolve().parents[2]
MINI = mini_dir()


def _import(directory: Path, out: Path) -> Path:
    from corpus.importers.seesaw import import_seesaw

    import_seesaw(directory, out)
    return out


def _check_contexts(out: Path) -> Counter:
    """Every located statement's mentions slice out of its context; returns rows per (split, stance)."""
    from datasets import load_from_disk

    dd = load_from_disk(str(out / "statements"))
    counts: Counter = Counter()
    names = dd["train"].features["stance"].names
    for split, ds in dd.items():
        for r in ds:
            counts[split, names[r["stance"]]] += 1
            if r["actor_start"] is not None:
                ctx = r["context"]
                assert ctx[r["actor_context_start"]:r["actor_context_end"]] == r["actor_mention"]
                assert ctx[r["policy_context_start"]:r["policy_context_end"]] == r["policy_mention"]
    return counts


def test_seesaw_mini_keeps_its_splits(tmp_path: Path) -> None:
    if not MINI.is_dir():
        pytest.skip("tests/fixtures/seesaw_mini not present (owned by the importer)")
    src = _import(MINI, tmp_path / "import")
    res = build_dataset(BuildOptions(out=tmp_path / "ds", sources=[src]))
    assert res.sizes["statements"] == {"train": 11, "validation": 2, "test": 3}
    counts = _check_contexts(tmp_path / "ds")
    assert counts["train", "support"] + counts["validation", "support"] + counts["test", "support"] == 6
    assert res.rejections.get("needs_adjudication", 0) == 0


@pytest.mark.shared
@pytest.mark.slow
def test_seesaw_builds_with_its_own_splits_and_counts(seesaw_dir: Path, tmp_path: Path) -> None:
    src = _import(seesaw_dir, tmp_path / "seesaw")
    res = build_dataset(BuildOptions(out=tmp_path / "ds", sources=[src]))
    assert res.sizes["statements"] == {"train": 6263, "validation": 2436, "test": 1920}
    assert res.sizes["articles"] == {"train": 381, "validation": 105, "test": 123}
    assert res.stance_counts["test"] == {"support": 714, "oppose": 1206}
    assert sum(res.stance_counts[s]["support"] for s in res.stance_counts) == 3995
    assert sum(res.stance_counts[s]["oppose"] for s in res.stance_counts) == 6624
    # nothing but annotators' own copies (superseded by the release's gold) and empty codings left out
    assert set(res.rejections) <= {"superseded", "empty_annotation"}
    counts = _check_contexts(tmp_path / "ds")
    assert counts["test", "support"] == 714 and counts["test", "oppose"] == 1206
