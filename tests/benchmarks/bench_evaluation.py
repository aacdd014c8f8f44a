"""Benchmark evaluation: resampling speed at SEESAW-test and 100k sizes, and the SEESAW test report with intervals.

`python -m tests.benchmarks evaluation`. Part 1 is synthetic (seeded) and always runs: 1,000-resample
intervals and 10,000-round paired tests on confusion counts, against a plain loop of sklearn `f1_score`
calls (the usual way). Part 2 runs where SEESAW is available: import, build, train `majority` and
`tfidf_logreg`, evaluate both on test through the CLI (article-clustered 95% intervals, human ceiling
from the annotators' agreement), compare them, and score the predicted discourse network against gold,
all in a temporary MLflow store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SEESAW = Path(os.environ.get("SEESAW_DIR", REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW"))
MACHINE = "2 cores, 24 GiB, CPU"
NAMES = ["support", "oppose", "neutral"]


def _synthetic(n: int, articles: int, seed: int = 0) -> tuple[list[str], list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    gold = list(rng.choice(NAMES[:2], size=n, p=[0.37, 0.63]))
    flip = {"support": "oppose", "oppose": "support"}
    a = [g if rng.random() < 0.62 else flip[g] for g in gold]
    b = [g if rng.random() < 0.58 else flip[g] for g in gold]
    groups = [f"a{i}" for i in rng.integers(0, articles, size=n)]
    return gold, a, b, groups


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def speed_section() -> str:
    from sklearn.metrics import f1_score

    from evaluation.metrics import approximate_randomisation, bootstrap_intervals, paired_bootstrap

    rows = []
    for n, articles in ((1_920, 123), (100_000, 6_000)):
        gold, a, b, groups = _synthetic(n, articles)
        t_iid, _ = _timed(bootstrap_intervals, gold, a, NAMES, n_resamples=1000,
                          metrics=("macro_f1", "f_avg", "accuracy", "f1_support", "f1_oppose"))
        t_clu, ci = _timed(bootstrap_intervals, gold, a, NAMES, groups=groups, n_resamples=1000,
                           metrics=("macro_f1", "f_avg", "accuracy", "f1_support", "f1_oppose"))
        t_pb, _ = _timed(paired_bootstrap, gold, a, b, NAMES, groups=groups, n_resamples=10_000)
        t_ar, _ = _timed(approximate_randomisation, gold, a, b, NAMES, groups=groups, n_rounds=10_000)
        # the usual way: one sklearn f1_score per resample (timed on 100 resamples, scaled to 1,000)
        rng = np.random.default_rng(0)
        g, p = np.asarray(gold), np.asarray(a)
        t0 = time.perf_counter()
        for _ in range(100):
            idx = rng.integers(0, n, n)
            f1_score(g[idx], p[idx], labels=["support", "oppose"], average="macro", zero_division=0)
        t_sk = (time.perf_counter() - t0) * 10
        rows.append(f"| {n:,} | {articles:,} | {t_iid:.2f} | {t_clu:.2f} | {t_sk:.1f} | {t_sk / t_iid:.0f}x | "
                    f"{t_pb:.2f} | {t_ar:.2f} | {ci['macro_f1']} |")
    return "\n".join([
        "### Resampling speed (synthetic, seeded)", "",
        "`python -m tests.benchmarks evaluation`; machine: " + MACHINE + ". Seconds of wall time.", "",
        "| statements | articles | 1,000-resample intervals, statements (5 metrics) | same, article-clustered | "
        "sklearn f1_score loop, 1,000 resamples (1 metric) | speed-up over it (statements) | "
        "paired bootstrap, 10,000 | "
        "approximate randomisation, 10,000 | macro-F1 [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|", *rows])


def _run(cmd: list[str], env: dict[str, str], log: list[str], cwd: Path = REPO) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    took = time.perf_counter() - t
    shown = " ".join(c if " " not in c else f"'{c}'" for c in cmd).replace(sys.executable, "python")
    log.append(f"{shown}   # {took:.0f} s")
    if res.returncode:
        raise RuntimeError(f"{shown} failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return took, res.stdout


def seesaw_section() -> str:
    if not (SEESAW / "annotations").is_dir():
        return f"### SEESAW test report\n\nSEESAW not found at {SEESAW} (set SEESAW_DIR): left out.\n"
    py = sys.executable
    keep = REPO / "var" / "bench" / "evaluation"
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true",
               "TOKENIZERS_PARALLELISM": "false"}
        log: list[str] = []
        _run([py, "-m", "corpus", "import", "seesaw", str(SEESAW), "--out", str(tmp / "seesaw")], env, log)
        _run([py, "-m", "corpus", "build", str(tmp / "seesaw"), "--out", str(tmp / "ds")], env, log)
        _run([py, "-m", "annotation", "agreement", str(tmp / "seesaw"), "--json", str(tmp / "agreement.json")],
             env, log)
        for cfg in ("majority", "tfidf_logreg"):
            _run([py, "-m", "training", "train", "--config", cfg, "--dataset", str(tmp / "ds"), "--quiet",
                  "--set", f"output_dir={tmp / 'runs' / cfg}"], env, log)
        results = {}
        for cfg in ("majority", "tfidf_logreg"):
            _run([py, "-m", "evaluation", "evaluate", "--model", str(tmp / "runs" / cfg / "latest" / "model"), "--dataset",
                  str(tmp / "ds"), "--split", "test", "--out", str(tmp / f"eval-{cfg}"), "--agreement",
                  str(tmp / "agreement.json")], env, log)
            results[cfg] = json.loads((tmp / f"eval-{cfg}" / "metrics.json").read_text(encoding="utf-8"))
        _, comparison = _run([py, "-m", "evaluation", "compare", str(tmp / "eval-tfidf_logreg"),
                              str(tmp / "eval-majority")], env, log)
        _, board = _run([py, "-m", "evaluation", "leaderboard"], env, log)
        _, net = _run([py, "-m", "evaluation", "network", str(tmp / "eval-tfidf_logreg" / "predictions.jsonl"),
                       "--gold", str(tmp / "ds"), "--split", "test", "--out", str(tmp / "net")], env, log)
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("report.html", "report.md"):
            (keep / f"seesaw-tfidf_logreg-{name}").write_bytes((tmp / "eval-tfidf_logreg" / name).read_bytes())
    best = max(results.values(), key=lambda r: r["metrics"]["macro_f1"]["point"])
    from evaluation.report import ceiling_rows

    def iv(d: dict) -> str:
        return f"{d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"

    lines = ["### SEESAW test: the best run's report", "",
             f"Commands (machine: {MACHINE}; `$TMP` a temporary folder holding the MLflow store; wall times "
             "on a shared machine):", "", "```", *(x.replace(tmp_name, "$TMP") for x in log), "```", "",
             f"Best run: **{best['model_name']}**, {best['n']} test statements, 95% percentile bootstrap over "
             f"{best['bootstrap']['units']} articles (clustered), {best['bootstrap']['n_resamples']} resamples, "
             f"seed {best['bootstrap']['seed']}.", "",
             "| model | macro-F1 [95% CI] | F_avg [95% CI] | accuracy [95% CI] | ECE |", "|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        lines.append(f"| {name} | {iv(m['macro_f1'])} | {iv(m['f_avg'])} | {iv(m['accuracy'])} | "
                     f"{m.get('ece', float('nan')):.3f} |")
    lines += ["", "Model beside the annotators (SEESAW's multiply-coded articles, `annotation agreement`):", "",
              "| measure | model [95% CI] | annotators |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in ceiling_rows(best)]
    lines += ["", "Per class (best run):", "", "| label | precision | recall | F1 [95% CI] | gold |", "|---|---|---|---|---|"]
    for label in best["present_labels"]:
        pc = best["per_class"][label]
        lines.append(f"| {label} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} "
                     f"[{pc['f1_low']:.3f}, {pc['f1_high']:.3f}] | {pc['support']} |")
    lines += ["", "Paired tests, tfidf_logreg against majority on the same 1,920 statements:", "",
              comparison.split("\n", 2)[2].strip(), "", "Leaderboard (`python -m evaluation leaderboard`):", "",
              board.split("\n", 2)[2].strip().replace(tmp_name, "$TMP"), "",
              "Discourse network of the predictions against gold (test):", "", "```", net.strip().replace(tmp_name, "$TMP"),
              "```", "", f"The full HTML report is kept (git-ignored) at `{keep.relative_to(REPO)}/`."]
    return "\n".join(lines)


def main() -> str:
    """The Markdown section of BENCHMARKS.md."""
    return "## Evaluation\n\n" + speed_section() + "\n\n" + seesaw_section() + "\n"


if __name__ == "__main__":
    print(main())
