"""Fine-tuning a target-aware sequence classifier with the transformers Trainer (single process or DDP)."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.errors import InputError
from training.inputs import ACTOR_OPEN, MARKER_WORDS, MARKERS, POLICY_OPEN, model_texts
from training.paths import resolve_path

if TYPE_CHECKING:
    from datasets import Dataset

    from training.config import TrainConfig, TransformerConfig

log = logging.getLogger(__name__)

META_FILE = "newsstance.json"  # beside config.json: input form, max length, labels
OPENING_MARKERS = (ACTOR_OPEN, POLICY_OPEN)  # where marker pooling reads the encoder's states
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_model(name: str) -> str:
    """A loadable model reference: `package:<module>` (its get_model_path()), a local folder, or a hub id."""
    if name.startswith("package:"):
        module = name.removeprefix("package:")
        try:
            return str(importlib.import_module(module).get_model_path())
        except (ImportError, AttributeError) as e:
            raise InputError("transformer.model", f"{name}: cannot get a model path from package ({e})") from None
    path = resolve_path(name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(path, "model folder has no config.json")
        return str(path)
    if name.startswith((".", "/", "~")) or not _HUB_ID.match(name) or path.exists():
        raise InputError(name, "model folder not found")
    return name  # a hub id: works wherever the hub (or its cache) is reachable


def is_main_process() -> bool:
    """Rank 0 (or a single process): the one that writes to MLflow and the output folder."""
    return int(os.environ.get("RANK", "0")) == 0


def load_tokenizer(ref: str, form: str) -> Any:
    """The model's tokenizer, with the entity markers added as special tokens for the markers form."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(ref)
    except (OSError, ValueError) as e:
        raise InputError(ref, f"cannot load the tokenizer ({str(e).splitlines()[0]})") from None
    if form == "markers":
        tokenizer.add_special_tokens({"additional_special_tokens": MARKERS})
    return tokenizer


def load_model(ref: str, names: Sequence[str], tokenizer: Any, random_init: bool, pooling: str = "cls") -> Any:
    """A sequence classifier whose config carries the codebook's label2id/id2label: the model's own head
    (`pooling` cls) or a head over the opening markers' states (`markers`, training.pooling)."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    id2label = dict(enumerate(names))
    label2id = {n: i for i, n in id2label.items()}
    auto = AutoModel if pooling == "markers" else AutoModelForSequenceClassification
    try:
        config = AutoConfig.from_pretrained(ref, num_labels=len(names), id2label=id2label, label2id=label2id)
        model = auto.from_config(config) if random_init else auto.from_pretrained(ref, config=config)
    except (OSError, ValueError) as e:
        raise InputError(ref, f"cannot load the model ({str(e).splitlines()[0]})") from None
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        old = model.get_input_embeddings().num_embeddings
        # the library's mean resizing is overwritten just below, but it draws from torch's generator: kept, so
        # a seeded run draws the head as the benchmarked runs did (and its notice about it, answered here, unsaid)
        from training.progress import quiet_logger

        with quiet_logger("transformers.modeling_utils"):
            model.resize_token_embeddings(len(tokenizer))
        init_marker_embeddings(model, tokenizer, old)
    if pooling == "markers":
        from training.pooling import MarkerPooledClassifier, marker_ids

        model = MarkerPooledClassifier(model, marker_ids(tokenizer, OPENING_MARKERS), len(names))
    return model


def init_marker_embeddings(model: Any, tokenizer: Any, old_size: int) -> None:
    """Each newly added marker's embedding := the mean of its MARKER_WORDS' pieces (known pieces only), so the
    actor and policy markers, opening and closing, start distinct and near words the model knows.
    `resize_token_embeddings` alone gives all four the same vector (the mean of the matrix), which
    frozen embeddings would then keep for the whole run."""
    import torch

    weight = model.get_input_embeddings().weight
    with torch.no_grad():
        for marker, words in MARKER_WORDS.items():
            idx = tokenizer.convert_tokens_to_ids(marker)
            if not isinstance(idx, int) or idx < old_size:
                continue
            pieces = [i for i in tokenizer(words, add_special_tokens=False)["input_ids"]
                      if i < old_size and i != tokenizer.unk_token_id]
            if pieces:
                weight[idx] = weight[pieces].mean(dim=0)


def encode(tokenizer: Any, rows: Sequence[dict[str, Any]], form: str, max_length: int,
           labels: Sequence[int] | None = None, pad_to_max: bool = False, locate_unplaced: bool = False,
           context_sentences: int = 0, context_title: bool = False) -> Dataset:
    """Tokenised rows (input_ids, attention_mask[, token_type_ids], length[, labels]) as a Dataset.

    With article context, truncation cuts from the left (the farthest context goes first)."""
    from datasets import Dataset

    firsts, seconds = model_texts(rows, form, locate_unplaced, context_sentences, context_title)
    padding = "max_length" if pad_to_max else False
    encoded: list[dict[str, Any]] = [{} for _ in rows]
    side = tokenizer.truncation_side
    tokenizer.truncation_side = "left" if context_sentences or context_title else side
    try:
        for paired in (False, True):
            idx = [i for i, s in enumerate(seconds) if (s is not None) == paired]
            if not idx:
                continue
            batch = tokenizer([firsts[i] for i in idx], [seconds[i] for i in idx] if paired else None,
                              truncation=True, max_length=max_length, padding=padding)
            for j, i in enumerate(idx):
                encoded[i] = {k: v[j] for k, v in batch.items()}
    finally:
        tokenizer.truncation_side = side
    columns: dict[str, list[Any]] = {k: [e[k] for e in encoded] for k in encoded[0]}
    columns["length"] = [sum(m) for m in columns["attention_mask"]]
    if labels is not None:
        columns["labels"] = list(labels)
    return Dataset.from_dict(columns)


def predict_encoded(model: Any, tokenizer: Any, ds: Dataset, batch_size: int = 64,
                    progress: bool = False) -> np.ndarray:
    """Class probabilities for an encoded Dataset, in its row order (batched by length, then put back).

    Not Trainer.predict: with length-grouped training, transformers 5 also length-groups the evaluation
    sampler, so its predictions come back permuted.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import DataCollatorWithPadding

    columns = {c: ds[c] for c in ds.column_names if c not in ("length", "labels")}
    order = np.argsort(ds["length"], kind="stable")
    collate = DataCollatorWithPadding(tokenizer)
    device = next(model.parameters()).device
    out = np.zeros((len(ds), model.config.num_labels))
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="predict", disable=not progress, unit="batch"):
            idx = order[start: start + batch_size]
            batch = collate([{c: v[int(i)] for c, v in columns.items()} for i in idx])
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return out


def class_weights(labels: Sequence[int], n: int) -> list[float]:
    """Inverse-frequency weights over present classes (mean 1); absent classes get 1."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=n)
    present = counts > 0
    weights = np.ones(n)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return weights.tolist()


_LAYER = re.compile(r"(?:^|\.)layer\.(\d+)\.")


def layer_depth(name: str, layers: int) -> int:
    """A parameter's depth from the top for layer-wise lr decay: 0 for the head (and pooler), 1 for the last
    encoder layer ... `layers` for the first, `layers + 1` for the embeddings."""
    if "embeddings" in name:
        return layers + 1
    found = _LAYER.search(name)
    return layers - int(found.group(1)) if found else 0


def _trainer_class() -> type:
    """Trainer with optional class weights, label smoothing, layer-wise lr decay, and running train
    predictions for per-epoch train metrics."""
    import torch
    from transformers import Trainer

    class StanceTrainer(Trainer):
        def __init__(self, *args: Any, weights: list[float] | None = None, smoothing: float = 0.0,
                     layer_decay: float = 1.0, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.weights = torch.tensor(weights, dtype=torch.float) if weights else None
            self.smoothing = smoothing
            self.layer_decay = layer_decay
            self.epoch_preds: list[int] = []
            self.epoch_labels: list[int] = []

        def create_optimizer(self, model: Any = None) -> Any:
            """With layer_decay < 1, one parameter group per depth: lr * decay**depth (the head at full lr)."""
            if self.layer_decay >= 1.0 or self.optimizer is not None:
                return super().create_optimizer(model)
            opt_model = self.model if model is None else model
            layers = int(getattr(opt_model.config, "num_hidden_layers", 0))
            decay_names = set(self.get_decay_parameter_names(opt_model))
            groups: dict[tuple[int, bool], list[Any]] = {}
            for n, p in opt_model.named_parameters():
                if p.requires_grad:
                    groups.setdefault((layer_depth(n, layers), n in decay_names), []).append(p)
            cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
            self.optimizer = cls([{"params": params, "lr": self.args.learning_rate * self.layer_decay ** depth,
                                   "weight_decay": self.args.weight_decay if decays else 0.0}
                                  for (depth, decays), params in sorted(groups.items())], **kwargs)
            return self.optimizer

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits
            weight = self.weights.to(logits.device) if self.weights is not None else None
            loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight, label_smoothing=self.smoothing)
            if model.training:
                self.epoch_preds += logits.detach().argmax(-1).tolist()
                self.epoch_labels += labels.tolist()
            return (loss, outputs) if return_outputs else loss

    return StanceTrainer


def _gather(values: list[int]) -> list[int]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, values)
    return [v for part in parts for v in part]


@dataclass
class EpochLog:
    """Per-epoch metrics in the order they happen; `sink` (rank 0) forwards each finished epoch."""

    names: list[str]
    score: Callable[[Sequence[str], Sequence[str]], float]
    sink: Callable[[dict[str, float], int], None] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)


def _callback(trainer: Any, epochs: EpochLog) -> Any:
    from transformers import TrainerCallback

    class EpochMetrics(TrainerCallback):
        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            trainer.epoch_preds, trainer.epoch_labels = [], []

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            preds, gold = _gather(trainer.epoch_preds), _gather(trainer.epoch_labels)
            if gold:
                y_true = [epochs.names[i] for i in gold]
                y_pred = [epochs.names[i] for i in preds]
                epochs.pending["train_macro_f1"] = epochs.score(y_true, y_pred)
                epochs.pending["train_accuracy"] = float(np.mean(np.array(preds) == np.array(gold)))

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            logs = logs or {}
            if "loss" in logs:
                epochs.pending["train_loss"] = logs["loss"]
            if "eval_macro_f1" in logs:
                for key in ("loss", "macro_f1", "accuracy"):
                    if f"eval_{key}" in logs:
                        epochs.pending[f"validation_{key}"] = logs[f"eval_{key}"]
                step = round(state.epoch or 0)
                record = {"epoch": step, **epochs.pending}
                epochs.history.append(record)
                epochs.pending = {}
                if epochs.sink is not None and state.is_world_process_zero:
                    epochs.sink({k: v for k, v in record.items() if k != "epoch"}, step)

    return EpochMetrics()


def training_args(cfg: TransformerConfig, seed: int, deterministic: bool, output_dir: Path,
                  evaluate: bool = True, progress: bool = True) -> Any:
    """TrainingArguments for our path: per-epoch evaluation/checkpoints, selection on macro-F1."""
    import torch
    from transformers import TrainingArguments

    strategy = "epoch" if evaluate else "no"
    return TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=cfg.epochs, learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio, lr_scheduler_type="linear",
        eval_strategy=strategy, save_strategy=strategy, logging_strategy="epoch",
        load_best_model_at_end=evaluate, metric_for_best_model="macro_f1" if evaluate else None,
        greater_is_better=True, save_total_limit=2 if evaluate else None,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        seed=seed, data_seed=seed, full_determinism=deterministic,
        # accelerate only goes multi-process on CPU (gloo) when told it is CPU: say so where there is no GPU
        use_cpu=cfg.device == "cpu" or not torch.cuda.is_available(),
        report_to="none", disable_tqdm=not progress, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        ddp_find_unused_parameters=False, remove_unused_columns=True, save_only_model=False,
    )


@dataclass
class TransformerFit:
    """The fitted model folder, per-epoch history, validation probabilities and training speed."""

    model_dir: Path
    history: list[dict[str, float]]
    val_proba: np.ndarray
    samples_per_second: float
    best_epoch: int | None


@dataclass
class Prepared:
    """A Trainer ready to run, with what fit_transformer needs afterwards."""

    trainer: Any
    tokenizer: Any
    val_ds: Any
    epochs: EpochLog


def build_trainer(config: TrainConfig, train_rows: Any, y_train: Sequence[str], val_rows: Any,
                  y_val: Sequence[str], names: list[str], output_dir: Path,
                  score: Callable[[Sequence[str], Sequence[str]], float],
                  sink: Callable[[dict[str, float], int], None] | None = None, progress: bool = True,
                  evaluate: bool = True) -> Prepared:
    """Our training path: target-aware encoding, dynamic padding, length-grouped batches, optional class
    weights, per-epoch metrics and early stopping on validation macro-F1 (`evaluate=False`: training only)."""
    import torch
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed

    cfg = config.transformer
    assert cfg is not None
    form = config.data.input_form
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ref = resolve_model(cfg.model)
    set_seed(config.seed, deterministic=config.deterministic)
    tokenizer = load_tokenizer(ref, form)
    model = load_model(ref, names, tokenizer, cfg.random_init, cfg.pooling)
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)  # the Trainer's optimizer skips frozen weights
    label2id = {n: i for i, n in enumerate(names)}
    y = [label2id[v] for v in y_train]
    pad_to_max = not cfg.dynamic_padding
    d = config.data
    reading = {"locate_unplaced": d.locate_unplaced, "context_sentences": d.context_sentences,
               "context_title": d.context_title}
    train_ds = encode(tokenizer, _records(train_rows), form, cfg.max_length, y, pad_to_max, **reading)
    val_ds = encode(tokenizer, _records(val_rows), form, cfg.max_length, [label2id[v] for v in y_val], pad_to_max,
                    **reading)

    def metrics(eval_pred: Any) -> dict[str, float]:
        preds = np.asarray(eval_pred.predictions).argmax(-1)
        gold = np.asarray(eval_pred.label_ids)
        return {"macro_f1": score([names[i] for i in gold], [names[i] for i in preds]),
                "accuracy": float((preds == gold).mean())}

    args = training_args(cfg, config.seed, config.deterministic, output_dir / "checkpoints", evaluate=evaluate,
                         progress=progress)
    epochs = EpochLog(names, score, sink)
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds if evaluate else None,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=metrics if evaluate else None,
        weights=class_weights(y, len(names)) if cfg.class_weights else None, smoothing=cfg.label_smoothing,
        layer_decay=cfg.layer_lr_decay)
    trainer.add_callback(_callback(trainer, epochs))
    from training.progress import install

    install(trainer, quiet=not progress)  # a bar and one line per epoch instead of the Trainer's raw dicts
    if cfg.early_stopping_patience and evaluate:
        trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    return Prepared(trainer, tokenizer, val_ds, epochs)


def fit_transformer(config: TrainConfig, train_rows: Any, y_train: Sequence[str], val_rows: Any,
                    y_val: Sequence[str], names: list[str], output_dir: Path,
                    score: Callable[[Sequence[str], Sequence[str]], float],
                    sink: Callable[[dict[str, float], int], None] | None = None,
                    resume_from: str | None = None, progress: bool = True) -> TransformerFit:
    """Fine-tune per `config.transformer`; checkpoints each epoch under output_dir/checkpoints; saves the best
    model (by validation macro-F1) with its tokenizer and META_FILE to output_dir/model."""
    cfg = config.transformer
    assert cfg is not None
    prepared = build_trainer(config, train_rows, y_train, val_rows, y_val, names, output_dir, score, sink,
                             progress)
    trainer, tokenizer = prepared.trainer, prepared.tokenizer
    result = trainer.train(resume_from_checkpoint=resume_from)
    # the selected (best) model on validation, in row order; only rank 0 reports, so only rank 0 computes
    proba = predict_encoded(trainer.model, tokenizer, prepared.val_ds, cfg.eval_batch_size) \
        if trainer.is_world_process_zero() else np.full((len(prepared.val_ds), len(names)), 1 / len(names))
    model_dir = output_dir / "model"
    if cfg.pooling == "cls":
        trainer.save_model(str(model_dir))
    elif trainer.is_world_process_zero():
        trainer.model.save(model_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(model_dir))
        meta = {"input_form": config.data.input_form, "max_length": cfg.max_length, "labels": names,
                "markers": MARKERS, "base_model": cfg.model, "pooling": cfg.pooling,
                "locate_unplaced": config.data.locate_unplaced, "context_sentences": config.data.context_sentences,
                "context_title": config.data.context_title}
        (model_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    best = trainer.state.best_model_checkpoint
    best_epoch = None
    if best:
        step = int(best.rsplit("-", 1)[-1])
        best_epoch = next((round(h["epoch"]) for h in trainer.state.log_history
                           if h.get("step") == step and "eval_macro_f1" in h), None)
    return TransformerFit(model_dir, prepared.epochs.history, proba,
                          float(result.metrics.get("train_samples_per_second", 0)), best_epoch)


def _records(rows: Any) -> list[dict[str, Any]]:
    if hasattr(rows, "to_list"):
        return rows.to_list()
    if hasattr(rows, "to_dict"):
        return rows.to_dict("records")
    return list(rows)
