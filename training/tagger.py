"""Span tagger: find Actor and Policy mentions in article text and normalise them to the codebook.

Two finders share one output, `corpus.gazetteer.Mention` (character offsets into the text it was given):

* the gazetteer (`corpus.gazetteer.Gazetteer`): the codebook's alias table matched on word boundaries, longest
  alias first; it needs no model and is the fallback wherever no tagger is given;
* the tagger: transformers token classification over BIO tags, trained from the dataset's `mentions`
  config (`train_tagger`), tracked in MLflow through `training.tracking` like every run.

Tagger mentions are normalised by the gazetteer (`Gazetteer.normalised`), reconciled with its matches
(`merge_mentions`), and pronouns take the preceding person (`resolve_pronouns`). A mention that matches
nothing well enough keeps `canonical=None`; callers decide what to do with it.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from corpus.codebook import ACTOR_LABEL, Codebook
from corpus.errors import InputError
from corpus.gazetteer import PRONOUNS, Gazetteer, Mention, surface_key
from training.config import (
    DataConfig,
    TrackingConfig,
    TrainConfig,
    TransformerConfig,
    _Section,
    flatten,
    load_config,
)
from training.paths import resolve_path, var_dir

log = logging.getLogger(__name__)

MENTIONS = "mentions"
TAGGER_META = "newsstance-tagger.json"  # beside config.json: the tagger's max length and tag names


def resolve_pronouns(mentions: list[Mention], codebook: Codebook) -> list[Mention]:
    """Give each unresolved pronoun Actor mention the canonical id of the nearest preceding person actor."""
    persons = {a.id for a in codebook.actors if a.type == "person"}
    out: list[Mention] = []
    last_person: str | None = None
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        if m.label == ACTOR_LABEL and m.canonical is None and surface_key(m.text) in PRONOUNS and last_person:
            m = replace(m, canonical=last_person, score=round(m.score * 0.8, 4))
        if m.label == ACTOR_LABEL and m.canonical in persons:
            last_person = m.canonical
        out.append(m)
    return out


def merge_mentions(tagged: Iterable[Mention], matched: Iterable[Mention]) -> list[Mention]:
    """Tagger mentions reconciled with gazetteer matches, in text order.

    A gazetteer match is an exact codebook alias: where it overlaps tagger mentions it replaces them, unless
    one of them contains it and is itself normalised ("the Mexican government's forces" keeps its length).
    Tagger mentions that overlap no match (pronouns, names outside the table) are kept; matches the tagger
    missed are added.
    """
    chosen = sorted(tagged, key=lambda m: (m.start, m.end))
    for g in matched:
        overlapping = [t for t in chosen if t.start < g.end and g.start < t.end]
        if any(t.start <= g.start and g.end <= t.end and t.canonical is not None for t in overlapping):
            continue
        chosen = [t for t in chosen if t not in overlapping] + [g]
    return sorted(chosen, key=lambda m: (m.start, m.end))


# --------------------------------------------------------------------------------------------- config
# The stance config's sections and fields, shared: unknown keys are errors alike, and bounds cannot drift.
def _shared(section: type[BaseModel], name: str) -> Any:
    """The field `name` of a stance config section (its type bounds, default and help)."""
    return section.model_fields[name]


class TaggerData(_Section):
    """The mentions config of a dataset build: sentences with tokens and BIO tags."""

    dataset: str = Field("var/dataset", description="DATASET folder holding mentions/ (and digest.json).")
    train_split: str = _shared(DataConfig, "train_split")
    validation_split: str = _shared(DataConfig, "validation_split")
    max_train_samples: int | None = Field(None, ge=1, description="Cap on training sentences (quick runs).")
    max_validation_samples: int | None = _shared(DataConfig, "max_validation_samples")
    empty_ratio: float | None = Field(
        1.0, ge=0, description="Sentences without any mention kept per sentence with one (None: keep all); "
                               "imported corpora tag only the sentences their statements came from.")


class TaggerModel(_Section):
    """The token classifier: the `TransformerConfig` fields a tagger run uses, shared with it."""

    model: str = _shared(TransformerConfig, "model")
    random_init: bool = _shared(TransformerConfig, "random_init")
    max_length: int = _shared(TransformerConfig, "max_length")
    epochs: float = Field(3.0, gt=0, le=100, description="Epochs to train (no early stopping).")  # stance default: 4
    learning_rate: float = _shared(TransformerConfig, "learning_rate")
    batch_size: int = _shared(TransformerConfig, "batch_size")
    eval_batch_size: int = _shared(TransformerConfig, "eval_batch_size")
    weight_decay: float = _shared(TransformerConfig, "weight_decay")
    warmup_ratio: float = _shared(TransformerConfig, "warmup_ratio")
    threads: int | None = _shared(TransformerConfig, "threads")


class TaggerConfig(_Section):
    """One tagger training run (the stance TrainConfig's shape, with `kind: tagger`)."""

    name: str = _shared(TrainConfig, "name")
    kind: Literal["tagger"] = "tagger"
    seed: int = _shared(TrainConfig, "seed")
    deterministic: bool = _shared(TrainConfig, "deterministic")
    output_dir: str | None = _shared(TrainConfig, "output_dir")
    data: TaggerData = Field(default_factory=TaggerData)
    tracking: TrackingConfig = Field(default_factory=lambda: TrackingConfig(
        experiment="newsstance-tagger", registered_model="newsstance-tagger"))
    transformer: TaggerModel

    def flat(self) -> dict[str, Any]:
        return flatten(self.model_dump(mode="json"))


def load_tagger_config(path: str | Path, overrides: list[str] | None = None) -> tuple[TaggerConfig, Path]:
    """Read, override (`a.b=value`) and validate a tagger config; InputError names the offending key."""
    return load_config(path, overrides, TaggerConfig, "a tagger config")


# --------------------------------------------------------------------------------------------- BIO spans
def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first token, last token + 1, label) of each BIO span; an I- without its B- opens a span (lenient)."""
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if start is not None and (prefix in ("O", "B") or name != label):
            spans.append((start, i, label or ""))
            start, label = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, label = i, name
    return spans


def span_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Exact-span precision, recall and F1 (micro, and F1 per label), as a span tagger is usually scored."""
    tp: Counter = Counter()
    n_gold: Counter = Counter()
    n_pred: Counter = Counter()
    for g, p in zip(gold, pred, strict=True):
        gs, ps = set(bio_spans(g)), set(bio_spans(p))
        for s in gs:
            n_gold[s[2]] += 1
        for s in ps:
            n_pred[s[2]] += 1
        for s in gs & ps:
            tp[s[2]] += 1

    def f1(t: int, g: int, p: int) -> tuple[float, float, float]:
        prec = t / p if p else 0.0
        rec = t / g if g else 0.0
        return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)

    precision, recall, f = f1(sum(tp.values()), sum(n_gold.values()), sum(n_pred.values()))
    out = {"span_precision": precision, "span_recall": recall, "span_f1": f}
    for label in sorted(set(n_gold) | set(n_pred)):
        out[f"span_f1_{label}"] = f1(tp[label], n_gold[label], n_pred[label])[2]
    return out


# --------------------------------------------------------------------------------------------- the model
def _mentions_dir(dataset: str | Path) -> Path:
    root = resolve_path(dataset)
    if not root.exists():
        raise InputError(root, "dataset folder not found (build one with `python -m corpus build`)")
    for candidate in (root / MENTIONS, root):
        if (candidate / "dataset_dict.json").is_file():
            return candidate
    raise InputError(root, f"not a dataset: no {MENTIONS}/dataset_dict.json (build one with `python -m corpus build`)")


def _tag_names(ds: Any, codebook: Codebook) -> list[str]:
    feature = ds.features.get("tags")
    names = getattr(getattr(feature, "feature", None), "names", None)
    if names:
        return list(names)
    return ["O", *(f"{p}-{s.value}" for s in codebook.span_labels for p in ("B", "I"))]


def _subsample(ds: Any, empty_ratio: float | None, cap: int | None, seed: int) -> Any:
    """Keep every sentence with a mention, `empty_ratio` empty sentences per such sentence, at most `cap` rows."""
    if empty_ratio is not None:
        has = [any(t != 0 for t in tags) for tags in ds["tags"]]
        full = [i for i, h in enumerate(has) if h]
        empty = [i for i, h in enumerate(has) if not h]
        keep_empty = min(len(empty), int(round(empty_ratio * max(len(full), 1))))
        rng = random.Random(seed)
        ds = ds.select(sorted(full + rng.sample(empty, keep_empty)))
    if cap is not None and len(ds) > cap:
        ds = ds.shuffle(seed=seed).select(range(cap))
    return ds


def _encode(batch: dict[str, list[Any]], tokenizer: Any, max_length: int) -> dict[str, Any]:
    """Tokenise pre-split words; the first sub-token of each word carries its tag, the rest -100."""
    enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
    labels = []
    for i, tags in enumerate(batch["tags"]):
        row, previous = [], None
        for word in enc.word_ids(i):
            row.append(-100 if word is None or word == previous else int(tags[word]))
            previous = word
        labels.append(row)
    enc["labels"] = labels
    return enc


@dataclass(frozen=True)
class TaggerRun:
    """What a tagger training produced: the run, the logged model, its scores and registry entry."""

    run_id: str
    model_uri: str
    model_dir: Path
    metrics: dict[str, float]
    registered: str | None  # "name/version"


def train_tagger(config: TaggerConfig, config_file: Path | None = None, dataset: str | None = None,
                 tracking_uri: str | None = None, codebook: Codebook | None = None) -> TaggerRun:
    """Fine-tune a token classifier on DATASET/mentions, score spans on validation, log and register it."""
    import numpy as np
    import torch
    from datasets import load_from_disk
    from transformers import (
        AutoConfig,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    from corpus.codebook import load_codebook
    from training import tracking
    from training.transformer import resolve_model

    codebook = codebook or load_codebook()
    if dataset:
        config = config.model_copy(update={"data": config.data.model_copy(update={"dataset": dataset})})
    uri = tracking.resolve_tracking_uri(tracking_uri, config.tracking.uri)
    tracking.check_reachable(uri)
    folder = _mentions_dir(config.data.dataset)
    dd = load_from_disk(str(folder))
    for split in (config.data.train_split, config.data.validation_split):
        if split not in dd:
            raise InputError(folder, f"no split {split!r}; the dataset has {', '.join(dd.keys())}")
    train_ds = _subsample(dd[config.data.train_split], config.data.empty_ratio, config.data.max_train_samples,
                          config.seed)
    val_ds = dd[config.data.validation_split]
    if config.data.max_validation_samples and len(val_ds) > config.data.max_validation_samples:
        val_ds = val_ds.select(range(config.data.max_validation_samples))
    if len(train_ds) == 0:
        raise InputError(folder, f"split {config.data.train_split!r} has no sentences to train on")
    names = _tag_names(dd[config.data.train_split], codebook)
    id2label = dict(enumerate(names))
    label2id = {n: i for i, n in id2label.items()}
    source = resolve_model(config.transformer.model)
    set_seed(config.seed, deterministic=config.deterministic)
    if config.transformer.threads:
        torch.set_num_threads(config.transformer.threads)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(source, "the tagger needs a fast tokenizer (word alignment)")
    if config.transformer.random_init:
        hf_config = AutoConfig.from_pretrained(source, num_labels=len(names), id2label=id2label, label2id=label2id)
        model = AutoModelForTokenClassification.from_config(hf_config)
    else:
        model = AutoModelForTokenClassification.from_pretrained(
            source, num_labels=len(names), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
    cols = list(train_ds.column_names)
    max_length = config.transformer.max_length
    train_enc = train_ds.map(_encode, batched=True, remove_columns=cols,
                             fn_kwargs={"tokenizer": tokenizer, "max_length": max_length})
    val_enc = val_ds.map(_encode, batched=True, remove_columns=val_ds.column_names,
                         fn_kwargs={"tokenizer": tokenizer, "max_length": max_length}) if len(val_ds) else None

    def compute(pred: Any) -> dict[str, float]:
        logits, labels = pred
        best = np.argmax(logits, axis=-1)
        gold_tags, pred_tags = [], []
        for b, lab in zip(best, labels, strict=True):
            keep = lab != -100
            gold_tags.append([names[i] for i in lab[keep]])
            pred_tags.append([names[i] for i in b[keep]])
        return span_scores(gold_tags, pred_tags)

    out_dir = Path(config.output_dir) if config.output_dir else var_dir() / "runs" / config.name
    history: list[dict[str, float]] = []

    class _Epochs(TrainerCallback):  # per-epoch metrics into the open MLflow run
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kw: Any) -> None:
            if logs:
                step = int(round(state.epoch or 0))
                clean = {(k if k.startswith("eval_") else f"train_{k}"): v for k, v in logs.items()
                         if isinstance(v, int | float) and k not in ("epoch", "total_flos")}
                tracking.log_metrics(clean, step=step)
                history.append({"epoch": state.epoch or 0, **clean})

    args = TrainingArguments(
        output_dir=str(out_dir / "checkpoints"), num_train_epochs=config.transformer.epochs,
        learning_rate=config.transformer.learning_rate, per_device_train_batch_size=config.transformer.batch_size,
        per_device_eval_batch_size=config.transformer.eval_batch_size, weight_decay=config.transformer.weight_decay,
        warmup_steps=config.transformer.warmup_ratio, eval_strategy="epoch" if val_enc is not None else "no",
        logging_strategy="epoch", save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
        seed=config.seed, disable_tqdm=not log.isEnabledFor(logging.INFO), dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train_enc, eval_dataset=val_enc,
                      data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer,
                      compute_metrics=compute, callbacks=[_Epochs()])
    trainer.remove_callback(PrinterCallback)  # metrics go to MLflow and the log, not to stdout
    with tracking.start_run(uri, config.tracking.experiment, run_name=config.name,
                            tags={"task": "tagger", "kind": "tagger"}) as run_id:
        tracking.log_params(config.flat())
        digest = _digest(folder)
        tracking.set_tags({"dataset_digest": digest, "dataset_path": str(folder)})
        shown = [c for c in ("id", "text", "tags") if c in train_ds.column_names]
        tracking.log_dataset(train_ds.select_columns(shown).to_pandas(), name=f"{folder.parent.name}/{MENTIONS}",
                             digest=digest, source=str(folder), context="training", targets="tags")
        if config_file is not None:
            tracking.log_artifact(config_file, "config")
        trainer.train()
        metrics = {k.removeprefix("eval_"): float(v) for k, v in (trainer.evaluate() if val_enc is not None
                                                                   else {}).items() if isinstance(v, int | float)}
        tracking.log_metrics({f"validation_{k}": v for k, v in metrics.items()})
        model_dir = out_dir / "model"
        trainer.save_model(str(model_dir))
        tokenizer.save_pretrained(str(model_dir))
        (model_dir / TAGGER_META).write_text(json.dumps({"kind": "tagger", "max_length": max_length,
                                                         "tags": names}, indent=1), encoding="utf-8")
        model_uri = _log_tagger_model(model_dir)
        registered = None
        if config.tracking.registry:
            reg = tracking.register(model_uri, config.tracking.registered_model, metrics.get("span_f1", 0.0), run_id)
            registered = f"{reg.name}/{reg.version}"
    return TaggerRun(run_id, model_uri, model_dir, metrics, registered)


def _digest(folder: Path) -> str:
    for candidate in (folder.parent / "digest.json", folder / "digest.json"):
        if candidate.is_file():
            try:
                return str(json.loads(candidate.read_text(encoding="utf-8"))["digest"])
            except (ValueError, KeyError, TypeError):
                break
    return "unknown"


def _log_tagger_model(model_dir: Path) -> str:
    """Log the saved tagger folder as a pyfunc (text -> mentions JSON); returns the model URI."""
    import mlflow.pyfunc

    from training import tracking

    class TaggerModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context: Any) -> None:
            self.tagger = SpanTagger.from_folder(Path(context.artifacts["hf_model"]))

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - MLflow reads hints
            texts = list(model_input["text"]) if hasattr(model_input, "columns") else list(model_input)
            return [json.dumps([m.__dict__ for m in ms]) for ms in self.tagger.predict_many(texts)]

    with tracking.code_paths() as code:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TaggerModel(), artifacts={"hf_model": str(model_dir)},
            pip_requirements=tracking._pip_requirements("torch", "transformers", "pandas", "numpy"),
            code_paths=code)
    return info.model_uri


# --------------------------------------------------------------------------------------------- inference
class SpanTagger:
    """A trained token classifier that marks Actor/Policy spans in text (offsets into that text)."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int = 256, batch_size: int = 32,
                 version: str = "local") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.version = version
        self.names = [model.config.id2label[i] for i in range(len(model.config.id2label))]

    @classmethod
    def from_folder(cls, folder: Path, version: str = "local", **options: Any) -> SpanTagger:
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise InputError(folder, "not a tagger model folder (no config.json)")
        model = AutoModelForTokenClassification.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        # Whole sentences at inference: up to the model's own limit, not the (shorter) training length.
        options.setdefault("max_length", min(int(getattr(model.config, "max_position_embeddings", 512) or 512), 512))
        return cls(model, tokenizer, version=version, **options)

    def predict(self, text: str) -> list[Mention]:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Mentions per text: every sentence tagged, BIO tags decoded to character spans (canonical unset)."""
        import torch

        from corpus.sentences import split_sentences, tokenize

        units = []  # (text index, sentence start, words, word starts, word ends)
        for t, text in enumerate(texts):
            for start, end in split_sentences(text):
                words, starts, ends = tokenize(text, start, end)
                if words:
                    units.append((t, start, words, starts, ends))
        out: list[list[Mention]] = [[] for _ in texts]
        for b in range(0, len(units), self.batch_size):
            chunk = units[b: b + self.batch_size]
            enc = self.tokenizer([u[2] for u in chunk], is_split_into_words=True, truncation=True,
                                 max_length=self.max_length, padding=True, return_tensors="pt")
            with torch.inference_mode():
                probs = torch.softmax(self.model(**{k: v for k, v in enc.items()}).logits, dim=-1)
            for i, (t, base, words, starts, ends) in enumerate(chunk):
                word_probs: dict[int, Any] = {}
                for pos, word in enumerate(enc.word_ids(i)):
                    if word is not None and word not in word_probs:
                        word_probs[word] = probs[i, pos]
                tags, conf = [], []
                for w in range(len(words)):  # words cut off by truncation are outside any span
                    p = word_probs.get(w)
                    k = int(p.argmax()) if p is not None else 0
                    tags.append(self.names[k] if p is not None else "O")
                    conf.append(float(p[k]) if p is not None else 1.0)
                for first, last, label in bio_spans(tags):
                    s, e = base + starts[first], base + ends[last - 1]
                    score = sum(conf[first:last]) / (last - first)
                    out[t].append(Mention(s, e, texts[t][s:e], label, None, round(score, 4), "tagger"))
        return out


def load_tagger(ref: str | Path, tracking_uri: str | None = None) -> SpanTagger:
    """A tagger from a model folder, a downloaded MLflow model folder, or an MLflow URI (models:/..., runs:/...)."""
    path = resolve_path(str(ref))
    version = str(ref)
    if not path.exists():
        if "://" not in str(ref) and not str(ref).startswith("models:/"):
            raise InputError(ref, "tagger model not found (a model folder or an MLflow URI such as "
                                  "models:/newsstance-tagger@champion)")
        from training import tracking

        path = tracking.download_model(str(ref), tracking_uri)
    artifacts = sorted((path / "artifacts").glob("*")) if (path / "artifacts").is_dir() else []
    for candidate in (path, *artifacts):
        if (candidate / "config.json").is_file():
            return SpanTagger.from_folder(candidate, version=version)
    raise InputError(ref, "holds no tagger model (no config.json)")


def find_mentions(text: str, gazetteer: Gazetteer, tagger: SpanTagger | None = None,
                  tagged: list[Mention] | None = None, fallback: bool = True) -> list[Mention]:
    """Mentions of `text`: the tagger's (normalised) reconciled with the gazetteer's matches (`merge_mentions`),
    or the gazetteer's alone without a tagger; pronouns resolved to the preceding person."""
    if tagger is None and tagged is None:
        mentions = gazetteer.find(text)
    else:
        found = tagged if tagged is not None else tagger.predict(text)  # type: ignore[union-attr]
        mentions = [gazetteer.normalised(m) for m in found]
        if fallback:
            mentions = merge_mentions(mentions, gazetteer.find(text))
    return resolve_pronouns(mentions, gazetteer.codebook)
