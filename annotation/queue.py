"""The annotation queue: unlabelled tasks ordered by the model's uncertainty, most informative first.

Label Studio's free edition has no active-learning loop, but it has what one needs:

* each prediction's `score`; prelabel sets it to the task's *certainty* (1 - uncertainty), so ordering
  by score ascending puts the most uncertain task first;
* the project's `sampling` setting: "Uncertainty sampling" serves an annotator's next task
  ("Label All Tasks") by the lowest prediction score among predictions of the project's
  `model_version` (label_studio/projects/functions/next_task.py, `_try_uncertainty_sampling`);
* a Data Manager tab ordered by `tasks:predictions_score` ascending, so a reviewer browsing the list sees
  the same order.

A task's uncertainty is taken over its candidate (actor, policy option) pairs: per pair the margin
(1 - (p1 - p2)), the normalised entropy or the least confidence of the stance probabilities, then the
pairs' maximum (default: one hard pair makes a task worth asking about) or mean. A task with no pair
gets uncertainty 0: nothing to ask about, so it comes last.

With a detector (a P(statement) per pair and the threshold chosen on validation), a pair is also uncertain
when it sits near the threshold: its detection uncertainty is 1 - |p - t| / max(t, 1 - t) (1 at the threshold,
0 at certainty either way), and the pair counts the larger of that and, for a pair detected as a statement,
its stance uncertainty (a pair detected as none is pre-filled with no relation, so its stance is moot).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

Strategy = Literal["margin", "entropy", "least_confidence"]
Aggregate = Literal["max", "mean"]
STRATEGIES: tuple[str, ...] = ("margin", "entropy", "least_confidence")
AGGREGATES: tuple[str, ...] = ("max", "mean")
UNCERTAINTY_SAMPLING = "Uncertainty sampling"  # Label Studio's Project.UNCERTAINTY
QUEUE_TAB_TITLE = "Most uncertain first"


def pair_uncertainty(probs: Sequence[float], strategy: Strategy = "margin") -> float:
    """Uncertainty in [0, 1] of one stance distribution (1 = the model cannot tell the labels apart)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    p = [max(float(x), 0.0) for x in probs]
    total = sum(p)
    if len(p) < 2 or total <= 0:
        return 0.0
    p = sorted((x / total for x in p), reverse=True)
    if strategy == "margin":
        value = 1.0 - (p[0] - p[1])
    elif strategy == "entropy":
        value = -sum(x * math.log(x) for x in p if x > 0) / math.log(len(p))
    else:  # least confidence, scaled so that a uniform distribution is 1
        value = (1.0 - p[0]) * len(p) / (len(p) - 1)
    return min(max(value, 0.0), 1.0)


def detection_uncertainty(p_statement: float, threshold: float) -> float:
    """Uncertainty in [0, 1] of a statement-or-none decision: 1 at the threshold, 0 at P(statement) 0 or 1."""
    t = min(max(float(threshold), 0.0), 1.0)
    span = max(t, 1.0 - t)
    return min(max(1.0 - abs(float(p_statement) - t) / span, 0.0), 1.0) if span > 0 else 0.0


def task_uncertainty(pair_probs: Sequence[Sequence[float]], strategy: Strategy = "margin",
                     aggregate: Aggregate = "max", p_statements: Sequence[float] | None = None,
                     threshold: float | None = None) -> float:
    """Uncertainty of a task from its pairs' stance distributions and, for a detector (`p_statements` and its
    `threshold`), their detection uncertainty (see the module docstring); 0 for a task with no pair."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate {aggregate!r} is not one of {', '.join(AGGREGATES)}")
    if threshold is None or p_statements is None:
        values = [pair_uncertainty(p, strategy) for p in pair_probs]
    else:
        if len(p_statements) != len(pair_probs):
            raise ValueError(f"{len(p_statements)} P(statement) values for {len(pair_probs)} pairs")
        values = [max(detection_uncertainty(q, threshold), pair_uncertainty(p, strategy) if q >= threshold else 0.0)
                  for p, q in zip(pair_probs, p_statements, strict=True)]
    if not values:
        return 0.0
    return max(values) if aggregate == "max" else sum(values) / len(values)


def prediction_score(uncertainty: float) -> float:
    """The Label Studio prediction score for a task: its certainty, so that ascending order = most uncertain first."""
    return round(1.0 - uncertainty, 6)


@dataclass(frozen=True)
class QueueEntry:
    """One task's place in the queue."""

    task_id: int
    article_id: str
    uncertainty: float
    pairs: int
    statements: int | None = None  # pairs pre-filled as relations (None: not recorded)

    @property
    def score(self) -> float:
        return prediction_score(self.uncertainty)


def order_queue(entries: Sequence[QueueEntry]) -> list[QueueEntry]:
    """Most uncertain first; ties broken by more pairs, then by task id (a stable, reproducible order)."""
    return sorted(entries, key=lambda e: (-e.uncertainty, -e.pairs, e.task_id))


def queue_markdown(entries: Sequence[QueueEntry], limit: int = 20) -> str:
    """The head of the queue as a Markdown table."""
    lines = ["| # | task | article | uncertainty | pairs | relations |", "|---|---|---|---|---|---|"]
    for n, e in enumerate(order_queue(entries)[:limit], 1):
        relations = "" if e.statements is None else str(e.statements)
        lines.append(f"| {n} | {e.task_id} | {e.article_id} | {e.uncertainty:.3f} | {e.pairs} | {relations} |")
    return "\n".join(lines)


def queue_tab(project_id: int, model_version: str) -> dict[str, Any]:
    """A Data Manager tab (view) listing tasks by prediction score ascending: most uncertain first."""
    return {
        "project": project_id,
        "data": {
            "title": QUEUE_TAB_TITLE,
            "ordering": ["tasks:predictions_score"],
            "filters": {"conjunction": "and", "items": []},
            "hiddenColumns": {"explore": [], "labeling": []},
            "model_version": model_version,
        },
    }
