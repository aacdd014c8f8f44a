"""Fixtures of the evaluation tests: a tiny `statements` dataset of the real schema, and fake predictors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus.codebook import load_codebook

ACTORS = [("claudia_sheinbaum", "Claudia Sheinbaum", "person"), ("trump_administration", "Trump administration",
                                                                  "government"),
          ("heritage_foundation", "The Heritage Foundation", "think_tank")]
POLICIES = [("us_troops_in_mexico", "US troops on Mexican soil"), ("border_security", "Stronger border security")]


def statement_rows(n_articles: int, per_article: int, split: str, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of the `statements` schema with varied actors, options, sources and gold stances."""
    rng = np.random.default_rng(seed)
    names = load_codebook().stance_names
    rows = []
    for a in range(n_articles):
        for k in range(per_article):
            actor = ACTORS[(a + k) % len(ACTORS)]
            policy = POLICIES[(a * 3 + k) % len(POLICIES)]
            stance = names[int(rng.choice(len(names), p=[0.45, 0.45, 0.10]))]
            context = f"Sentence {k} of article {a}: {actor[1]} spoke about {policy[1].lower()} today."
            a_start = context.index(actor[1])
            p_start = context.index(policy[1].lower())
            rows.append({
                "id": f"{split}-a{a}/1/r{k}", "article_id": f"{split}-a{a}", "task_id": 100 + a,
                "annotation_id": "1", "annotator": "gold",
                "actor_id": actor[0], "actor_label": actor[1], "actor_type": actor[2],
                "policy_id": policy[0], "policy_label": policy[1],
                "actor_mention": actor[1], "actor_start": a_start, "actor_end": a_start + len(actor[1]),
                "policy_mention": policy[1].lower(), "policy_start": p_start,
                "policy_end": p_start + len(policy[1]),
                "stance": names.index(stance), "qualifiers": [], "context": context, "context_start": 0,
                "actor_context_start": a_start, "actor_context_end": a_start + len(actor[1]),
                "policy_context_start": p_start, "policy_context_end": p_start + len(policy[1]),
                "source": "wire" if a % 2 else "daily", "group": f"{split}-a{a}", "origin": "test",
            })
    return rows


CARD = """---
pretty_name: tiny
newsstance:
  digest: sha256:abc123
  digest_method: test
---
# tiny
"""
# the shape `annotation agreement --json` writes and `corpus build --agreement` copies to DATASET/agreement.json
AGREEMENT = {
    "tasks_compared": 10,
    "stance": {"units": 40, "krippendorff_alpha": 0.71, "mean_cohen_kappa": 0.69, "observed_agreement": 0.8,
               "per_label": {"support": {"specific_agreement": 0.84, "agreed": 16, "codings": 38},
                             "oppose": {"specific_agreement": 0.8, "agreed": 14, "codings": 35},
                             "neutral": {"specific_agreement": 0.0, "agreed": 0, "codings": 0}}},
    "statements": {"f1": 0.64, "matches": 30, "codings": 94},
    "by_pair": [{"annotators": ["a", "b"], "cohen_kappa": 0.69}],
}


def save_dataset(root: Path, splits: dict[str, list[dict[str, Any]]], card: str | None = CARD) -> Path:
    """Save `splits` as DATASET/statements (a DatasetDict with a ClassLabel stance) plus a card."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    names = load_codebook().stance_names
    str_cols = ["id", "article_id", "annotation_id", "annotator", "actor_id", "actor_label", "actor_type",
                "policy_id", "policy_label", "actor_mention", "policy_mention", "context", "source", "group", "origin"]
    int_cols = ["task_id", "actor_start", "actor_end", "policy_start", "policy_end", "context_start",
                "actor_context_start", "actor_context_end", "policy_context_start", "policy_context_end"]
    features = Features({**{c: Value("string") for c in str_cols}, **{c: Value("int64") for c in int_cols},
                         "stance": ClassLabel(names=names), "qualifiers": Sequence(Value("string"))})
    dd = DatasetDict({s: Dataset.from_list(rows, features=features) for s, rows in splits.items()})
    dd.save_to_disk(str(root / "statements"))
    if card:
        (root / "README.md").write_text(card, encoding="utf-8")
        (root / "agreement.json").write_text(json.dumps(AGREEMENT), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 test articles x 4 statements, 4 validation articles, 4 train articles."""
    root = tmp_path_factory.mktemp("dataset")
    return save_dataset(root, {"train": statement_rows(4, 4, "train", 1),
                               "validation": statement_rows(4, 4, "validation", 2),
                               "test": statement_rows(12, 4, "test", 3)})


class FakePredictor:
    """The `training.predict` predictor API: `.labels` and `.predict_proba(rows)`; right on ~`skill` of rows."""

    def __init__(self, skill: float = 0.75, seed: int = 0, labels: list[str] | None = None,
                 run_id: str | None = None) -> None:
        self.labels = labels or ["oppose", "support", "neutral"]  # deliberately not in codebook order
        self.skill, self.seed, self.run_id = skill, seed, run_id

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        out = np.zeros((len(rows), len(self.labels)))
        for i, r in enumerate(rows):
            right = rng.random() < self.skill
            guess = r["stance"] if right else self.labels[(self.labels.index(r["stance"]) + 1) % len(self.labels)]
            p = rng.dirichlet(np.ones(len(self.labels)))
            p = 0.5 * p
            p[self.labels.index(guess)] += 0.5
            out[i] = p
        return out


def write_predictions(path: Path, rows: list[dict[str, Any]], labels: list[str], **extra: Any) -> Path:
    path.write_text("".join(json.dumps({"id": r["id"], "predicted": lab, **extra}) + "\n"
                            for r, lab in zip(rows, labels, strict=True)), encoding="utf-8")
    return path
