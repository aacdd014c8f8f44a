"""Stance classifiers on SEESAW (train on train, select on validation, test once) and training throughput.

`python -m tests.benchmarks training`. Builds the SEESAW dataset with the project's own importer and build
(`python -m corpus import seesaw` + `python -m corpus build`) into var/bench/ when missing, trains each config
through `training.run.train` (tracked in var/bench/mlflow.db), scores test once with `training.predict`.
Throughput: our transformer path (dynamic padding, length-grouped batches) against a plain Trainer that pads
every example to max_length with random batches, same model, rows and machine, in this one run.

MiniLM variants (each is minilm.yaml with the overrides shown; all use markers for unplaced mentions found
in the context unless told, frozen word embeddings, lr 3e-5 and three epochs): `markers+marker-head` (as
shipped: a head over the opening markers' states), `markers+cls-head` (the model's own [CLS] head),
`pair+cls-head` (actor ; policy as segment A), `markers+marker-head+prefix-unplaced` (mentions without offsets
stay, marked, in the prefix). The one with the best validation macro-F1 is the selected model; every
variant's test score is shown.

Knobs (environment): BENCH_TRAINING_MINILM_EPOCHS (default: the config's), BENCH_TRAINING_VARIANTS
(default all four), BENCH_TRAINING_THROUGHPUT_ROWS (default 960), BENCH_TRAINING_SKIP_MINILM=1,
BENCH_TRAINING_SKIP_THROUGHPUT=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "var" / "bench"
DATASET = BENCH / "seesaw-dataset"
IMPORTED = BENCH / "seesaw-import"
URI = f"sqlite:///{BENCH / 'mlflow.db'}"
EXPERIMENT = "bench-stance"
MACHINE = "2 cores, 24 GiB, CPU (shared with other jobs; load average shown)"


def _seesaw_dir() -> Path | None:
    env = os.environ.get("SEESAW_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW"
    return path if (path / "annotations").is_dir() else None


def _commands(seesaw: Path) -> list[list[str]]:
    return [[sys.executable, "-m", "corpus", "import", "seesaw", str(seesaw), "--out", str(IMPORTED)],
            [sys.executable, "-m", "corpus", "build", str(IMPORTED), "--out", str(DATASET)]]


def ensure_dataset(seesaw: Path) -> None:
    """SEESAW through our importer and build, once (kept under var/bench/, git-ignored)."""
    if (DATASET / "statements" / "dataset_dict.json").is_file():
        return
    for cmd in _commands(seesaw):
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


VARIANTS = {"markers+marker-head": ["transformer.pooling=markers"],
            "markers+cls-head": ["transformer.pooling=cls"],
            "pair+cls-head": ["data.input_form=pair", "transformer.pooling=cls"],
            "markers+marker-head+prefix-unplaced": ["transformer.pooling=markers", "data.locate_unplaced=false"]}


def train_and_test(config: str, overrides: list[str], variant: str = "") -> dict[str, Any]:
    """Train one config (validation selects), then score the test split once with the saved model."""
    from corpus.codebook import load_codebook
    from training.config import load_config
    from training.data import load_statements
    from training.predict import load_predictor
    from training.reports import scores
    from training.run import train

    names = load_codebook().stance_names
    load_before = _load()
    cfg, file = load_config(config, [f"output_dir={BENCH / 'runs' / (config + '-' + (variant or 'as-shipped'))}",
                                     f"tracking.registered_model=bench-{config}", *overrides])
    t0 = time.perf_counter()
    summary = train(cfg, file, dataset=str(DATASET), tracking_uri=URI, experiment=EXPERIMENT, progress=False)
    seconds = time.perf_counter() - t0
    test = load_statements(DATASET, ["test"], names)
    proba = load_predictor(str(summary.model_dir)).predict_proba(test.splits["test"])
    predicted = [names[i] for i in proba.argmax(axis=1)]
    result = scores(test.labels["test"], predicted, names)
    return {"config": config, "variant": variant, "overrides": overrides, "run": summary.run_id, "seconds": seconds,
            "validation": summary.metrics["validation_macro_f1"], "test": result["macro_f1"],
            "accuracy": result["accuracy"], "best_epoch": summary.best_epoch, "selected": summary.extra,
            "epochs": len(summary.history), "load": f"{load_before} -> {_load()}"}


def throughput(rows: int) -> dict[str, Any]:
    """Training samples/s, one epoch over the same `rows` SEESAW train rows: our path vs a plain Trainer."""
    import tempfile

    import torch
    from transformers import Trainer, TrainingArguments, default_data_collator

    from corpus.codebook import load_codebook
    from training.config import load_config
    from training.data import load_statements
    from training.inputs import model_texts
    from training.reports import scores
    from training.transformer import build_trainer, load_model, load_tokenizer, resolve_model

    names = load_codebook().stance_names
    cfg, _ = load_config("minilm", ["transformer.epochs=1", "transformer.class_weights=false"])
    data = load_statements(DATASET, ["train"], names, {"train": rows})
    train_rows, y = data.splits["train"], data.labels["train"]
    score = lambda t, p: scores(t, p, names)["macro_f1"]  # noqa: E731
    t = cfg.transformer
    out: dict[str, Any] = {"rows": rows, "max_length": t.max_length, "batch": t.batch_size,
                           "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        # ours: the library's own Trainer set-up, evaluation off (training speed only); as shipped, then with only
        # the padding and batching changes (no frozen embeddings, the [CLS] head) to show what those alone give
        for key, extra in (("ours", []), ("ours_padding_only", ["transformer.freeze_embeddings=false",
                                                                 "transformer.pooling=cls"])):
            variant, _ = load_config("minilm", ["transformer.epochs=1", "transformer.class_weights=false", *extra])
            ours = build_trainer(variant, train_rows, y, train_rows, y, names, Path(tmp) / key, score,
                                 progress=False, evaluate=False)
            out[f"load_{key}"] = _load()
            out[key] = ours.trainer.train().metrics["train_samples_per_second"]
        lengths = ours.trainer.train_dataset["length"]
        out["mean_tokens"] = sum(lengths) / len(lengths)
        # plain: tokenizer pads every row to max_length, random batches, default collator (example-script style)
        ref = resolve_model(t.model)
        tokenizer = load_tokenizer(ref, "markers")
        torch.manual_seed(cfg.seed)
        model = load_model(ref, names, tokenizer, False)
        first, second = model_texts(train_rows.to_list(), "markers")
        encoded = [tokenizer(a, b, truncation=True, max_length=t.max_length, padding="max_length")
                   for a, b in zip(first, second, strict=True)]
        for e, label in zip(encoded, y, strict=True):
            e["labels"] = names.index(label)
        args = TrainingArguments(output_dir=str(Path(tmp) / "plain"), num_train_epochs=1,
                                 per_device_train_batch_size=t.batch_size, learning_rate=t.learning_rate,
                                 weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio, report_to="none",
                                 save_strategy="no", eval_strategy="no", logging_strategy="no", use_cpu=True,
                                 seed=cfg.seed, disable_tqdm=True, dataloader_pin_memory=False)
        plain = Trainer(model=model, args=args, train_dataset=[dict(e) for e in encoded],
                        data_collator=default_data_collator)
        out["load_plain"] = _load()
        out["plain"] = plain.train().metrics["train_samples_per_second"]
    out["ratio"] = out["ours"] / out["plain"]
    out["ratio_padding_only"] = out["ours_padding_only"] / out["plain"]
    return out


def main() -> str:
    seesaw = _seesaw_dir()
    if seesaw is None:
        return "## Training (SEESAW)\n\nSkipped: SEESAW not found (set SEESAW_DIR or provide ../shared).\n"
    ensure_dataset(seesaw)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    results = [train_and_test("majority", []), train_and_test("tfidf_logreg", [])]
    variants = [v for v in os.environ.get("BENCH_TRAINING_VARIANTS", ",".join(VARIANTS)).split(",") if v]
    epochs = os.environ.get("BENCH_TRAINING_MINILM_EPOCHS")
    if os.environ.get("BENCH_TRAINING_SKIP_MINILM") != "1":
        for variant in variants:
            results.append(train_and_test("minilm", VARIANTS[variant] +
                                          ([f"transformer.epochs={epochs}"] if epochs else []), variant))
    speed = None if os.environ.get("BENCH_TRAINING_SKIP_THROUGHPUT") == "1" else \
        throughput(int(os.environ.get("BENCH_TRAINING_THROUGHPUT_ROWS", "960")))
    return render(results, speed, seesaw)


def _as_shipped(overrides: list[str]) -> bool:
    """The overrides leave minilm.yaml as it is (the variant is the shipped config)."""
    from training.config import load_config

    return load_config("minilm", overrides)[0].fingerprint() == load_config("minilm")[0].fingerprint()


def render(results: list[dict[str, Any]], speed: dict[str, Any] | None, seesaw: Path) -> str:
    goals = {"majority": "reference 0.386", "tfidf_logreg": "goal >= 0.63 (reference 0.625)",
             "minilm": "goal >= 0.75"}
    lines = ["## Training: stance classifiers on SEESAW", "",
             f"Machine: {MACHINE}. Data: SEESAW via our importer and build "
             f"(`python -m corpus import seesaw {seesaw} --out var/bench/seesaw-import` then "
             "`python -m corpus build var/bench/seesaw-import --out var/bench/seesaw-dataset`): train 6,263, "
             "validation 2,436, test 1,920 statements; macro-F1 over the gold-present labels (support, oppose). "
             "Each model trained on train, selected on validation, scored on test once.", "",
             "Command: `python -m tests.benchmarks training` (each row is `python -m training train --config "
             "CONFIG --dataset var/bench/seesaw-dataset [--set ...]`, then `python -m training predict "
             "var/bench/seesaw-dataset:test --model var/bench/runs/.../model`).", "",
             "| config | variant: overrides | validation macro-F1 | test macro-F1 | test accuracy | epochs (best) "
             "| train time | load 1/5 min | goal |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        sel = ", ".join(f"{k.removeprefix('selected.')}={v}" for k, v in r["selected"].items()
                        if k.startswith("selected."))
        what = f"{r['variant']}: {' '.join(r['overrides'])}" if r["variant"] else (sel or "-")
        what += " (**as shipped**)" if r["config"] == "minilm" and _as_shipped(r["overrides"]) else ""
        lines.append(f"| {r['config']} | {what} | {r['validation']:.4f} | "
                     f"**{r['test']:.4f}** | {r['accuracy']:.4f} | {r['epochs']} ({r['best_epoch'] or '-'}) | "
                     f"{r['seconds'] / 60:.1f} min | {r['load']} | {goals[r['config']]} |")
    minilm = {r["variant"]: r for r in results if r["config"] == "minilm"}
    if minilm:
        best = max(minilm.values(), key=lambda r: r["validation"])
        lines += ["", f"Selected on validation: **minilm {best['variant']}**, test macro-F1 {best['test']:.4f} "
                      f"(goal >= 0.75: {'met' if best['test'] >= 0.75 else 'not met'})."]
    if {"markers+cls-head", "pair+cls-head"} <= set(minilm):
        a, b = minilm["markers+cls-head"], minilm["pair+cls-head"]
        win, lose = (a, b) if a["validation"] >= b["validation"] else (b, a)
        form = {"markers+cls-head": "markers", "pair+cls-head": "pair"}
        lines += [f"Input form (both with the [CLS] head): **{form[win['variant']]}** wins on validation by "
                  f"{win['validation'] - lose['validation']:+.4f} macro-F1 (test: {win['test'] - lose['test']:+.4f})."]
    if {"markers+marker-head", "markers+cls-head"} <= set(minilm):
        a, b = minilm["markers+marker-head"], minilm["markers+cls-head"]
        lines += [f"Head (both markers form): marker pooling minus [CLS] = {a['validation'] - b['validation']:+.4f} "
                  f"on validation, {a['test'] - b['test']:+.4f} on test."]
    if {"markers+marker-head", "markers+marker-head+prefix-unplaced"} <= set(minilm):
        a, b = minilm["markers+marker-head"], minilm["markers+marker-head+prefix-unplaced"]
        lines += [f"Locating unplaced mentions in the context minus leaving them in the prefix = "
                  f"{a['validation'] - b['validation']:+.4f} on validation, {a['test'] - b['test']:+.4f} on test."]
    if speed is not None:
        lines += ["", "### Throughput (training samples/s, MiniLM, one epoch, same rows, this run)", "",
                  f"{speed['rows']} SEESAW train rows, batch {speed['batch']}, max_length {speed['max_length']}, "
                  f"{speed['threads']} torch threads; mean {speed['mean_tokens']:.1f} tokens per row.", "",
                  "| set-up | samples/s | vs plain | load 1/5 min |", "|---|---|---|---|",
                  f"| ours as shipped: dynamic padding, length-grouped batches, frozen word embeddings "
                  f"| {speed['ours']:.1f} | {speed['ratio']:.2f}x | {speed['load_ours']} |",
                  f"| ours, padding and batching only ([CLS] head, embeddings trained) | "
                  f"{speed['ours_padding_only']:.1f} | {speed['ratio_padding_only']:.2f}x | "
                  f"{speed['load_ours_padding_only']} |",
                  f"| plain Trainer: pad to max_length, random batches | {speed['plain']:.1f} | 1.00x | "
                  f"{speed['load_plain']} |",
                  "", f"Ratio as shipped: **{speed['ratio']:.2f}x** (goal >= 1.5x); padding and batching alone: "
                      f"{speed['ratio_padding_only']:.2f}x."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
