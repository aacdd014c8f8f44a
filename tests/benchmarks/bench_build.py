"""Benchmark `corpus build` on a large Label Studio JSON export: SEESAW through the importer, replicated.

`python -m tests.benchmarks build` (or `python -m tests.benchmarks.bench_build`). Each measurement runs in
its own Python process, so peak memory (ru_maxrss) is that step's alone and imports are not shared:

* floor: `json.load` of the export (the same JSON library the build uses);
* ours: `corpus.build.build_dataset` on the export: all three configs, splits, card, digest, save_to_disk and
  Parquet;
* SDK: label-studio-sdk's `Converter` writing JSON_MIN (and CSV) from the same export (both lose relations);
* memory: peak RSS of `corpus build` at 100k and 1M statements, this code and the code before the export was
  streamed (`BENCH_BUILD_BEFORE`, a git revision, extracted with `git archive`; empty: not run).
  `python -m tests.benchmarks.bench_build memory [SIZES...]` runs this part alone and rewrites only its lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEESAW = Path(os.environ.get("SEESAW_DIR", REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW"))
TARGET_STATEMENTS = 100_000
MACHINE = "2 cores, 24 GiB, CPU"
MEMORY_SIZES = (100_000, 1_000_000)
# the last commit before `corpus build` streamed exports and kept rows as Arrow batches
BEFORE = os.environ.get("BENCH_BUILD_BEFORE", "0cbaf46")
MEMORY_START, MEMORY_END = "<!-- build-memory -->", "<!-- /build-memory -->"


def make_export(seesaw_out: Path, path: Path, target: int = TARGET_STATEMENTS) -> dict[str, int]:
    """Replicate the importer's tasks (new task, annotation and article ids; stories stay grouped) into one export."""
    from corpus.store import CorpusStore

    store = CorpusStore(seesaw_out)
    tasks = [store.read_task(p) for p in store.task_files()]
    gold = sum(sum(1 for r in t["annotations"][0]["result"] if r.get("type") in ("relation", "statement"))
               for t in tasks)
    copies = -(-target // gold)
    tid, aid = 0, 0
    with path.open("w", encoding="utf-8") as f:  # one task at a time: the same bytes as json.dumps of the list
        f.write("[")
        for task in _replicas(tasks, copies):
            f.write((", " if task["id"] > 1 else "") + json.dumps(task, ensure_ascii=False))
            tid, aid = task["id"], aid + len(task["annotations"])
        f.write("]")
    return {"tasks": tid, "copies": copies, "gold_statements": gold * copies,
            "annotations": aid, "bytes": path.stat().st_size}


def _replicas(tasks: list[dict], copies: int) -> Iterator[dict]:
    """The replicated tasks, one at a time (new task, annotation and article ids; stories stay grouped)."""
    tid, aid = 0, 0
    for k in range(copies):
        for t in tasks:
            tid += 1
            data = dict(t["data"], article_id=f"{t['data']['article_id']}-r{k}", group=f"{t['data']['group']}-r{k}")
            anns = []
            for a in t["annotations"]:
                aid += 1
                anns.append({**a, "id": aid, "completed_by": 1 + hash(a.get("annotator")) % 7, "task": tid,
                             "was_cancelled": False, "created_at": "2026-11-20T10:00:00Z", "lead_time": 30.0})
            yield {"id": tid, "data": data, "annotations": anns, "predictions": [], "meta": t.get("meta", {}),
                   "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
                   "inner_id": tid, "total_annotations": len(anns), "cancelled_annotations": 0,
                   "total_predictions": 0, "project": 1, "drafts": [], "file_upload": "seesaw.json"}


_FLOOR = """
import gc, json, resource, sys, time
if sys.argv[2] == "nogc":
    gc.disable()
t = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as f:
    json.load(f)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_OURS = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
import datasets, pyarrow  # imports timed apart: a fixed cost, not per statement
from corpus.build import BuildOptions, build_dataset
t = time.perf_counter()
res = build_dataset(BuildOptions(out=Path(sys.argv[2]), sources=[Path(sys.argv[1])]))
print(json.dumps({"seconds": time.perf_counter() - t, "imports": t - t0, "timings": res.timings,
                  "statements": sum(res.sizes["statements"].values()), "sizes": res.sizes,
                  "rejections": dict(res.rejections),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_SDK = """
import json, logging, resource, sys, time
logging.disable(logging.WARNING)
from label_studio_sdk.converter import Converter
config, export, out, fmt = sys.argv[1:5]
c = Converter(config=open(config).read(), project_dir=out, download_resources=False)
t = time.perf_counter()
c.convert(export, out, fmt, is_dir=False)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str, timeout: int = 1800, cwd: Path = REPO) -> dict:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "PYTHONHASHSEED": "0", "PYTHONPATH": str(cwd)}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _label_config(path: Path) -> None:
    from annotation.label_config import build_label_config
    from corpus.codebook import load_codebook

    path.write_text(build_label_config(load_codebook()), encoding="utf-8")


def _checkout(rev: str, into: Path) -> Path | None:
    """The tree of git revision `rev` extracted into `into` (None when git or the revision is missing)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def memory_section(seesaw_out: Path, tmp: Path, sizes: tuple[int, ...] = MEMORY_SIZES) -> str:
    """Peak RSS of `corpus build` per export size, this code and (where BEFORE is set) the code before streaming."""
    before = _checkout(BEFORE, tmp / "before") if BEFORE else None
    rows = []
    ours: dict[int, float] = {}  # statements -> peak MiB of this code
    for target in sizes:
        export = tmp / f"export-{target}.json"
        shape = make_export(seesaw_out, export, target)
        load = os.getloadavg()[0]
        runs = [("after (rows spilled per article, one split at a time)", REPO)] + ([(f"before ({BEFORE})", before)] if before else [])
        for label, code_dir in runs:
            out = tmp / f"ds-{target}"
            res = _run(_OURS, str(export), str(out), cwd=code_dir, timeout=3600)
            subprocess.run(["rm", "-rf", str(out)], check=False)
            rows.append(f"| {res['statements']:,} | {shape['bytes'] / 2**20:,.0f} | {label} | {res['seconds']:.0f} | "
                        f"**{res['maxrss_mb']:,.0f}** | {max(load, os.getloadavg()[0]):.1f} |")
            if code_dir == REPO:
                ours[res["statements"]] = res["maxrss_mb"]
        export.unlink()
    table = "\n".join(rows)
    largest = max(ours)
    verdict = "met" if ours[largest] < 2048 else "**not met**"
    growth = (f"; from {min(ours):,} to {largest:,} statements peak memory grew "
              f"{ours[largest] / ours[min(ours)]:.1f}x for {largest / min(ours):.1f}x the statements" if len(ours) > 1 else "")
    return f"""{MEMORY_START}
### Peak memory (`python -m tests.benchmarks.bench_build memory`)

Each build in its own process (ru_maxrss, imports included); the export is the replicated SEESAW export above at
each size. Goal: 1M statements under 2 GB. How (`corpus.spill`): the export is streamed a task at a time; each
article's statement, candidate, mention and article rows go to temporary Arrow IPC files as one record batch per
article, while only the small key columns the splits need stay in memory; each config's split is then read back
in id order (articles in order, rows sorted within each: no sort of the whole), hashed a chunk at a time and
written (Arrow, Parquet in row groups of 65,536 rows) before the next one is read. The build in between (streamed
export, every table held whole, split into copies) peaked at 6,020 MiB for 1M statements.

| statements | export MiB | code | seconds | peak RSS MiB | load |
| ---: | ---: | --- | ---: | ---: | ---: |
{table}

- Goal "1M statements under 2 GB": {verdict} ({ours[largest]:,.0f} MiB at {largest:,} statements){growth}.
{MEMORY_END}"""


def _memory_only(argv: list[str]) -> None:
    """Run the memory part alone and put its lines into BENCHMARKS.md's build section."""
    import re

    from corpus.importers.seesaw import import_seesaw

    sizes = tuple(int(a.replace("_", "")) for a in argv) or MEMORY_SIZES
    with tempfile.TemporaryDirectory(prefix="bench-build-memory-") as tmp:
        import_seesaw(SEESAW, Path(tmp) / "seesaw")
        section = memory_section(Path(tmp) / "seesaw", Path(tmp), sizes)
    doc_path = REPO / "BENCHMARKS.md"
    doc = doc_path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MEMORY_START) + ".*?" + re.escape(MEMORY_END), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: section, doc)
    else:
        doc = doc.replace("<!-- /bench:build -->", section + "\n<!-- /bench:build -->")
    doc_path.write_text(doc, encoding="utf-8")
    print(section)


def main() -> str:
    cmd = "python -m tests.benchmarks build"
    if not (SEESAW / "annotations").is_dir():
        return f"## corpus build\n\nSkipped: SEESAW not found at {SEESAW} (set SEESAW_DIR). Command: `{cmd}`.\n"
    from corpus.importers.seesaw import import_seesaw

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp_path = Path(tmp)
        import_seesaw(SEESAW, tmp_path / "seesaw")
        export = tmp_path / "export.json"
        shape = make_export(tmp_path / "seesaw", export)
        load = os.getloadavg()[0]
        floor = min((_run(_FLOOR, str(export), "gc") for _ in range(2)), key=lambda r: r["seconds"])
        floor_nogc = min((_run(_FLOOR, str(export), "nogc") for _ in range(2)), key=lambda r: r["seconds"])
        ours = min((_run(_OURS, str(export), str(tmp_path / f"dataset-{k}")) for k in range(2)),
                   key=lambda r: r["seconds"])
        config = tmp_path / "config.xml"
        _label_config(config)
        sdk = {fmt: _run(_SDK, str(config), str(export), str(tmp_path / f"sdk-{fmt}"), fmt) for fmt in
               ("JSON_MIN", "CSV")}
        load = max(load, os.getloadavg()[0])
        memory = memory_section(tmp_path / "seesaw", tmp_path)
    n = ours["statements"]
    rate = n / ours["seconds"]
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in ours["timings"].items())
    rows = [
        ("`json.load` of the export (floor, as called plainly)", floor["seconds"], floor["maxrss_mb"], "-"),
        ("`json.load` with the garbage collector paused (strict floor)", floor_nogc["seconds"],
         floor_nogc["maxrss_mb"], "-"),
        ("**`corpus build`** (all configs, card, digest, Arrow + Parquet)", ours["seconds"], ours["maxrss_mb"],
         f"{n / ours['seconds']:,.0f}"),
        ("label-studio-sdk `Converter` JSON_MIN (drops relations)", sdk["JSON_MIN"]["seconds"],
         sdk["JSON_MIN"]["maxrss_mb"], "-"),
        ("label-studio-sdk `Converter` CSV (drops relations)", sdk["CSV"]["seconds"], sdk["CSV"]["maxrss_mb"], "-"),
    ]
    table = "\n".join(f"| {name} | {s:.1f} | {m:,.0f} | {r} |" for name, s, m, r in rows)
    ratio_floor = ours["seconds"] / floor["seconds"]
    ratio_strict = ours["seconds"] / floor_nogc["seconds"]
    ratios_sdk = {f: sdk[f]["seconds"] / ours["seconds"] for f in sdk}
    return f"""## corpus build (Label Studio export -> Hugging Face dataset)

Command: `{cmd}` on {MACHINE}. Input: SEESAW through `corpus import seesaw`, every task replicated
{shape['copies']}x with new task, annotation and article ids (stories stay grouped, splits kept) into one
Label Studio JSON export: {shape['tasks']:,} tasks, {shape['annotations']:,} annotations (gold plus each
annotator's own), {shape['bytes'] / 2**20:,.0f} MiB. Each step runs in its own process; peak memory is its
ru_maxrss; the floors and our build are the best of two runs, the SDK's converters one run each.

| step | seconds | peak RSS MiB | statements/s |
| --- | ---: | ---: | ---: |
{table}

- Statements converted: **{n:,}** ({rate:,.0f} statements/s); rows: {json.dumps(ours['sizes'])}.
- Ratio to the floor: **{ratio_floor:.1f}x** a plain `json.load` of the same export, **{ratio_strict:.1f}x** a
  `json.load` with the collector paused (goal: within 3x). The build pauses the collector too: parsing and
  converting make millions of small acyclic objects, and its full passes over them tripled a plain parse.
- The SDK's converter takes {ratios_sdk['JSON_MIN']:.2f}x (JSON_MIN) and {ratios_sdk['CSV']:.2f}x (CSV) as long as
  `corpus build` (goal: faster than it, i.e. above 1). The SDK streams the export (ijson, C backend) and writes
  one file per format; `corpus build` writes three configs twice (Arrow and Parquet), a card and a digest.
- Load average on the machine during the run: {load:.1f} (2 cores shared with other work; timings are noisy).
- Our phases: {phases}; importing datasets/pyarrow/corpus: {ours['imports']:.1f} s (not counted).
- Rejections: {json.dumps(ours['rejections'])} (annotators' own codings superseded by the release's gold).

{memory}
"""


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory"]:
        _memory_only(sys.argv[2:])
    else:
        print(main())
