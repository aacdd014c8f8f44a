"""Label Studio task JSON: the one annotation format of the project, and builders for its result items.

A task file (`annotations/<article_id>.json`, or one element of a Label Studio JSON export) is::

    {"data": {"text", "article_id", "checksum", "title", "source", "group", "split"},
     "annotations": [{"id", "completed_by", "annotator", "ground_truth", "was_cancelled",
                      "lead_time", "created_at", "result": [ITEM, ...]}],
     "predictions": [{"model_version", "score", "result": [ITEM, ...]}],
     "meta": {"origin", "codebook_version"}}

Result items are Label Studio's own shapes:

* span: ``{"id", "from_name": "mention", "to_name": "text", "type": "labels",
  "value": {"start", "end", "text", "labels": ["Actor" | "Policy"]}}``
* normalisation of a span to the codebook (per-region choice, same id as the span):
  ``{"id", "from_name": "actor" | "policy", "type": "choices", "value": {"start", "end", "choices": [id]}}``
* normalisation to a name outside the codebook (imported corpora; per-region text area):
  ``{"id", "from_name": "canonical", "type": "textarea", "value": {"start", "end", "text": [name]}}``
* stance: ``{"from_id": actor span, "to_id": policy span, "type": "relation", "direction": "right",
  "labels": [stance, *qualifiers]}``
* article label: ``{"id", "from_name": <article label id>, "type": "choices", "value": {"choices": [c]}}``

One extension, for imported statements whose mentions could not be located in the text:
``{"id", "type": "statement", "value": {"actor", "target", "stance", "qualifiers", "context_start",
"context_end"}}`` (names, not ids; the context is the sentence the statement was coded on). It never
goes to a Label Studio server (push keeps it in the task data); the dataset build reads it.

`annotator` is our stable name for whoever made an annotation ("gold", "seesaw:A", an e-mail);
`completed_by` is Label Studio's user id once the task has been on a server.
"""

from __future__ import annotations

from typing import Any

from corpus.codebook import (
    ACTOR_CHOICE_NAME,
    ACTOR_LABEL,
    CANONICAL_NAME,
    MENTION_NAME,
    POLICY_CHOICE_NAME,
    TEXT_NAME,
)

STATEMENT_TYPE = "statement"


def span_items(
    region_id: str, start: int, end: int, text: str, label: str, canonical: str, in_codebook: bool = True
) -> list[dict[str, Any]]:
    """A labelled span plus its normalisation (codebook choice, or free-text canonical name)."""
    span = {
        "id": region_id, "from_name": MENTION_NAME, "to_name": TEXT_NAME, "type": "labels",
        "value": {"start": start, "end": end, "text": text, "labels": [label]},
    }
    if in_codebook:
        name = ACTOR_CHOICE_NAME if label == ACTOR_LABEL else POLICY_CHOICE_NAME
        norm = {"id": region_id, "from_name": name, "to_name": TEXT_NAME, "type": "choices",
                "value": {"start": start, "end": end, "choices": [canonical]}}
    else:
        norm = {"id": region_id, "from_name": CANONICAL_NAME, "to_name": TEXT_NAME, "type": "textarea",
                "value": {"start": start, "end": end, "text": [canonical]}}
    return [span, norm]


def relation_item(from_id: str, to_id: str, stance: str, qualifiers: list[str] | None = None) -> dict[str, Any]:
    return {"from_id": from_id, "to_id": to_id, "type": "relation", "direction": "right",
            "labels": [stance, *(qualifiers or [])]}


def article_choice_item(label_id: str, choice: str) -> dict[str, Any]:
    return {"id": f"article-{label_id}", "from_name": label_id, "to_name": TEXT_NAME, "type": "choices",
            "value": {"choices": [choice]}}


def statement_item(
    item_id: str, actor: str, target: str, stance: str, context_start: int, context_end: int,
    qualifiers: list[str] | None = None,
) -> dict[str, Any]:
    return {"id": item_id, "type": STATEMENT_TYPE,
            "value": {"actor": actor, "target": target, "stance": stance, "qualifiers": qualifiers or [],
                      "context_start": context_start, "context_end": context_end}}


def annotator_of(annotation: dict[str, Any]) -> str:
    """Our stable annotator name: `annotator`, else Label Studio's `completed_by` (id, or user's e-mail)."""
    if annotation.get("annotator"):
        return str(annotation["annotator"])
    by = annotation.get("completed_by")
    if isinstance(by, dict):
        return str(by.get("email") or by.get("id") or "unknown")
    return f"ls-user:{by}" if by is not None else "unknown"


def single_value(values: Any) -> str | None:
    """The one non-blank string of a `choices` or `text` value list, stripped; None for none or several."""
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str) and values[0].strip():
        return values[0].strip()
    return None


def utf16_index(text: str) -> list[int] | None:
    """Label Studio's span offsets count UTF-16 code units (JavaScript's): entry i is the str index of unit i,
    one more entry for the end; None where the two agree (no character outside the Basic Multilingual Plane)."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return None
    mapping = []
    for i, c in enumerate(text):
        mapping.append(i)
        if ord(c) >= 0x10000:
            mapping.append(i)
    mapping.append(len(text))
    return mapping


# Label Studio cannot hold our annotator names or `statement` items: push keeps them in the task data under
# this key, `{import_id: {"annotator", "statements"}}`, and readers of a pulled export put them back.
IMPORTED_KEY = "newsstance_imported"


def restore_imported(task: dict[str, Any]) -> dict[str, Any]:
    """The task as it was before push: each imported annotation gets back its annotator and statement items.

    Returns a new task (the input is not changed); a task without the key is returned as it is.
    """
    data = task.get("data")
    kept = data.get(IMPORTED_KEY) if isinstance(data, dict) else None
    if not isinstance(kept, dict):
        return task
    annotations = []
    for ann in task.get("annotations") or []:
        record = kept.get(str(ann.get("import_id"))) if isinstance(ann, dict) else None
        if isinstance(record, dict):
            ann = dict(ann)
            if record.get("annotator") and not ann.get("annotator"):
                ann["annotator"] = str(record["annotator"])
            statements = [s for s in record.get("statements") or [] if isinstance(s, dict)]
            if statements and isinstance(ann.get("result"), list):
                ann["result"] = [*ann["result"], *statements]
        annotations.append(ann)
    return {**task, "data": {k: v for k, v in data.items() if k != IMPORTED_KEY}, "annotations": annotations}
