"""Error analysis: the model's most confident mistakes, with their context and a link to the Label Studio task."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evaluation.predictions import Predictions

_PROJECT = re.compile(r"^(?P<base>.*?)/projects/(?P<project>\d+)")
CONTEXT_CHARS = 400


@dataclass(frozen=True)
class LabelStudioLinks:
    """Where tasks live: the server URL and project id (a URL ending in /projects/<id> gives both)."""

    base_url: str
    project: str | None = None

    @classmethod
    def parse(cls, url: str | None, project: str | int | None = None) -> LabelStudioLinks | None:
        if not url:
            return None
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            return None
        m = _PROJECT.match(url)
        if m:
            return cls(m["base"], str(project or m["project"]))
        return cls(url, str(project) if project not in (None, "") else None)

    def task_url(self, task_id: Any) -> str | None:
        """`<url>/projects/<p>/data?task=<id>` for a numeric task id; None without a project or a task id."""
        if self.project is None or task_id is None or isinstance(task_id, bool):
            return None
        tid = str(task_id)
        return f"{self.base_url}/projects/{self.project}/data?task={tid}" if tid.isdigit() else None


def _clip(row: dict[str, Any]) -> dict[str, Any]:
    """The context, cut to about CONTEXT_CHARS around the mentions, with their offsets into the cut text."""
    text = row.get("context") or ""
    spans = {k: (row.get(f"{k}_context_start"), row.get(f"{k}_context_end")) for k in ("actor", "policy")}
    known = [v for pair in spans.values() for v in pair if isinstance(v, int)]
    lo = max(0, min(known) - 120) if known else 0
    hi = min(len(text), max(max(known) + 120, lo + CONTEXT_CHARS)) if known else min(len(text), CONTEXT_CHARS)
    out = {"context": ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")}
    shift = 1 if lo else 0
    for k, (s, e) in spans.items():
        ok = isinstance(s, int) and isinstance(e, int) and lo <= s < e <= hi
        out[f"{k}_span"] = [s - lo + shift, e - lo + shift] if ok else None
    return out


def confident_errors(rows: list[dict[str, Any]], preds: Predictions, names: list[str], k: int = 20,
                     links: LabelStudioLinks | None = None) -> list[dict[str, Any]]:
    """The k wrong predictions the model was surest of (in row order when there are no probabilities)."""
    wrong = [i for i, r in enumerate(rows) if preds.labels[i] != r["stance"]]
    conf = preds.probs.max(axis=1) if preds.probs is not None else None
    if conf is not None:
        wrong.sort(key=lambda i: -conf[i])
    out = []
    for i in wrong[:k]:
        r = rows[i]
        item = {
            "id": r["id"], "article_id": r.get("article_id"), "task_id": r.get("task_id"),
            "actor": r.get("actor_label") or r.get("actor_id"), "actor_mention": r.get("actor_mention"),
            "policy": r.get("policy_label") or r.get("policy_id"), "policy_mention": r.get("policy_mention"),
            "gold": r["stance"], "predicted": preds.labels[i],
            "confidence": float(conf[i]) if conf is not None else None,
            "probabilities": dict(zip(names, map(float, preds.probs[i]), strict=True))
            if preds.probs is not None else None,
            "link": links.task_url(r.get("task_id")) if links else None,
        }
        item.update(_clip(r))
        out.append(item)
    return out
