"""Reliability and security tests (issue 8): bad input, properties, faults, secrets, data safety.

Shared helpers live here (this folder has no conftest of its own): a synthetic corpus of the real shape,
a tree snapshot for "nothing half-written" checks, and the one-line-error assertion every CLI case uses.
`python -m tests.reliability.report` runs the suite and writes RELIABILITY.md from its results.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# (surface, codebook id) pairs that occur in the synthetic articles; ids come from the bundled codebook.
ACTORS = (("Sheinbaum", "claudia_sheinbaum"), ("Trump", "donald_trump"),
          ("The Heritage Foundation", "heritage_foundation"))
POLICIES = (("deploy American troops", "us_troops_in_mexico"), ("strikes on cartel targets", "unilateral_strikes"),
            ("information sharing", "intelligence_sharing"))
VERBS = {"support": "backed", "oppose": "rejected", "neutral": "discussed"}


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root` (relative path -> sha256 of the bytes, or 'dir')."""
    snap: dict[str, str] = {}
    if not root.exists():
        return snap
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        snap[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return snap


def one_line_error(stderr: str, stdout: str = "") -> str:
    """The single `error: ...` line a CLI printed for bad input; fails on tracebacks or several lines."""
    assert "Traceback" not in stderr + stdout, f"a traceback was printed:\n{stderr}{stdout}"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("error: "), f"not an error line: {lines[0]!r}"
    return lines[0]


def run_module(package: str, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m <package> args...` in a fresh process, the way a user runs it."""
    full = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run([sys.executable, "-m", package, *args], capture_output=True, text=True, cwd=cwd,
                          env=full, timeout=timeout, check=False)


def synthetic_article(k: int) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    """Article `syn-<k>`: two sentences, each one actor -> policy statement; (fields, statements)."""
    stances = list(VERBS)
    statements = []
    sentences = []
    for j in range(2):
        actor, actor_id = ACTORS[(k + j) % len(ACTORS)]
        policy, policy_id = POLICIES[(k + 2 * j) % len(POLICIES)]
        stance = stances[(k + j) % len(stances)]
        sentences.append(f"{actor} {VERBS[stance]} calls to {policy} on day {k}.")
        statements.append((actor, actor_id, policy, policy_id, stance))
    split = {0: "validation", 1: "test"}.get(k % 5, "train")
    fields = {"id": f"syn-{k:03d}", "title": f"Story number {k}", "body": " ".join(sentences) +
              " Officials said more talks would follow.", "source": "Synthetic Wire", "split": split,
              "rights": "synthetic test data"}
    return fields, statements


def make_corpus(root: Path, n: int = 30, annotate: bool = True) -> list[str]:
    """Write `n` synthetic articles (splits train/validation/test given) and their gold tasks; returns the ids."""
    from corpus.schema import article_from_dict
    from corpus.store import CorpusStore
    from corpus.tasks import relation_item, span_items

    store = CorpusStore(root)
    ids = []
    for k in range(n):
        fields, statements = synthetic_article(k)
        article = article_from_dict(fields, f"syn-{k}")
        store.write_article(article)
        ids.append(article.id)
        if not annotate:
            continue
        text = article.text
        result: list[dict[str, Any]] = []
        cursor = 0
        for j, (actor, actor_id, policy, policy_id, stance) in enumerate(statements):
            a = text.index(actor, cursor)
            p = text.index(policy, a)
            cursor = p + len(policy)
            result += span_items(f"a{j}", a, a + len(actor), actor, "Actor", actor_id)
            result += span_items(f"p{j}", p, p + len(policy), policy, "Policy", policy_id)
            result.append(relation_item(f"a{j}", f"p{j}", stance))
        store.write_task(article.id, {
            "data": {"text": text, "article_id": article.id, "checksum": article.checksum},
            "annotations": [{"id": 1, "annotator": "gold", "ground_truth": True, "was_cancelled": False,
                             "result": result}],
            "meta": {"origin": "synthetic"}})
    return ids


def build_small_dataset(corpus_root: Path, out: Path) -> Path:
    """`corpus build` of a synthetic corpus into `out` (library call; the CLI is tested elsewhere)."""
    from corpus.build import BuildOptions, build_dataset

    build_dataset(BuildOptions(out=out, sources=[corpus_root]))
    return out
