"""Statement extraction on SEESAW scored against gold (issue 13): detectors vs the all-pairs baseline vs annotators.

`python -m tests.benchmarks extraction` (or `make bench BENCH=extraction`). SEESAW goes through our importer and
build (with the `candidates` config); each detector is trained on train, its epoch, temperature and threshold
selected on validation, and the test split is scored once, with `evaluation.extraction.score_extraction`, in two
settings: **gold entities** (`training extract --gold-entities`: the dataset's candidate pairs, only which pairs
hold a stance and which stance predicted) and **found entities** (the span tagger and the gazetteer on the raw
text, `--keep-unresolved --either-side`, with `BENCH_FOUND`'s options: proper names, names learned from the
train split, the author; sides named as the build names them). Beside them: the all-pairs baseline (every
candidate pair a statement with the polarity model's stance: extract's behaviour before detectors) and the human
figure (annotator vs annotator on SEESAW's multiply-coded test articles, same scorer: `human_figure`).

Already-trained models are reused when given (nothing is retrained then), by folder or MLflow URI:

* `BENCH_DETECTOR_MODEL`: transformer detectors, comma-separated, one per seed (default: train `detector_minilm`
  with the seeds of `BENCH_EXTRACTION_SEEDS`, default 13,14);
* `BENCH_DETECTOR_TFIDF_MODEL`: the TF-IDF detector (default: train `detector_tfidf`; `none` skips it);
* `BENCH_POLARITY_MODEL`: the stance model of the baseline (default: train `tfidf_logreg`);
* `BENCH_STANCE_MODEL`: a stance model for detect-then-polarity rows (each detector's pairs, this model's stance;
  `training extract --stance-model`); unset: no such rows;
* `BENCH_TAGGER_MODEL`: the span tagger of the found-entities setting (default: train `tagger`; `none`: the
  gazetteer alone);
* `BENCH_FOUND`: the found-entities setting's extract options, comma-separated (default `names,learned,author`:
  `--names`, `--learned-names DATASET`, `--author`; empty: none), `BENCH_TOP_ENTITIES`: `--top-entities K`;
* `BENCH_TRACKING_URI` (else `MLFLOW_TRACKING_URI`, else var/bench/mlflow.db) for models:/ URIs and new runs;
* `BENCH_DATASET` / `BENCH_SEESAW_IMPORT`: a built dataset with candidates / the import (default: under
  var/bench/, built once). Training runs and outputs (extractions, reports) go under `BENCH_EXTRACTION_WORK`
  (default var/bench/: runs/, extraction/).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_training import BENCH, IMPORTED, MACHINE, REPO, URI, _load, _seesaw_dir

DATASET = BENCH / "seesaw-dataset-candidates"
WORK = Path(os.environ.get("BENCH_EXTRACTION_WORK") or BENCH)  # training runs and outputs (a smoke run elsewhere)
OUT = WORK / "extraction"
EXPERIMENT = "bench-extraction"
GOALS = {"gold-entities": 0.60, "found-entities": 0.40}
# the found-entities setting's extract options (chosen on validation, see BENCHMARKS.md): proper names, names
# learned from the dataset's train split, the author as holder; BENCH_FOUND="" for the tagger/gazetteer alone
FOUND = [x for x in os.environ.get("BENCH_FOUND", "names,learned,author").split(",") if x]
TOP_ENTITIES = int(os.environ["BENCH_TOP_ENTITIES"]) if os.environ.get("BENCH_TOP_ENTITIES") else None


def _env_list(name: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, "").split(",") if x.strip()]


def ensure_dataset(seesaw: Path) -> tuple[Path, Path]:
    """(dataset with candidates, the SEESAW import): given by the environment, else built once under var/bench/."""
    imported = Path(os.environ.get("BENCH_SEESAW_IMPORT") or IMPORTED)
    dataset = Path(os.environ.get("BENCH_DATASET") or DATASET)
    if not (imported / "annotations").is_dir():
        subprocess.run([sys.executable, "-m", "corpus", "import", "seesaw", str(seesaw), "--out", str(imported)],
                       check=True, capture_output=True)
    if not (dataset / "candidates" / "dataset_dict.json").is_file():
        if os.environ.get("BENCH_DATASET"):
            raise SystemExit(f"{dataset}: has no candidates config; rebuild it with `python -m corpus build`")
        subprocess.run([sys.executable, "-m", "corpus", "build", str(imported), "--out", str(dataset),
                        "--no-progress"], check=True, capture_output=True)
    return dataset, imported


def train_model(config: str, dataset: Path, uri: str, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """Train a bundled config (train split; selection on validation); its model URI and training seconds."""
    from training.config import load_config
    from training.run import train

    tag = "-".join([config, *[o.split("=")[-1] for o in overrides if o.startswith("seed=")]])
    cfg, file = load_config(config, [f"output_dir={WORK / 'runs' / tag}", f"tracking.registered_model=bench-{config}",
                                     *overrides])
    t0 = time.perf_counter()
    summary = train(cfg, file, dataset=str(dataset), tracking_uri=uri, experiment=EXPERIMENT, progress=False)
    model = f"models:/{summary.registered}/{summary.version}" if summary.registered else str(summary.model_dir)
    return {"model": model, "train_seconds": time.perf_counter() - t0, "seed": cfg.seed, "trained": True,
            "validation_statement_f1": summary.metrics.get("validation_statement_f1")}


def train_tagger_model(dataset: Path, uri: str) -> dict[str, Any]:
    from training.tagger import load_tagger_config, train_tagger

    cfg, file = load_tagger_config("tagger", [f"output_dir={WORK / 'runs' / 'tagger'}"])
    t0 = time.perf_counter()
    run = train_tagger(cfg, file, dataset=str(dataset), tracking_uri=uri)
    return {"model": f"models:/{run.registered}" if run.registered else run.model_uri,
            "train_seconds": time.perf_counter() - t0, "trained": True}


def given(model: str) -> dict[str, Any]:
    return {"model": model, "train_seconds": None, "seed": None, "trained": False}


def extract_both(model: str, tagger: str | None, dataset: Path, uri: str, name: str,
                 stance_model: str | None = None) -> dict[str, Any]:
    """Extract the test split in both settings with `model` (a detector: with `stance_model`, detect then
    polarity); the two files and articles/s of each."""
    from corpus.errors import write_text_atomic
    from training.extract import extraction_document, gold_entities_of, load_extractor

    items, rows = gold_entities_of(dataset, "test")
    out: dict[str, Any] = {"files": {}, "speed": {}}
    for setting in ("gold-entities", "found-entities"):
        gold = setting == "gold-entities"
        found = {} if gold else {"names": "names" in FOUND, "author": "author" in FOUND,
                                 "learned_names": dataset if "learned" in FOUND else None,
                                 "top_entities": TOP_ENTITIES}
        extractor = load_extractor(model, None if gold else tagger, uri, keep_unresolved=not gold,
                                   either_side=not gold, stance_model=stance_model, **found)
        t0 = time.perf_counter()
        results = []
        for i in range(0, len(items), 16):
            chunk = items[i: i + 16]
            results += extractor.run_gold(chunk, rows) if gold else extractor.run(
                [(a, text) for a, _, text in chunk], {a: title for a, title, _ in chunk})
        out["speed"][setting] = len(items) / (time.perf_counter() - t0)
        path = OUT / f"{name}-{setting}.json"
        doc = extraction_document(extractor, results, model, dataset if gold else None, "test" if gold else None)
        write_text_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        out["files"][setting] = path
    return out


def main() -> str:
    seesaw = _seesaw_dir()
    if seesaw is None:
        return "## Extraction (SEESAW)\n\nSkipped: SEESAW not found (set SEESAW_DIR or provide ../shared).\n"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from evaluation.extraction import score_extraction, write_report

    uri = os.environ.get("BENCH_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI") or URI
    WORK.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    load_before = _load()
    dataset, imported = ensure_dataset(seesaw)
    seeds = [int(s) for s in _env_list("BENCH_EXTRACTION_SEEDS") or ["13", "14"]]
    models: list[tuple[str, dict[str, Any]]] = []
    minilm = _env_list("BENCH_DETECTOR_MODEL")
    models += [(f"MiniLM detector #{k + 1}", given(m)) for k, m in enumerate(minilm)] or [
        (f"MiniLM detector, seed {s}", train_model("detector_minilm", dataset, uri, (f"seed={s}",))) for s in seeds]
    tfidf = os.environ.get("BENCH_DETECTOR_TFIDF_MODEL")
    if tfidf != "none":
        models.append(("TF-IDF detector", given(tfidf) if tfidf else train_model("detector_tfidf", dataset, uri)))
    polarity = os.environ.get("BENCH_POLARITY_MODEL")
    baseline = given(polarity) if polarity else train_model("tfidf_logreg", dataset, uri)
    # detect, then polarity: each detector's pairs with the stance of BENCH_STANCE_MODEL (e.g. the shipped minilm)
    stance = os.environ.get("BENCH_STANCE_MODEL")
    if stance:
        models += [(f"{label} + stance model", {**info, "stance_model": stance}) for label, info in list(models)]
    models.append(("all pairs + polarity model (baseline)", baseline))
    tagger_env = os.environ.get("BENCH_TAGGER_MODEL")
    tagger = None if tagger_env == "none" else given(tagger_env) if tagger_env else train_tagger_model(dataset, uri)

    rows, human = [], None
    for k, (label, info) in enumerate(models):
        ex = extract_both(info["model"], tagger["model"] if tagger else None, dataset, uri, f"model{k}",
                          info.get("stance_model"))
        result = score_extraction([ex["files"]["gold-entities"], ex["files"]["found-entities"]], dataset, "test",
                                  human=imported if human is None else None)
        write_report(result, OUT / f"report-model{k}")
        human = human or result.get("human")
        for s in result["settings"]:
            rows.append({"label": label, "info": info, "setting": s["setting"], "score": s,
                         "speed": ex["speed"][s["setting"]]})
    return render(rows, human, tagger, dataset, f"{load_before} -> {_load()}")


def _iv(level: dict[str, Any], metric: str) -> str:
    iv = (level.get("intervals") or {}).get(metric)
    return f"{level[metric]:.3f} [{iv['low']:.2f}, {iv['high']:.2f}]" if iv else f"{level[metric]:.3f}"


def render(rows: list[dict[str, Any]], human: dict[str, Any] | None, tagger: dict[str, Any] | None, dataset: Path,
           load: str) -> str:
    lines = ["## Extraction: statements on SEESAW test, scored against gold", "",
             f"Command: `make bench BENCH=extraction` (`python -m tests.benchmarks extraction`) on {MACHINE}, load "
             f"{load}. Dataset `{dataset}` (SEESAW through our importer and build, candidates config). Models "
             "trained on train, selected on validation (epoch, temperature, P(statement) threshold), test scored "
             "once. Statement = (article, actor, target, stance) at sentence level, canonical names; pairs ignore "
             "the stance; polarity accuracy on the pairs found; 95% article-clustered bootstrap intervals. Found "
             f"entities: tagger `{tagger['model'] if tagger else 'none (gazetteer)'}` with the gazetteer"
             + (f"; extract options {', '.join(FOUND)}" + (f", top {TOP_ENTITIES} entities" if TOP_ENTITIES else "")
                + " (`--names`, `--learned-names DATASET` (its train split), `--author`)" if FOUND else "") + ".", "",
             "| model | setting | statement P | statement R | statement F1 | pair F1 | polarity acc. | statements | "
             "articles/s | training |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, info = r["score"], r["info"]
        st, pa = s["statements"], s["pairs"]
        train = f"{info['train_seconds'] / 60:.1f} min" if info["train_seconds"] else "reused"
        lines.append(f"| {r['label']} (`{info['model']}`) | {r['setting']} | {_iv(st, 'precision')} | "
                     f"{_iv(st, 'recall')} | **{_iv(st, 'f1')}** | {_iv(pa, 'f1')} | {s['polarity']['point']:.3f} | "
                     f"{st['predicted']} of {st['gold']} gold | {r['speed']:.2f} | {train} |")
    for scope, h in (human or {}).items():
        if h and h.get("tasks"):
            st = h["statements"]
            lines.append(f"| annotators vs annotators ({scope} articles, {h['tasks']} tasks, {h['annotator_pairs']} "
                         f"pairs) | human | {_iv(st, 'precision')} | {_iv(st, 'recall')} | **{_iv(st, 'f1')}** | "
                         f"{_iv(h['pairs'], 'f1')} | {h['polarity']['point']:.3f} | | | |")
    lines += ["", "Goals (on the mean over the transformer seeds):"]
    for setting, goal in GOALS.items():
        # the MiniLM detectors' own rows (one per seed); their detect-then-polarity rows are not more seeds
        f1s = [r["score"]["statements"]["f1"] for r in rows if r["setting"] == setting and "MiniLM" in r["label"]
               and not r["info"].get("stance_model")]
        if not f1s:
            continue
        mean = statistics.mean(f1s)
        spread = f" (spread {min(f1s):.3f}-{max(f1s):.3f} over {len(f1s)} seeds)" if len(f1s) > 1 else ""
        verdict = "met" if mean >= goal else f"not met, short by {goal - mean:.3f}"
        lines.append(f"- {setting}: statement F1 {mean:.3f}{spread} against the goal {goal:.2f}: {verdict}.")
        if setting == "gold-entities":
            base = [r["score"]["statements"]["f1"] for r in rows if r["setting"] == setting and "baseline" in r["label"]]
            hum = (human or {}).get("test") or {}
            if base:
                lines.append(f"  All-pairs baseline {base[0]:.3f}: the detector is {mean - base[0]:+.3f} from it.")
            if hum.get("tasks"):
                lines.append(f"  Human figure (test articles) {hum['statements']['f1']:.3f}: the detector is "
                             f"{mean - hum['statements']['f1']:+.3f} from it.")
    trained = [r["info"]["train_seconds"] for r in rows if r["info"]["train_seconds"] and "MiniLM" in r["label"]
               and not r["info"].get("stance_model")]
    if trained:
        lines.append(f"- training within 30 minutes on 2 CPU cores: longest MiniLM detector {max(trained) / 60:.1f} "
                     f"min: {'met' if max(trained) <= 1800 else 'not met'}.")
    where = OUT.relative_to(REPO) if OUT.is_relative_to(REPO) else OUT
    lines += ["", f"Reports (false statements with their confidence, misses): `{where}/report-model*/report.md`."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
