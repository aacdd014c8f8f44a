"""One round of the model-in-the-loop cycle, and how much annotators kept of the last round's pre-annotations.

`kept_report` is a pure comparison of a task's predictions (what prelabel uploaded) with the annotations
finally submitted on that task. Items are matched by character offsets, never by region id (an annotator
may redraw a region). Per predicted item:

* span: **accepted** when an annotated span has the same offsets, label and canonical id; **corrected**
  when an annotated span overlaps it but differs (offsets, label or canonical id); **deleted** when no
  annotated span overlaps it;
* relation (counted under its predicted stance): **accepted** when the annotation links the spans its
  ends were matched to with the same stance and qualifiers; **corrected** when it links them with
  other labels (or the other way round); **deleted** when it does not link them.

Annotated items no prediction matched are counted as **added** (the annotators' own work). For the relations
prelabel pre-filled (with a detector: only the pairs it detected as statements), `KeptReport.prefilled` says
how many annotators kept (accepted as predicted, or kept with another stance) and how many they deleted.
`run_round` chains pull, build, train, evaluate and prelabel (see its docstring).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.codebook import ACTOR_CHOICE_NAME, MENTION_NAME, POLICY_CHOICE_NAME

log = logging.getLogger(__name__)

ACCEPTED, CORRECTED, DELETED, ADDED = "accepted", "corrected", "deleted", "added"
OUTCOMES = (ACCEPTED, CORRECTED, DELETED)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    label: str
    canonical: str | None


@dataclass
class _Result:
    spans: dict[str, _Span]
    relations: list[tuple[str, str, tuple[str, ...]]]


def _parse(result: Any) -> _Result:
    """Spans (with their per-region codebook choice) and relations of one Label Studio result list."""
    spans: dict[str, _Span] = {}
    choices: dict[str, str] = {}
    relations = []
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict):
            continue
        kind, value = item.get("type"), item.get("value") or {}
        if kind == "labels" and item.get("from_name") == MENTION_NAME and item.get("id") is not None:
            try:
                spans[str(item["id"])] = _Span(int(value["start"]), int(value["end"]), str(value["labels"][0]), None)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
        elif kind == "choices" and item.get("from_name") in (ACTOR_CHOICE_NAME, POLICY_CHOICE_NAME):
            picked = value.get("choices") or []
            if item.get("id") is not None and picked:
                choices[str(item["id"])] = str(picked[0])
        elif kind == "relation" and item.get("from_id") is not None and item.get("to_id") is not None:
            labels = tuple(str(x) for x in item.get("labels") or [])
            relations.append((str(item["from_id"]), str(item["to_id"]), labels))
    for sid, choice in choices.items():
        if sid in spans:
            s = spans[sid]
            spans[sid] = _Span(s.start, s.end, s.label, choice)
    return _Result(spans, relations)


@dataclass
class KeptReport:
    """Counts per (kind, label, outcome): kind is 'span' or 'relation'; label the predicted span label or stance."""

    counts: Counter = field(default_factory=Counter)
    tasks: int = 0
    annotations: int = 0

    def add(self, other: KeptReport) -> None:
        self.counts.update(other.counts)
        self.tasks += other.tasks
        self.annotations += other.annotations

    def rows(self) -> list[dict[str, Any]]:
        """One row per (kind, label): predicted, accepted, corrected, deleted, added, kept (accepted share)."""
        keys = sorted({(k, lab) for k, lab, _ in self.counts})
        out = []
        for kind, label in keys:
            row: dict[str, Any] = {"kind": kind, "label": label}
            for outcome in (*OUTCOMES, ADDED):
                row[outcome] = self.counts[(kind, label, outcome)]
            row["predicted"] = sum(row[o] for o in OUTCOMES)
            row["kept"] = round(row[ACCEPTED] / row["predicted"], 4) if row["predicted"] else None
            out.append(row)
        return out

    def prefilled(self) -> dict[str, int]:
        """The pre-filled relations and what annotators did with them: kept (= accepted + corrected), deleted."""
        t = self.totals("relation")
        return {"prefilled": t[ACCEPTED] + t[CORRECTED] + t[DELETED], "kept": t[ACCEPTED] + t[CORRECTED],
                "accepted": t[ACCEPTED], "corrected": t[CORRECTED], "deleted": t[DELETED], "added": t[ADDED]}

    def totals(self, kind: str) -> dict[str, int]:
        return {o: sum(n for (k, _, oo), n in self.counts.items() if k == kind and oo == o) for o in (*OUTCOMES, ADDED)}

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow: kept_<kind>_<outcome>[_<label>] counts and the accepted share per kind."""
        out: dict[str, float] = {}
        for row in self.rows():
            for o in (*OUTCOMES, ADDED):
                out[f"kept_{row['kind']}_{o}_{row['label']}"] = float(row[o])
        for kind in ("span", "relation"):
            t = self.totals(kind)
            for o, n in t.items():
                out[f"kept_{kind}_{o}"] = float(n)
            predicted = sum(t[o] for o in OUTCOMES)
            if predicted:
                out[f"kept_{kind}_accepted_share"] = round(t[ACCEPTED] / predicted, 4)
        out["kept_tasks"] = float(self.tasks)
        pre = self.prefilled()
        out["kept_relation_prefilled"], out["kept_relation_kept"] = float(pre["prefilled"]), float(pre["kept"])
        return out

    def markdown(self) -> str:
        pre = self.prefilled()
        lines = [f"Pre-annotations kept on {self.tasks} task(s), {self.annotations} annotation(s).", "",
                 f"Pre-filled relations: {pre['prefilled']}; annotators kept {pre['kept']} ({pre['accepted']} as "
                 f"predicted, {pre['corrected']} with another stance or direction) and deleted {pre['deleted']}; "
                 f"they added {pre['added']} of their own.", "",
                 "| kind | label | predicted | accepted | corrected | deleted | added | kept |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.rows():
            kept = "" if r["kept"] is None else f"{r['kept']:.0%}"
            lines.append(f"| {r['kind']} | {r['label']} | {r['predicted']} | {r[ACCEPTED]} | {r[CORRECTED]} | "
                         f"{r[DELETED]} | {r[ADDED]} | {kept} |")
        return "\n".join(lines)


def _overlap(a: _Span, b: _Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def compare_result(predicted: Any, annotated: Any) -> KeptReport:
    """Compare one prediction's result list with one annotation's result list (see the module docstring)."""
    pred, ann = _parse(predicted), _parse(annotated)
    report = KeptReport()
    counts = report.counts
    match: dict[str, str] = {}  # predicted span id -> annotated span id
    used: set[str] = set()
    for pid, p in sorted(pred.spans.items(), key=lambda kv: (kv[1].start, kv[1].end)):
        exact = next((aid for aid, a in ann.spans.items() if (a.start, a.end, a.label) == (p.start, p.end, p.label)
                      and aid not in used), None)
        if exact is not None:
            match[pid] = exact
            used.add(exact)
            same = ann.spans[exact].canonical == p.canonical
            counts[("span", p.label, ACCEPTED if same else CORRECTED)] += 1
            continue
        overlapping = sorted(((_overlap(p, a), aid) for aid, a in ann.spans.items() if _overlap(p, a) > 0
                              and aid not in used), reverse=True)
        if overlapping:
            match[pid] = overlapping[0][1]
            used.add(overlapping[0][1])
            counts[("span", p.label, CORRECTED)] += 1
        else:
            counts[("span", p.label, DELETED)] += 1
    for aid, a in ann.spans.items():
        if aid not in used:
            counts[("span", a.label, ADDED)] += 1
    annotated_links = {(f, t): labels for f, t, labels in ann.relations}
    matched_links: set[tuple[str, str]] = set()
    for f, t, labels in pred.relations:
        stance = labels[0] if labels else "unlabelled"
        af, at = match.get(f), match.get(t)
        if af is None or at is None:
            counts[("relation", stance, DELETED)] += 1
        elif (af, at) in annotated_links:
            matched_links.add((af, at))
            same = annotated_links[(af, at)] == labels
            counts[("relation", stance, ACCEPTED if same else CORRECTED)] += 1
        elif (at, af) in annotated_links:  # drawn the other way round: a correction
            matched_links.add((at, af))
            counts[("relation", stance, CORRECTED)] += 1
        else:
            counts[("relation", stance, DELETED)] += 1
    for link, labels in annotated_links.items():
        if link not in matched_links:
            counts[("relation", labels[0] if labels else "unlabelled", ADDED)] += 1
    return report


def _latest_prediction(task: dict[str, Any], model_version: str | None) -> dict[str, Any] | None:
    preds = [p for p in task.get("predictions") or [] if isinstance(p, dict) and isinstance(p.get("result"), list)]
    if model_version is not None:
        preds = [p for p in preds if str(p.get("model_version")) == model_version]
    if not preds:
        return None
    return max(preds, key=lambda p: (str(p.get("created_at") or ""), p.get("id") or 0))


def kept_report(tasks: Iterable[dict[str, Any]], model_version: str | None = None) -> KeptReport:
    """Compare each task's latest prediction (of `model_version` when given) with each submitted annotation.

    Tasks without such a prediction, and cancelled or empty annotations, are left out: they say nothing
    about what annotators kept.
    """
    report = KeptReport()
    for task in tasks:
        pred = _latest_prediction(task, model_version)
        if pred is None:
            continue
        anns = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")
                and a.get("result")]
        if not anns:
            continue
        report.tasks += 1
        for ann in anns:
            report.add(compare_result(pred["result"], ann["result"]))
            report.annotations += 1
    return report


def predicted_versions(tasks: Sequence[dict[str, Any]]) -> Counter:
    """How many predictions each model_version has in an export."""
    return Counter(str(p.get("model_version")) for t in tasks for p in t.get("predictions") or []
                   if isinstance(p, dict))


# --------------------------------------------------------------------------------------------- one round
ROUND_EXPERIMENT = "newsstance-rounds"


@dataclass
class RoundOptions:
    """What a round does; every field is a flag of `python -m annotation round`."""

    project: str = "newsstance"
    stance_config: str = "minilm"  # a training config (path or bundled name)
    stance_overrides: list[str] = field(default_factory=list)  # `--set key=value` for it
    tagger_config: str | None = None  # train a tagger too (else `tagger`, else the gazetteer)
    tagger_overrides: list[str] = field(default_factory=list)
    tagger: str | None = None  # an existing tagger (folder or MLflow URI) when none is trained
    sources: list[Path] = field(default_factory=list)  # extra build sources besides the pulled export
    out: Path | None = None  # the round's folder (default var/rounds/<UTC time>)
    exports: Path | None = None  # where pull writes the export (default: corpus/annotations/exports)
    evaluate_split: str = "test"
    previous_version: str | None = None  # default: the project's model_version (set by the last prelabel)
    batch_size: int = 32
    strategy: str = "margin"
    aggregate: str = "max"
    tracking_uri: str | None = None
    url: str | None = None


@dataclass
class RoundResult:
    """Everything one round produced (paths, versions, numbers) and the notes a person should read."""

    out: Path
    export: str
    previous_version: str | None
    kept: KeptReport
    dataset: str
    sizes: dict[str, dict[str, int]]
    model: str
    model_version: str | None
    train_metrics: dict[str, float]
    tagger: str | None
    evaluation: dict[str, Any] | None
    prelabelled: int
    prelabel_seconds: float
    run_id: str | None
    notes: list[str] = field(default_factory=list)
    threshold: float | None = None  # the detector's P(statement) threshold (None: a stance model)
    prelabel_relations: int | None = None
    prelabel_none_pairs: int | None = None

    def markdown(self) -> str:
        lines = [f"# Annotation round ({self.out.name})", "",
                 f"- export: `{self.export}`", f"- previous pre-annotations: model version `{self.previous_version}`",
                 f"- dataset: `{self.dataset}` (" + ", ".join(f"{c}: " + "/".join(str(v) for v in s.values())
                                                             for c, s in self.sizes.items()) + ")",
                 f"- model: `{self.model}` (version {self.model_version}"
                 + (f"; a detector, P(statement) threshold {self.threshold:.2f}" if self.threshold is not None
                    else "") + ")",
                 f"- tagger: `{self.tagger or 'gazetteer'}`",
                 f"- pre-labelled: {self.prelabelled} task(s) in {self.prelabel_seconds:.1f} s"
                 + (f" ({self.prelabel_relations} relations pre-filled; {self.prelabel_none_pairs} pairs detected "
                    "as none left without one)" if self.prelabel_relations is not None else ""),
                 f"- MLflow round run: `{self.run_id}`", ""]
        if self.train_metrics:
            lines += ["Training: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.train_metrics.items())), ""]
        if self.evaluation:
            lines += ["Evaluation: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.evaluation.items())), ""]
        lines += [self.kept.markdown(), ""]
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _empty_split(dataset: Path, split: str, config: str = "statements") -> bool:
    from datasets import load_from_disk

    if not (dataset / config).is_dir():
        return True
    dd = load_from_disk(str(dataset / config))
    return split not in dd or len(dd[split]) == 0


def _score_detector(model: str, dataset: Path, split: str, out: Path, uri: str) -> dict[str, float]:
    """Extract `split` with its gold entities and score the statements (`evaluation extraction`); flat numbers."""
    from evaluation.extraction import score_extraction, write_report
    from training.extract import extract_files

    pred = out / "extraction" / f"{split}-gold-entities.json"
    pred.parent.mkdir(parents=True, exist_ok=True)
    extract_files([], pred, model, tracking_uri=uri, gold_entities=dataset, split=split)
    scored = score_extraction([pred], dataset, split)
    write_report(scored, out / "evaluation")
    (s,) = scored["settings"]
    return {"statement_precision": s["statements"]["precision"], "statement_recall": s["statements"]["recall"],
            "statement_f1": s["statements"]["f1"], "pair_f1": s["pairs"]["f1"],
            "polarity_accuracy": float(s["polarity"]["point"])}


def run_round(options: RoundOptions, client: Any = None) -> RoundResult:
    """Pull, compare with the last pre-annotations, build, train (stance, and tagger if configured), evaluate,
    prelabel with the new models, and log the round as one MLflow run (metrics: the kept counts, the scores).

    A corpus whose validation split is empty (too few articles to split) selects on train, with a note;
    an empty test split skips evaluation, with a note. Nothing is faked.
    """
    from datetime import UTC, datetime

    from annotation.client import LabelStudioClient, resolve_connection
    from annotation.prelabel import prelabel_project
    from annotation.pull import DEFAULT_EXPORTS, pull
    from corpus.build import BuildOptions, build_dataset
    from corpus.codebook import load_codebook
    from corpus.errors import InputError, write_text_atomic
    from corpus.store import read_json
    from training import tracking
    from training.config import load_config
    from training.extract import load_extractor
    from training.paths import var_dir
    from training.run import train

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(options.out) if options.out else var_dir() / "rounds" / stamp
    if out.exists() and any(out.iterdir()):
        raise InputError(out, "round folder exists and is not empty; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    uri = tracking.resolve_tracking_uri(options.tracking_uri)
    tracking.check_reachable(uri)  # before any slow step
    stance_cfg, stance_file = load_config(options.stance_config, options.stance_overrides)
    client = client or LabelStudioClient(resolve_connection(options.url))
    notes: list[str] = []

    # 1. pull, and what annotators kept of the last round's pre-annotations
    project = client.find_project(options.project)
    if project is None:
        raise InputError(options.project, "no such Label Studio project (create it with `python -m annotation push`)")
    previous = options.previous_version or project.get("model_version") or None
    pulled = pull(client, options.project, Path(options.exports) if options.exports else DEFAULT_EXPORTS)
    tasks = read_json(Path(pulled.path))
    kept = kept_report(tasks, previous)
    if not kept.tasks:
        notes.append(f"no annotated task carried a prediction of model version {previous!r}: nothing to compare")

    # 2. build the dataset from the export (plus any extra sources)
    dataset = out / "dataset"
    built = build_dataset(BuildOptions(out=dataset, sources=[Path(pulled.path), *options.sources]))
    notes += list(built.notes)
    overrides = list(options.stance_overrides)
    if _empty_split(dataset, stance_cfg.data.validation_split, stance_cfg.data.config):
        notes.append("the validation split is empty (too few articles): the model was selected on train; "
                     "its validation score is optimistic")
        overrides.append(f"data.validation_split={stance_cfg.data.train_split}")
    overrides.append(f"output_dir={out / 'stance'}")
    stance_cfg, stance_file = load_config(options.stance_config, overrides)

    # 3. train the stance model (and the tagger)
    summary = train(stance_cfg, stance_file, dataset=str(dataset), tracking_uri=uri, progress=False)
    model = (f"models:/{summary.registered}/{summary.version}" if summary.registered
             else str(summary.extra.get("model_uri") or summary.model_dir))
    tagger = options.tagger
    if options.tagger_config:
        from training.tagger import load_tagger_config, train_tagger

        t_over = [*options.tagger_overrides, f"output_dir={out / 'tagger'}"]
        if _empty_split(dataset, "validation"):
            t_over.append("data.validation_split=train")
        t_cfg, t_file = load_tagger_config(options.tagger_config, t_over)
        t_run = train_tagger(t_cfg, t_file, dataset=str(dataset), tracking_uri=uri)
        tagger = f"models:/{t_run.registered}" if t_run.registered else t_run.model_uri

    # 4. evaluate on the held-out split, where there is one
    evaluation = None
    detector = stance_cfg.data.config == "candidates"
    if _empty_split(dataset, options.evaluate_split, stance_cfg.data.config):
        notes.append(f"the {options.evaluate_split} split is empty: no evaluation this round")
    elif detector:  # a detector is scored on what it extracts: statements among the split's gold-entity pairs
        evaluation = _score_detector(model, dataset, options.evaluate_split, out, uri)
    else:
        from evaluation.evaluate import evaluate

        scored = evaluate(dataset, options.evaluate_split, out / "evaluation", model=model, tracking_uri=uri)
        evaluation = {k: float(v["value"]) for k, v in scored["metrics"].items()
                      if isinstance(v, dict) and "value" in v}

    # 5. pre-label what is still unannotated, with the new models
    extractor = load_extractor(model, tagger, uri, load_codebook())
    pre = prelabel_project(client, extractor, options.project, batch_size=options.batch_size,
                           strategy=options.strategy, aggregate=options.aggregate)
    if pre.rejected:
        notes += [f"prelabel rejected {r}" for r in pre.rejected]

    result = RoundResult(out=out, export=pulled.path, previous_version=previous, kept=kept, dataset=str(dataset),
                         sizes=built.sizes, model=model, model_version=extractor.model_version,
                         train_metrics={k: float(v) for k, v in summary.metrics.items()
                                        if isinstance(v, int | float)},
                         tagger=tagger, evaluation=evaluation, prelabelled=pre.predictions,
                         prelabel_seconds=pre.seconds, run_id=None, notes=notes, threshold=extractor.threshold,
                         prelabel_relations=pre.relations, prelabel_none_pairs=pre.none_pairs)

    # 6. one MLflow run for the round
    with tracking.start_run(uri, ROUND_EXPERIMENT, run_name=f"round-{stamp}", tags={"task": "round"}) as run_id:
        result.run_id = run_id
        tracking.log_params({"project": options.project, "previous_version": previous or "",
                             "model": model, "model_version": extractor.model_version, "tagger": tagger or "gazetteer",
                             "export": pulled.file, "export_sha256": pulled.sha256, "dataset_digest": built.digest,
                             "stance_config": stance_cfg.name, "strategy": options.strategy,
                             "detection_threshold": "" if extractor.threshold is None else extractor.threshold})
        metrics = {**kept.metrics(), "prelabel_tasks": float(pre.predictions), "prelabel_spans": float(pre.spans),
                   "prelabel_relations": float(pre.relations), "prelabel_none_pairs": float(pre.none_pairs),
                   "prelabel_tasks_per_second": pre.tasks_per_second,
                   **{f"train_{k}": v for k, v in result.train_metrics.items()},
                   **{f"test_{k}": v for k, v in (evaluation or {}).items()}}
        tracking.log_metrics(metrics)
        tracking.log_text(kept.markdown(), "kept.md")
        tracking.log_text(json.dumps(kept.rows(), indent=1), "kept.json")
        tracking.log_text(result.markdown(), "round.md")
    write_text_atomic(out / "round.md", result.markdown())
    write_text_atomic(out / "kept.json", json.dumps(kept.rows(), indent=1) + "\n")
    return result
