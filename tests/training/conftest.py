"""Fixtures of the training tests: a small learnable `statements` dataset of the real schema, and a tracking store."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from corpus.codebook import load_codebook

ACTORS = [("claudia_sheinbaum", "Claudia Sheinbaum", "person"), ("donald_trump", "Donald Trump", "person"),
          ("heritage_foundation", "The Heritage Foundation", "think_tank")]
POLICIES = [("us_troops_in_mexico", "US troops on Mexican soil"), ("border_security", "Stronger border security"),
            ("extradition", "Extradition of cartel leaders")]
TEMPLATES = {
    "support": ["{a} backs {p}.", "{a} said she would support {p}.", "{a} praised {p} on Tuesday."],
    "oppose": ["{a} rejects {p}.", "{a} criticized {p} as a mistake.", "{a} warned against {p}."],
    "neutral": ["{a} asked about {p}.", "{a} was asked about {p} by reporters."],
}
STR_COLUMNS = ["id", "article_id", "task_id", "annotation_id", "annotator", "actor_id", "actor_label", "actor_type",
               "policy_id", "policy_label", "actor_mention", "policy_mention", "context", "source", "group", "origin"]
INT_COLUMNS = ["actor_start", "actor_end", "policy_start", "policy_end", "context_start", "actor_context_start",
               "actor_context_end", "policy_context_start", "policy_context_end"]


def statement_rows(split: str, n: int) -> list[dict[str, Any]]:
    """`n` rows of the statements schema (stance as a codebook index); every fourth has no offsets."""
    names = load_codebook().stance_names
    weights = ["support", "oppose", "support", "oppose", "neutral"]
    rows = []
    for i in range(n):
        stance = weights[i % len(weights)]
        actor, policy = ACTORS[i % len(ACTORS)], POLICIES[(i // 2) % len(POLICIES)]
        templates = TEMPLATES[stance]
        context = templates[i % len(templates)].format(a=actor[1], p=policy[1].lower())
        a0, p0 = context.index(actor[1]), context.index(policy[1].lower())
        located = i % 4 != 3
        article = f"{split}-article-{i // 4}"
        rows.append({
            "id": f"{article}/gold/{i}", "article_id": article, "task_id": f"task-{split}-{i // 4}",
            "annotation_id": "1", "annotator": "gold", "actor_id": actor[0], "actor_label": actor[1],
            "actor_type": actor[2], "policy_id": policy[0], "policy_label": policy[1],
            "actor_mention": actor[1], "policy_mention": policy[1].lower(),
            "actor_start": a0 if located else None, "actor_end": a0 + len(actor[1]) if located else None,
            "policy_start": p0 if located else None, "policy_end": p0 + len(policy[1]) if located else None,
            "stance": names.index(stance), "qualifiers": [], "context": context,
            "context_start": 0 if located else None,
            "actor_context_start": a0 if located else None,
            "actor_context_end": a0 + len(actor[1]) if located else None,
            "policy_context_start": p0 if located else None,
            "policy_context_end": p0 + len(policy[1]) if located else None,
            "source": "test", "group": article, "origin": "fixture",
        })
    return rows


def save_statements(root: Path, splits: dict[str, list[dict[str, Any]]], names: list[str] | None = None,
                    digest: str | None = "sha256:" + "ab" * 32) -> Path:
    """DATASET/statements as a DatasetDict with a ClassLabel stance (names default: the codebook's)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    names = names or load_codebook().stance_names
    features = Features({**{c: Value("string") for c in STR_COLUMNS}, **{c: Value("int32") for c in INT_COLUMNS},
                         "stance": ClassLabel(names=names), "qualifiers": List(Value("string"))})
    def split(rows: list[dict[str, Any]]) -> Dataset:
        if rows:
            return Dataset.from_list(rows, features=features)
        import pyarrow as pa  # an empty split, as the corpus build writes one

        return Dataset(pa.Table.from_pylist([], schema=features.arrow_schema))

    # an empty split needs one (empty) shard, or load_from_disk fails on it (as corpus.build does)
    DatasetDict({s: split(rows) for s, rows in splits.items()}).save_to_disk(
        str(root / "statements"), num_shards={s: 1 for s, rows in splits.items() if not rows})
    if digest:
        (root / "digest.json").write_text(json.dumps({"digest": digest}), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def statements_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATASET with train 48, validation 16, test 16 rows (support, oppose and some neutral)."""
    root = tmp_path_factory.mktemp("dataset")
    return save_statements(root, {"train": statement_rows("train", 48), "validation": statement_rows("val", 16),
                                  "test": statement_rows("test", 16)})


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A temporary SQLite tracking store shared by the session's training tests (created once: migrations are slow)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def unique(name: str, request: pytest.FixtureRequest) -> str:
    """A registry/experiment name unique to the test."""
    return f"{name}-{re.sub(r'[^A-Za-z0-9]+', '-', request.node.name)}".strip("-")[:120]
