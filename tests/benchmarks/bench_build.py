"""Benchmark `corpus build` on a large Label Studio JSON export: SEESAW through the importer, replicated.

`python -m tests.benchmarks build` (or `python -m tests.benchmarks.bench_build`). Each measurement runs in
its own Python process, so peak memory (ru_maxrss) is that step's alone and imports are not shared:

* floor: `json.load` of the export (the same JSON library the build uses);
* ours: `corpus.build.build_dataset` on the export: all three configs, splits, card, digest, save_to_disk and
  Parquet;
* SDK: label-studio-sdk's `Converter` writing JSON_MIN (and CSV) from the same export (both lose relations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEESAW = Path(os.environ.get("SEESAW_DIR", REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW"))
TARGET_STATEMENTS = 100_000
MACHINE = "2 cores, 24 GiB, CPU"


def make_export(seesaw_out: Path, path: Path, target: int = TARGET_STATEMENTS) -> dict[str, int]:
    """Replicate the importer's tasks (new task, annotation and article ids; stories stay grouped) into one export."""
    from corpus.store import CorpusStore

    store = CorpusStore(seesaw_out)
    tasks = [store.read_task(p) for p in store.task_files()]
    gold = sum(sum(1 for r in t["annotations"][0]["result"] if r.get("type") in ("relation", "statement"))
               for t in tasks)
    copies = -(-target // gold)
    out, tid, aid = [], 0, 0
    for k in range(copies):
        for t in tasks:
            tid += 1
            data = dict(t["data"], article_id=f"{t['data']['article_id']}-r{k}", group=f"{t['data']['group']}-r{k}")
            anns = []
            for a in t["annotations"]:
                aid += 1
                anns.append({**a, "id": aid, "completed_by": 1 + hash(a.get("annotator")) % 7, "task": tid,
                             "was_cancelled": False, "created_at": "2026-11-20T10:00:00Z", "lead_time": 30.0})
            out.append({"id": tid, "data": data, "annotations": anns, "predictions": [], "meta": t.get("meta", {}),
                        "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
                        "inner_id": tid, "total_annotations": len(anns), "cancelled_annotations": 0,
                        "total_predictions": 0, "project": 1, "drafts": [], "file_upload": "seesaw.json"})
    path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return {"tasks": len(out), "copies": copies, "gold_statements": gold * copies,
            "annotations": aid, "bytes": path.stat().st_size}


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


def _run(code: str, *args: str, timeout: int = 1800) -> dict:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _label_config(path: Path) -> None:
    from annotation.label_config import build_label_config
    from corpus.codebook import load_codebook

    path.write_text(build_label_config(load_codebook()), encoding="utf-8")


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
"""


if __name__ == "__main__":
    print(main())
