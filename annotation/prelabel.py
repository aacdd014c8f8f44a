"""Pre-annotations from the models: mentions, per-span codebook choices and stance relations as Label Studio
predictions on the tasks nobody has annotated yet, each scored so the queue asks about the hardest first.

For every task without a submitted annotation: `training.extract` finds the mentions (tagger, or the
codebook gazetteer) and the candidate (actor, policy option) pairs, and the model decides each pair; the
prediction's result holds one span per mention (with its region score), the per-span `actor` / `policy`
choice where the mention is normalised, and one relation per detected statement (one per actor, target and
sentence) labelled with its stance and scored with its confidence. With a detector, pairs detected as the
codebook's none get no relation (their spans stay, so an annotator can still link them); with a plain stance
model every pair is a relation, as before detectors. Its `score` is the task's certainty (see
`annotation.queue`: stance and, for a detector, detection uncertainty over all pairs), its `model_version` the
model's registry version ("name/version") or MLflow model id. Each prediction is checked against the project's
labelling config before upload (the server accepts unknown relation labels and any span label; we do
not), and predictions go up in batches through one import call per batch.

The models come from `training` (the one place annotation reaches into it, lazily, in `prelabel`); the
rest of this module turns an extraction into a Label Studio result, checks it and uploads it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from annotation.label_config import config_drift, config_labels
from annotation.queue import (
    AGGREGATES,
    QUEUE_TAB_TITLE,
    STRATEGIES,
    UNCERTAINTY_SAMPLING,
    QueueEntry,
    order_queue,
    prediction_score,
    queue_tab,
    task_uncertainty,
)
from corpus.codebook import ACTOR_LABEL, MENTION_NAME, TEXT_NAME, Codebook
from corpus.errors import InputError, ServiceError
from corpus.tasks import relation_item, span_items

if TYPE_CHECKING:
    from annotation.client import LabelStudioClient
    from training.extract import ArticleResult, Extractor

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "newsstance"


def prediction_result(article: ArticleResult, include_unresolved: bool = True) -> tuple[list[dict[str, Any]], int]:
    """The Label Studio result items of one extraction, and its number of relations.

    Region ids are `m<n>` in text order; a mention shared by several pairs is one region.
    """
    used = {id(s.candidate.actor) for s in article.statements} | {id(s.candidate.policy) for s in article.statements}
    mentions = [m for m in article.mentions if include_unresolved or m.canonical is not None or id(m) in used]
    items: list[dict[str, Any]] = []
    region: dict[int, str] = {}
    for n, m in enumerate(sorted(mentions, key=lambda m: (m.start, m.end)), 1):
        rid = f"m{n}"
        region[id(m)] = rid
        pair = span_items(rid, m.start, m.end, article.text[m.start:m.end], m.label, m.canonical or "")
        if m.canonical is None:
            pair = pair[:1]  # the span alone: the annotator picks its canonical id
        for item in pair:
            item["score"] = round(float(m.score), 4)
        items += pair
    relations = 0
    for s in article.statements:
        a, p = region.get(id(s.candidate.actor)), region.get(id(s.candidate.policy))
        if a is None or p is None:
            continue
        rel = relation_item(a, p, s.stance)
        rel["score"] = round(s.confidence, 4)
        items.append(rel)
        relations += 1
    return items, relations


def check_prediction(items: Sequence[dict[str, Any]], text: str, config_xml: str) -> list[str]:
    """Problems of a prediction result against the labelling config and the task text; empty when valid."""
    from label_studio_sdk.label_interface import LabelInterface

    labels = config_labels(config_xml)
    problems: list[str] = []
    regions = {}
    try:
        problems += LabelInterface(config_xml).validate_prediction({"result": list(items)}, return_errors=True) or []
    except Exception as e:  # the SDK's validator is strict about shapes it does not know; say so, do not crash
        problems.append(f"label-studio-sdk could not validate the result ({type(e).__name__}: {e})")
    for item in items:
        kind, value = item.get("type"), item.get("value") or {}
        if kind == "labels":
            start, end = value.get("start"), value.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                problems.append(f"span {item.get('id')}: offsets {start}..{end} outside the text")
            elif text[start:end] != value.get("text"):
                problems.append(f"span {item.get('id')}: text does not match offsets {start}..{end}")
            for label in value.get("labels") or []:
                if label not in labels.controls.get(item.get("from_name", ""), frozenset()):
                    problems.append(f"span {item.get('id')}: label {label!r} not in control {item.get('from_name')!r}")
            regions[item.get("id")] = (value.get("labels") or [""])[0]
        elif kind == "choices":
            control = item.get("from_name", "")
            for choice in value.get("choices") or []:
                if choice not in labels.controls.get(control, frozenset()):
                    problems.append(f"region {item.get('id')}: choice {choice!r} not in control {control!r}")
    for item in items:
        if item.get("type") != "relation":
            continue
        name = f"relation {item.get('from_id')}->{item.get('to_id')}"
        ends = (regions.get(item.get("from_id")), regions.get(item.get("to_id")))
        if None in ends:
            problems.append(f"{name}: a region is missing")
        elif ends[0] != ACTOR_LABEL or ends[1] == ACTOR_LABEL:
            problems.append(f"{name}: must run from an Actor to a Policy")
        problems += [f"{name}: label {x!r} not in the config" for x in item.get("labels") or []
                     if x not in labels.relations]
    return problems


@dataclass
class PrelabelResult:
    """What a prelabel pass did."""

    project_id: int
    model_version: str
    tasks: int = 0
    skipped_annotated: int = 0
    skipped_predicted: int = 0
    predictions: int = 0
    spans: int = 0
    relations: int = 0
    pairs: int = 0  # candidate pairs the model decided
    none_pairs: int = 0  # of them, detected as none: no relation pre-filled
    seconds: float = 0.0
    queue: list[QueueEntry] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    @property
    def tasks_per_second(self) -> float:
        return self.predictions / self.seconds if self.seconds else 0.0


def _is_annotated(task: dict[str, Any]) -> bool:
    anns = task.get("annotations")
    if isinstance(anns, list):
        return any(isinstance(a, dict) and not a.get("was_cancelled") for a in anns)
    return bool(task.get("total_annotations") or task.get("is_labeled"))


def _has_version(task: dict[str, Any], version: str) -> bool:
    return any(isinstance(p, dict) and str(p.get("model_version")) == version for p in task.get("predictions") or [])


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def prelabel_project(client: LabelStudioClient, extractor: Extractor, project: str = DEFAULT_PROJECT,
                     batch_size: int = 32, strategy: str = "margin", aggregate: str = "max",
                     replace: bool = False, set_queue: bool = True,
                     progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None) -> PrelabelResult:
    """Upload pre-annotations for every unannotated task of `project` (see the module docstring).

    Idempotent: tasks that already hold a prediction of this model version are skipped (or, with
    `replace`, their old prediction of this version is deleted first). With `set_queue`, the project
    switches to uncertainty sampling on this model version and gets a Data Manager tab ordered by score.
    """
    if strategy not in STRATEGIES:
        raise InputError("--strategy", f"must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if aggregate not in AGGREGATES:
        raise InputError("--aggregate", f"must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    if batch_size < 1:
        raise InputError("--batch-size", f"must be at least 1, got {batch_size}")
    found = client.find_project(project)
    if found is None:
        raise InputError(project, "no such Label Studio project (create it with `python -m annotation push`)")
    project_id = int(found["id"])
    config_xml = str(found.get("label_config") or "")
    drift = config_drift(config_xml, extractor.codebook)
    if drift:
        raise InputError(f"project {project!r}", "its labelling config does not match the codebook ("
                         + "; ".join(drift[:3]) + "); update it with `python -m annotation push` first")
    version = extractor.model_version
    result = PrelabelResult(project_id, version)
    started = time.perf_counter()
    todo = []
    for task in client.iter_tasks(project_id, with_annotations=True):
        if _is_annotated(task):
            result.skipped_annotated += 1
        elif _has_version(task, version) and not replace:
            result.skipped_predicted += 1
        else:
            todo.append(task)
    batches = list(_batches(todo, batch_size))
    for chunk in progress(batches) if progress else batches:
        items = []
        for task in chunk:
            text = (task.get("data") or {}).get(TEXT_NAME)
            if not isinstance(text, str) or not text:
                result.rejected.append(f"task {task.get('id')}: no text in data.{TEXT_NAME}")
                continue
            items.append((str((task.get("data") or {}).get("article_id") or f"task-{task['id']}"), text, task))
        extracted = extractor.run([(aid, text) for aid, text, _ in items])
        upload = []
        for (article_id, text, task), art in zip(items, extracted, strict=True):
            res, n_rel = prediction_result(art)
            problems = check_prediction(res, text, config_xml)
            if problems:
                result.rejected.append(f"task {task['id']} ({article_id}): " + "; ".join(problems[:3]))
                continue
            uncertainty = task_uncertainty([list(p.stance_probabilities.values()) for p in art.pairs],
                                           strategy, aggregate,  # type: ignore[arg-type]
                                           [p.p_statement for p in art.pairs], extractor.threshold)
            upload.append({"task": int(task["id"]), "result": res, "score": prediction_score(uncertainty),
                           "model_version": version})
            result.queue.append(QueueEntry(int(task["id"]), article_id, uncertainty, len(art.pairs), n_rel))
            result.spans += sum(1 for r in res if r.get("from_name") == MENTION_NAME)
            result.relations += n_rel
            result.pairs += len(art.pairs)
            result.none_pairs += len(art.pairs) - art.detected
            if replace:
                for old in task.get("predictions") or []:
                    if isinstance(old, dict) and str(old.get("model_version")) == version and old.get("id"):
                        client.delete_prediction(int(old["id"]))
        if upload:
            import_predictions(client, project_id, upload)
            result.predictions += len(upload)
        result.seconds = time.perf_counter() - started
    result.queue = order_queue(result.queue)
    if set_queue and result.predictions:
        apply_queue(client, project_id, version)
    result.seconds = time.perf_counter() - started
    log.info("prelabelled %d task(s) of project %s with %s (%d spans, %d relations; %d of %d pairs detected as "
             "none)", result.predictions, project, version, result.spans, result.relations, result.none_pairs,
             result.pairs)
    return result


def import_predictions(client: LabelStudioClient, project_id: int, predictions: list[dict[str, Any]]) -> int:
    """Upload many predictions in one request (Label Studio's project predictions import); returns the count."""
    resp = client.call(f"import {len(predictions)} predictions into project {project_id}",
                       client.sdk.projects.import_predictions, project_id, request=predictions, idempotent=False)
    created = getattr(resp, "created", None)
    if created is not None and int(created) != len(predictions):
        raise ServiceError(client.url, f"import into project {project_id}: sent {len(predictions)} predictions, "
                                       f"the server created {created}")
    return len(predictions)


def apply_queue(client: LabelStudioClient, project_id: int, model_version: str) -> None:
    """Serve tasks by uncertainty: the project's sampling and model version, and a Data Manager tab by score."""
    client.update_project(project_id, sampling=UNCERTAINTY_SAMPLING, model_version=model_version,
                          show_collab_predictions=True)
    views = client.call(f"list Data Manager tabs of project {project_id}", client.sdk.views.list, project=project_id)
    tab = queue_tab(project_id, model_version)
    for view in views or []:
        data = getattr(view, "data", None) or {}
        if isinstance(data, dict) and data.get("title") == QUEUE_TAB_TITLE:
            client.call(f"update Data Manager tab {view.id}", client.sdk.views.update, str(view.id), data=tab["data"],
                        project=project_id)
            return
    client.call(f"create a Data Manager tab in project {project_id}", client.sdk.views.create, data=tab["data"],
                project=project_id, idempotent=False)


def prelabel(model: str, tagger: str | None = None, project: str = DEFAULT_PROJECT, url: str | None = None,
             tracking_uri: str | None = None, codebook: Codebook | None = None, **options: Any) -> PrelabelResult:
    """`python -m annotation prelabel`: load the models (folders or MLflow URIs), connect, prelabel `project`."""
    from annotation.client import LabelStudioClient, resolve_connection
    from training.extract import load_extractor

    extract_keys = ("window", "min_confidence", "keep_unresolved")
    extractor = load_extractor(model, tagger, tracking_uri, codebook,
                               **{k: options.pop(k) for k in extract_keys if k in options})
    client = LabelStudioClient(resolve_connection(url))
    return prelabel_project(client, extractor, project, **options)

