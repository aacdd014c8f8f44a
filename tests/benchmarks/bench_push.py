"""Label Studio round trip speed on a real server: push (by batch size, with annotations, the idempotent
re-push), pull, and agreement / adjudication on the pulled export. SEESAW through the importer."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEESAW_DIR = Path(os.environ.get("SEESAW_DIR") or REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW")


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> str:
    from annotation import server
    from annotation.adjudicate import adjudicate
    from annotation.agreement import compute_agreement
    from annotation.client import Connection, LabelStudioClient
    from annotation.export import load_tasks
    from annotation.pull import pull
    from annotation.push import push
    from corpus.codebook import load_codebook
    from corpus.store import BUNDLED_ROOT

    cb = load_codebook()
    head = ["## Label Studio push / pull", "",
            "Machine: 2 cores, 24 GiB, CPU. A fresh Label Studio 1.23.2 (own venv, SQLite) on 127.0.0.1; the "
            "client is this repository's `annotation.client` (SDK 2.x).", ""]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if (SEESAW_DIR / "annotations").is_dir():
            source = tmp_path / "seesaw"
            subprocess.run([sys.executable, "-m", "corpus", "import", "seesaw", str(SEESAW_DIR), "--out", str(source)],
                           check=True, cwd=REPO, capture_output=True)
            name = "SEESAW (609 articles, imported)"
        else:
            source, name = BUNDLED_ROOT, "the bundled corpus (SEESAW not found)"
        server.ensure_venv()
        creds = server.Credentials("bench@newsstance.test", "pw-" + secrets.token_urlsafe(12), secrets.token_hex(20))
        ls = server.LabelStudioServer(creds, port=server.free_port(), data_dir=tmp_path / "ls")
        ls.start()
        try:
            startup = ls.wait_healthy(timeout=600)
            client = LabelStudioClient(Connection(ls.url, creds.token))
            rows = []
            for batch in (10, 100):
                r, secs = _timed(push, client, cb, source, f"bench batch {batch}", batch_size=batch)
                rows.append((f"push, tasks only, `--batch-size {batch}`", r.new, secs))
            r, secs = _timed(push, client, cb, source, "bench full", with_annotations=True, prelabel=["gazetteer"])
            rows.append(("push `--with-annotations --prelabel gazetteer`", r.new, secs))
            annotations = r.annotations
            r2, secs = _timed(push, client, cb, source, "bench full", with_annotations=True, prelabel=["gazetteer"])
            assert r2.new == 0 and r2.tasks_on_server == r.tasks_on_server
            rows.append(("the same push again (nothing new)", r2.unchanged, secs))
            pulled, secs = _timed(pull, client, "bench full", tmp_path / "exports")
            rows.append((f"pull (snapshot export, {pulled.bytes / 2**20:.1f} MiB)", pulled.tasks, secs))
        finally:
            ls.stop()
        src, secs_load = _timed(load_tasks, pulled.path)
        report, secs_agree = _timed(compute_agreement, src, cb)
        adj, secs_adj = _timed(adjudicate, src, cb)
    lines = head + [f"Source: {name}, {annotations:,} annotations. Server start on a fresh data dir: "
                    f"{startup:.0f} s to `/health`.", "",
                    "| step | tasks | wall s | tasks/s |", "|---|---|---|---|"]
    lines += [f"| {label} | {n:,} | {secs:.1f} | {n / secs:,.0f} |" for label, n, secs in rows]
    lines += [f"| agreement on the pulled export (load {secs_load:.1f} s) | {report['tasks']:,} | {secs_agree:.1f} | "
              f"{report['tasks'] / secs_agree:,.0f} |",
              f"| adjudicate the pulled export | {len(src.tasks):,} | {secs_adj:.1f} | {len(src.tasks) / secs_adj:,.0f} |",
              "", f"Agreement through the server ({report['tasks_compared']} tasks with two or more annotators): "
              f"Krippendorff's alpha {report['stance']['krippendorff_alpha']}, mean Cohen's kappa "
              f"{report['stance']['mean_cohen_kappa']}, statement F1 {report['statements']['f1']}; adjudication kept "
              f"{adj.statements:,} statements in {len(adj.gold):,} gold tasks.",
              "", "Command: `python -m tests.benchmarks push`."]
    return "\n".join(lines)
