"""Stance classifiers on SEESAW (train on train, select on validation, test once) and training throughput.

`python -m tests.benchmarks training`. Builds the SEESAW dataset with the project's own importer and build
(`python -m corpus import seesaw` + `python -m corpus build`) into var/bench/ when missing, trains each config
through `training.run.train` (tracked in var/bench/mlflow.db), scores test once with `training.predict`.

Rows: majority and tfidf_logreg; the shipped minilm.yaml once per seed (BENCH_TRAINING_SEEDS, default
13,14,15), their mean and spread (a goal counts on the mean), and the seeds' models averaged by `python -m
training ensemble` (one more row; BENCH_TRAINING_SKIP_ENSEMBLE=1 skips it); for every row, test macro-F1 on statements whose
target occurs in the training split and on those whose target does not, the expected calibration error before
and after the saved temperature, and prediction speed. The cross-target split (`corpus build --split-by
target`: no target in two splits) trains tfidf_logreg and one minilm seed (BENCH_TRAINING_SKIP_CROSS=1 skips
it). Ablations (each minilm.yaml with overrides, BENCH_TRAINING_VARIANTS=name,...; see VARIANTS) are optional
rows beside them. Throughput: our transformer path (dynamic padding, length-grouped batches) against a plain
Trainer that pads every example to max_length with random batches (BENCH_TRAINING_SKIP_THROUGHPUT=1 skips it).

Knobs (environment): BENCH_TRAINING_SEEDS, BENCH_TRAINING_VARIANTS (default none), BENCH_TRAINING_MINILM_EPOCHS
(default: the config's), BENCH_TRAINING_THROUGHPUT_ROWS (default 960), BENCH_TRAINING_SKIP_MINILM=1,
BENCH_TRAINING_SKIP_CROSS=1 (BENCH_TRAINING_SKIP_CROSS_MINILM=1: its tfidf_logreg row only),
BENCH_TRAINING_SKIP_THROUGHPUT=1, BENCH_TRAINING_SKIP_ENSEMBLE=1, BENCH_TRAINING_REUSE=1 (a finished run of the
same config in its var/bench/runs folder is scored again instead of retrained: an interrupted bench resumes).
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


CROSS = BENCH / "seesaw-dataset-by-target"


def _commands(seesaw: Path) -> list[list[str]]:
    return [[sys.executable, "-m", "corpus", "import", "seesaw", str(seesaw), "--out", str(IMPORTED)],
            [sys.executable, "-m", "corpus", "build", str(IMPORTED), "--out", str(DATASET)]]


def ensure_dataset(seesaw: Path) -> None:
    """SEESAW through our importer and build, once (kept under var/bench/, git-ignored)."""
    if (DATASET / "statements" / "dataset_dict.json").is_file():
        return
    for cmd in _commands(seesaw):
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)


def ensure_cross_target() -> str | None:
    """The same import built with whole targets held out (`--split-by target`); None when that fails (why)."""
    if (CROSS / "statements" / "dataset_dict.json").is_file():
        return None
    proc = subprocess.run([sys.executable, "-m", "corpus", "build", str(IMPORTED), "--out", str(CROSS),
                           "--split-by", "target", "--no-progress"], cwd=REPO, capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


# Ablations: minilm.yaml with these overrides (each measured on validation before a change ships).
VARIANTS = {"cls-head": ["transformer.pooling=cls"],
            "pair+cls-head": ["data.input_form=pair", "transformer.pooling=cls"],
            "context-1": ["data.context_sentences=1"],
            "context-2+title": ["data.context_sentences=2", "data.context_title=true"],
            "swap-names": ["data.augment_names=swap"],
            "mask-names": ["data.augment_names=mask"],
            "pool-pairs": ["data.pool_pairs=true"]}


def seen_unseen(train_rows: list[dict[str, Any]], rows: list[dict[str, Any]], gold: list[str], predicted: list[str],
                names: list[str]) -> dict[str, Any]:
    """Macro-F1 on the rows whose target (policy_label) occurs in the training split and on those whose does not."""
    from training.reports import scores

    seen = {r.get("policy_label") for r in train_rows}
    out: dict[str, Any] = {}
    for key, keep in (("seen", True), ("unseen", False)):
        idx = [i for i, r in enumerate(rows) if (r.get("policy_label") in seen) == keep]
        out[f"{key}_n"] = len(idx)
        out[key] = scores([gold[i] for i in idx], [predicted[i] for i in idx], names)["macro_f1"] if idx else None
    return out


def _finished(cfg: Any) -> Any:
    """A finished earlier run of exactly this config in its output folder (BENCH_TRAINING_REUSE=1), as a summary
    with what the table needs; None when there is none. Its training time is the run's own."""
    import json
    from types import SimpleNamespace

    out = Path(cfg.output_dir)
    for state_file in sorted(out.glob("*/run.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if state.get("status") != "finished" or state.get("fingerprint") != cfg.fingerprint():
            continue
        s = state.get("summary") or {}
        model_dir = Path(s.get("model_dir", state_file.parent / "model"))
        model_dir = model_dir if model_dir.is_absolute() else REPO / model_dir
        from mlflow import MlflowClient

        info = MlflowClient(URI).get_run(state["run_id"]).info  # the run's own time, start to end
        return SimpleNamespace(run_id=state["run_id"], metrics=s.get("metrics", {}), extra=s.get("extra", {}),
                               history=state.get("history", []), best_epoch=s.get("best_epoch"),
                               model_dir=model_dir, seconds=(info.end_time - info.start_time) / 1000)
    return None


def train_and_test(config: str, overrides: list[str], variant: str = "", dataset: Path = DATASET,
                   tag: str = "") -> dict[str, Any]:
    """Train one config (validation selects), then score the test split once with the saved model."""
    from training.config import load_config
    from training.run import train

    load_before = _load()
    name = "-".join(x for x in (config, variant or "as-shipped", tag) if x)
    cfg, file = load_config(config, [f"output_dir={BENCH / 'runs' / name}",
                                     f"tracking.registered_model=bench-{config}", *overrides])
    t0 = time.perf_counter()
    summary = _finished(cfg) if os.environ.get("BENCH_TRAINING_REUSE") == "1" else None
    if summary is None:
        summary = train(cfg, file, dataset=str(dataset), tracking_uri=URI, experiment=EXPERIMENT, progress=False)
        seconds = time.perf_counter() - t0
    else:
        seconds = summary.seconds
    return {"config": config, "variant": variant, "tag": tag, "overrides": overrides, "run": summary.run_id,
            "seconds": seconds, "seed": cfg.seed, "model_dir": str(summary.model_dir),
            "validation": summary.metrics["validation_macro_f1"], "best_epoch": summary.best_epoch,
            "selected": summary.extra, "epochs": len(summary.history),
            "pool_weight": summary.metrics.get("pool_weight"),
            **score_test(summary.model_dir, dataset, float(summary.metrics.get("temperature", 1.0))),
            "load": f"{load_before} -> {_load()}"}


def score_test(model_dir: str | Path, dataset: Path, temperature: float) -> dict[str, Any]:
    """Test macro-F1 (all, seen and unseen targets), accuracy, ECE before/after the temperature, speed."""
    from corpus.codebook import load_codebook
    from training.calibration import apply_temperature, expected_calibration_error
    from training.context import article_texts, attach
    from training.data import load_statements
    from training.predict import load_predictor
    from training.reports import scores

    names = load_codebook().stance_names
    data = load_statements(dataset, ["train", "test"], names)
    rows = attach(data.splits["test"].to_list(), article_texts(dataset))
    predictor = load_predictor(str(model_dir))
    t1 = time.perf_counter()
    proba = predictor.predict_proba(rows)
    predict_seconds = time.perf_counter() - t1
    gold = data.labels["test"]
    predicted = [names[i] for i in proba.argmax(axis=1)]
    result = scores(gold, predicted, names)
    index = [names.index(g) for g in gold]
    return {"test": result["macro_f1"], "accuracy": result["accuracy"],
            "ece_before": expected_calibration_error(apply_temperature(proba, 1 / temperature), index),
            "ece_after": expected_calibration_error(proba, index), "temperature": temperature,
            "predict_per_second": len(rows) / predict_seconds if predict_seconds else 0.0,
            **seen_unseen(data.splits["train"].to_list(), rows, gold, predicted, names)}


def ensemble_and_test(seeded: list[dict[str, Any]], dataset: Path = DATASET) -> dict[str, Any]:
    """`python -m training ensemble` over the seeds' models (validation scores and calibrates it), test once."""
    from training.ensemble import build_ensemble

    load_before = _load()
    out = BENCH / "ensembles" / f"minilm-seeds-{'-'.join(str(r['seed']) for r in seeded)}-{int(time.time())}"
    t0 = time.perf_counter()
    summary = build_ensemble([r["model_dir"] for r in seeded], dataset, out, tracking_uri=URI,
                             experiment=EXPERIMENT, registered_model="bench-minilm-ensemble", progress=False)
    seconds = time.perf_counter() - t0
    return {"config": "minilm", "variant": f"ensemble of seeds {', '.join(str(r['seed']) for r in seeded)}",
            "tag": "ensemble", "overrides": [], "run": summary.run_id, "seed": None, "model_dir": str(out),
            "seconds": seconds + sum(r["seconds"] for r in seeded), "validation": summary.metrics[
                "validation_macro_f1"], "best_epoch": None, "selected": {}, "epochs": len(seeded),
            "pool_weight": None, **score_test(out, dataset, float(summary.metrics["temperature"])),
            "load": f"{load_before} -> {_load()}"}


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
    epochs = os.environ.get("BENCH_TRAINING_MINILM_EPOCHS")
    more = [f"transformer.epochs={epochs}"] if epochs else []
    seeds = [int(x) for x in os.environ.get("BENCH_TRAINING_SEEDS", "13,14,15").split(",") if x]
    variants = [v for v in os.environ.get("BENCH_TRAINING_VARIANTS", "").split(",") if v]
    cross: list[dict[str, Any]] = []
    cross_note = None
    if os.environ.get("BENCH_TRAINING_SKIP_MINILM") != "1":
        for seed in seeds:
            results.append(train_and_test("minilm", [f"seed={seed}", *more], tag=f"seed{seed}"))
        seeded = [r for r in results if r["config"] == "minilm"]
        if len(seeded) > 1 and os.environ.get("BENCH_TRAINING_SKIP_ENSEMBLE") != "1":
            results.append(ensemble_and_test(seeded))
        for variant in variants:
            results.append(train_and_test("minilm", VARIANTS[variant] + more, variant))
    if os.environ.get("BENCH_TRAINING_SKIP_CROSS") != "1":
        cross_note = ensure_cross_target()
        if cross_note is None:
            cross.append(train_and_test("tfidf_logreg", [], dataset=CROSS, tag="by-target"))
            if os.environ.get("BENCH_TRAINING_SKIP_MINILM") != "1" and \
                    os.environ.get("BENCH_TRAINING_SKIP_CROSS_MINILM") != "1":
                cross.append(train_and_test("minilm", [f"seed={seeds[0] if seeds else 13}", *more], dataset=CROSS,
                                            tag="by-target"))
    speed = None if os.environ.get("BENCH_TRAINING_SKIP_THROUGHPUT") == "1" else \
        throughput(int(os.environ.get("BENCH_TRAINING_THROUGHPUT_ROWS", "960")))
    return render(results, speed, seesaw, cross, cross_note)


def _as_shipped(overrides: list[str]) -> bool:
    """The overrides leave minilm.yaml as it is but for the seed (the variant is the shipped config)."""
    from training.config import load_config

    plain = [o for o in overrides if not o.startswith("seed=")]
    return load_config("minilm", plain)[0].fingerprint() == load_config("minilm")[0].fingerprint()


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _row(r: dict[str, Any]) -> str:
    sel = ", ".join(f"{k.removeprefix('selected.')}={v}" for k, v in r["selected"].items()
                    if k.startswith("selected."))
    what = (f"{r['variant']}: {' '.join(r['overrides'])}" if r["overrides"] else r["variant"]) if r["variant"] \
        else (sel or "-")
    if r["config"] == "minilm" and not r["variant"]:
        what = f"seed {r['seed']}" + (" (**as shipped**)" if _as_shipped(r["overrides"]) else "")
    if r.get("pool_weight") is not None:
        what += f"; pair pooling weight {r['pool_weight']:g}"
    return (f"| {r['config']} | {what} | {r['validation']:.4f} | **{r['test']:.4f}** | {r['accuracy']:.4f} | "
            f"{_f(r['seen'])} ({r['seen_n']}) | {_f(r['unseen'])} ({r['unseen_n']}) | "
            f"{r['ece_before']:.3f} -> {r['ece_after']:.3f} (T={r['temperature']:.2f}) | "
            f"{r['epochs']} ({r['best_epoch'] or '-'}) | {r['seconds'] / 60:.1f} min | "
            f"{r['predict_per_second']:.0f}/s | {r['load']} |")


HEAD = ["| config | variant | validation macro-F1 | test macro-F1 | test accuracy | test, target seen in train (n) "
        "| test, target unseen (n) | test ECE before -> after | epochs (best) | train time | predict | load 1/5 min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]


def render(results: list[dict[str, Any]], speed: dict[str, Any] | None, seesaw: Path,
           cross: list[dict[str, Any]] | None = None, cross_note: str | None = None) -> str:
    import statistics

    lines = ["## Training: stance classifiers on SEESAW", "",
             f"Machine: {MACHINE}. Data: SEESAW via our importer and build "
             f"(`python -m corpus import seesaw {seesaw} --out var/bench/seesaw-import` then "
             "`python -m corpus build var/bench/seesaw-import --out var/bench/seesaw-dataset`): train 6,263, "
             "validation 2,436, test 1,920 statements; macro-F1 over the gold-present labels (support, oppose). "
             "Each model trained on train, selected on validation, scored on test once. \"Target seen\": the "
             "statement's canonical target occurs in the training split. ECE: 15-bin expected calibration error "
             "of the top class, before and after the temperature fitted on validation and saved with the model.", "",
             "Command: `python -m tests.benchmarks training` (each row is `python -m training train --config "
             "CONFIG --dataset var/bench/seesaw-dataset [--set ...]`, then `python -m training predict "
             "var/bench/seesaw-dataset:test --model var/bench/runs/.../model`).", "", *HEAD]
    lines += [_row(r) for r in results]
    seeded = [r for r in results if r["config"] == "minilm" and not r["variant"]]
    if seeded:
        tests = [r["test"] for r in seeded]
        mean = statistics.mean(tests)
        spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
        unseen = [r["unseen"] for r in seeded if r["unseen"] is not None]
        lines += ["", f"**minilm as shipped, {len(seeded)} seed(s)** ({', '.join(str(r['seed']) for r in seeded)}): "
                      f"test macro-F1 mean **{mean:.4f}**, standard deviation {spread:.4f}, range "
                      f"{min(tests):.4f}-{max(tests):.4f}; validation mean "
                      f"{statistics.mean(r['validation'] for r in seeded):.4f}"
                      + (f"; unseen-target test mean {statistics.mean(unseen):.4f}" if unseen else "")
                      + f". Goal: mean >= 0.80: {'met' if mean >= 0.80 else 'not met'}. Longest run "
                        f"{max(r['seconds'] for r in seeded) / 60:.1f} min (goal <= 30 min per seed)."]
    tfidf = next((r for r in results if r["config"] == "tfidf_logreg"), None)
    if tfidf:
        lines += [f"tfidf_logreg test macro-F1 {tfidf['test']:.4f} (goal >= 0.63: "
                  f"{'met' if tfidf['test'] >= 0.63 else 'not met'})."]
    if cross or cross_note:
        lines += ["", "### Cross-target split (`corpus build --split-by target`: no target in two splits)", ""]
        if cross_note:
            lines += [f"Not run: the build failed ({cross_note})."]
        else:
            lines += [*HEAD, *(_row(r) for r in cross or [])]
            best = max((r for r in cross or [] if r["config"] == "minilm"), key=lambda r: r["validation"],
                       default=None)
            if best:
                lines += ["", f"minilm on unseen targets: test macro-F1 **{best['test']:.4f}** "
                              f"(goal >= 0.70: {'met' if best['test'] >= 0.70 else 'not met'})."]
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
