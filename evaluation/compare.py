"""`compare` (is system A's macro-F1 really above B's on the same items?) and `leaderboard` (all evaluation runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corpus.errors import InputError
from evaluation import metrics as M
from evaluation.predictions import Predictions, read_predictions

METHODS = ("bootstrap", "randomisation", "both")


def resolve_side(arg: str, names: list[str], tracking_uri: str | None,
                 split: str | None) -> tuple[str, Predictions, Path]:
    """A predictions file, an evaluation output folder, or an MLflow run id -> (display name, predictions, the
    local predictions file)."""
    path = Path(arg)
    if path.is_dir():
        path = path / "predictions.jsonl"
        if not path.is_file():
            raise InputError(arg, "folder holds no predictions.jsonl (not an `evaluation evaluate` output)")
        return arg, read_predictions(path, names), path
    if path.is_file():
        return arg, read_predictions(path, names), path
    from evaluation import tracking

    if tracking.is_run_id(arg):
        local = tracking.run_predictions(arg, tracking_uri, split)
        return f"{tracking.run_name(arg)} ({arg[:8]})", read_predictions(local, names), Path(local)
    raise InputError(arg, "not a predictions file, an evaluation output folder or an MLflow run id")


def _gold(a: Predictions, b: Predictions, order: list[str], dataset: str | Path | None, split: str | None,
          names: list[str]) -> list[str]:
    if dataset is not None:
        from evaluation.data import load_split

        rows = {r["id"]: r["stance"] for r in load_split(dataset, split or "test", names)}
        missing = [i for i in order if i not in rows]
        if missing:
            raise InputError(dataset, f"{len(missing)} compared ids are not in [{split or 'test'}] "
                                      f"(first: {missing[0]!r})")
        return [rows[i] for i in order]
    for side in (a, b):
        if side.gold is None:
            raise InputError("compare", "the predictions carry no gold labels; pass --dataset and --split")
    ga, gb = dict(zip(a.ids, a.gold, strict=True)), dict(zip(b.ids, b.gold, strict=True))
    differ = [i for i in order if ga[i] != gb[i]]
    if differ:
        raise InputError("compare", f"the two sides disagree on the gold label of {len(differ)} items (first: "
                                    f"{differ[0]!r}): not the same split or dataset version")
    return [ga[i] for i in order]


UNITS = ("auto", "group", "article", "statement")


def _side_groups(path: Path, order: list[str]) -> list[str] | None:
    """The `group` column of a side's predictions file (as `evaluate` writes it), in order; None without one."""
    from evaluation.predictions import read_rows

    by_id = {str(r.get("id")): r.get("group") for r in read_rows(path)}
    found = [by_id.get(i) for i in order]
    return [str(g) for g in found] if all(found) else None


def _clusters(unit: str, order: list[str], pa: Predictions, pb: Predictions, a: Path, b: Path,
              dataset: str | Path | None, split: str | None, names: list[str]) -> tuple[list[str] | None, str]:
    """(resampling cluster of each item, the unit used): the dataset's group (from --dataset, else the predictions'
    `group` column), else the article, else none; auto takes the first with two clusters or more."""
    from_dataset: dict[str, dict[str, Any]] = {}
    if dataset is not None and unit != "statement":
        from evaluation.data import load_split

        from_dataset = {r["id"]: r for r in load_split(dataset, split or "test", names)}
    candidates: dict[str, list[str] | None] = {}
    if from_dataset:
        for name, column in (("group", "group"), ("article", "article_id")):
            values = [from_dataset.get(i, {}).get(column) for i in order]
            candidates[name] = [str(v) for v in values] if all(values) else None
    candidates.setdefault("group", None)
    candidates["group"] = candidates["group"] or _side_groups(a, order) or _side_groups(b, order)
    if not candidates.get("article"):
        src = pa if pa.article_ids else pb
        if src.article_ids is not None:
            idx = src.index()
            candidates["article"] = [str(src.article_ids[idx[i]]) for i in order]
    if unit == "statement":
        return None, "statement"
    for name in ("group", "article") if unit == "auto" else (unit,):
        groups = candidates.get(name)
        if groups and len(set(groups)) >= 2:
            return groups, name
        if unit != "auto":
            raise InputError(f"--unit {unit}", f"the predictions (and --dataset) give no {name} ids to cluster on "
                                               "(or only one)")
    return None, "statement"


def compare(a: str, b: str, *, method: str = "both", metric: str = "macro_f1", n_resamples: int = 10_000,
            seed: int = 0, unit: str = "auto", dataset: str | Path | None = None, split: str | None = None,
            codebook: str | Path | None = None, tracking_uri: str | None = None) -> dict[str, Any]:
    """Paired test(s) of metric(A) - metric(B) on the items both were scored on (which must be the same)."""
    from corpus.codebook import load_codebook

    if method not in METHODS:
        raise InputError("--method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if metric not in M.METRICS:
        raise InputError("--metric", f"must be one of {', '.join(M.METRICS)}, got {metric!r}")
    if unit not in UNITS:
        raise InputError("--unit", f"must be one of {', '.join(UNITS)}, got {unit!r}")
    names = load_codebook(codebook).stance_names
    name_a, pa, file_a = resolve_side(a, names, tracking_uri, split)
    name_b, pb, file_b = resolve_side(b, names, tracking_uri, split)
    ids_a, ids_b = set(pa.ids), set(pb.ids)
    if ids_a != ids_b:
        raise InputError("compare", f"not the same items: A has {len(ids_a)}, B {len(ids_b)}, "
                                    f"{len(ids_a & ids_b)} in common; a paired test needs the same split")
    order = sorted(ids_a)
    ia, ib = pa.index(), pb.index()
    gold = _gold(pa, pb, order, dataset, split, names)
    pred_a = [pa.labels[ia[i]] for i in order]
    pred_b = [pb.labels[ib[i]] for i in order]
    groups, used = _clusters(unit, order, pa, pb, file_a, file_b, dataset, split, names)
    tests = []
    if method in ("bootstrap", "both"):
        tests.append(M.paired_bootstrap(gold, pred_a, pred_b, names, groups=groups, n_resamples=n_resamples,
                                        seed=seed, metric=metric).to_dict())
    if method in ("randomisation", "both"):
        tests.append(M.approximate_randomisation(gold, pred_a, pred_b, names, groups=groups, n_rounds=n_resamples,
                                                 seed=seed, metric=metric).to_dict())
    return {"a": name_a, "b": name_b, "metric": metric, "n": len(order),
            "unit": used, "units": len(set(groups)) if groups else len(order),
            "tests": tests}


def comparison_markdown(c: dict[str, Any]) -> str:
    """The comparison as a short Markdown section."""
    t0 = c["tests"][0]
    lines = [f"## {c['metric']}: A = {c['a']}  vs  B = {c['b']}", "",
             f"{c['n']} items, resampling unit: {c['unit']} ({c['units']} units).", "",
             f"A {t0['score_a']:.4f}, B {t0['score_b']:.4f}, difference A - B = {t0['delta']:+.4f}", "",
             "| test | rounds | 95% CI of A - B | p-value (two-sided) |", "|---|---|---|---|"]
    for t in c["tests"]:
        ci = f"[{t['low']:+.4f}, {t['high']:+.4f}]" if t["low"] is not None else "–"
        name = t["method"].replace("_", " ") + (" (exact)" if t.get("exact") else "")
        floor = 1 / (t["rounds"] + 1)
        p = f"< {2 * floor:.2g} (no round as extreme)" if not t.get("exact") and t["p_value"] <= floor + 1e-12 \
            else f"{t['p_value']:.4f}"
        lines.append(f"| {name} | {t['rounds']} | {ci} | {p} |")
    return "\n".join(lines) + "\n"


def leaderboard(experiment: str | None = None, split: str | None = None, tracking_uri: str | None = None,
                latest_only: bool = True) -> list[dict[str, Any]]:
    """Evaluation runs with their scores and intervals, best macro-F1 first; by default only the newest
    evaluation of each (model, dataset, split)."""
    from evaluation import tracking

    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    names: dict[str, str] = {}
    for run in tracking.evaluation_runs(experiment, tracking_uri):  # newest first
        tags, m = run.data.tags, run.data.metrics
        s = tags.get("newsstance.split", "")
        if split and s != split:
            continue

        def iv(key: str, s: str = s, m: dict = m) -> dict[str, float] | None:
            if f"{s}_{key}" not in m:
                return None
            return {"point": m[f"{s}_{key}"], "low": m.get(f"{s}_{key}_ci_low", float("nan")),
                    "high": m.get(f"{s}_{key}_ci_high", float("nan"))}

        model = run.data.params.get("model") or run.data.params.get("predictions") or ""
        source = tags.get(tracking.SOURCE_RUN, "")
        key = (source or model, tags.get("newsstance.dataset", ""), s)
        if latest_only and key in seen:
            continue
        seen.add(key)
        if source and source not in names:
            names[source] = tracking.run_name(source)
        rows.append({"run_id": run.info.run_id, "run_name": run.info.run_name or "", "split": s, "model": model,
                     "source_run_id": source, "trained_by": names.get(source, ""), "n": int(m.get(f"{s}_n", 0)),
                     "unit": tags.get("newsstance.bootstrap_unit", ""), "dataset": tags.get("newsstance.dataset", ""),
                     "macro_f1": iv("macro_f1"), "f_avg": iv("f_avg"), "accuracy": iv("accuracy")})
    rows.sort(key=lambda r: -(r["macro_f1"] or {"point": -1.0})["point"])
    return rows


def leaderboard_markdown(rows: list[dict[str, Any]], title: str = "Leaderboard") -> str:
    """A Markdown table of leaderboard rows."""
    def fmt(d: dict[str, float] | None) -> str:
        return f"{d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]" if d else "–"

    lines = [f"## {title}", "", "| # | model | training run | dataset | split | n | macro-F1 [95% CI] | "
             "F_avg [95% CI] | accuracy [95% CI] | CI unit | evaluation run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in enumerate(rows, 1):
        cells = [str(k), r["model"], r.get("trained_by", ""), r["dataset"], r["split"], str(r["n"]),
                 fmt(r["macro_f1"]), fmt(r["f_avg"]), fmt(r["accuracy"]), r["unit"], r["run_id"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if not rows:
        lines.append("| – | no evaluation runs yet | | | | | | | | | |")
    return "\n".join(lines) + "\n"
