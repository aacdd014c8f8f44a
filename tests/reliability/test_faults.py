"""Faults with real servers on 127.0.0.1: a Label Studio killed mid-push, 5xx answers and timeouts through a
fault-injecting proxy, an MLflow server that is down, training killed mid-epoch, writes that fail half-way.

What each must show: the command stops with one clear error, running it again finishes the job, and no record is
lost or duplicated; a failed write leaves the previous version intact.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corpus.errors import ServiceError
from tests.fixtures.fault_proxy import FaultProxy, Rule, wait_until
from tests.reliability import build_small_dataset, make_corpus, one_line_error, run_module, tree_snapshot

pytestmark = pytest.mark.slow
IMPORT = r"/api/projects/\d+/import"


# -- helpers -------------------------------------------------------------------------------------------------------
def _client(url: str, token: str, retries: int = 1, timeout: float = 30.0,
            delays: list[float] | None = None) -> Any:
    """A client with a short backoff; `delays` records every backoff the retry policy asked for."""
    import time

    from annotation.client import Connection, LabelStudioClient

    def sleep(seconds: float) -> None:
        if delays is not None:
            delays.append(seconds)
        time.sleep(seconds)

    return LabelStudioClient(Connection(url, token, timeout=timeout, retries=retries, backoff=0.05), sleep=sleep)


def _tasks_by_article(client: Any, project: str) -> tuple[Counter, list[dict[str, Any]]]:
    found = client.find_project(project)
    tasks = list(client.iter_tasks(found["id"], with_annotations=True))
    return Counter(t["data"]["article_id"] for t in tasks), tasks


def _assert_complete(client: Any, project: str, ids: list[str], annotations: int | None = 1) -> int:
    """Every article exactly once on the server (and its annotation once); returns records lost (0)."""
    counts, tasks = _tasks_by_article(client, project)
    duplicated = {a: n for a, n in counts.items() if n > 1}
    missing = sorted(set(ids) - set(counts))
    assert not duplicated, f"duplicate tasks after the fault: {duplicated}"
    assert not missing, f"tasks missing after the fault: {missing}"
    if annotations is not None:
        per_task = Counter(len(t.get("annotations") or []) for t in tasks)
        assert per_task == Counter({annotations: len(ids)}), f"annotations per task: {per_task}"
    return len(missing) + sum(n - 1 for n in counts.values())


def _cli_push(url: str, token: str, source: Path, project: str, *extra: str) -> Any:
    from annotation.cli import app

    return CliRunner().invoke(app, ["push", "--project", project, "--source", str(source), "--url", url,
                                    *extra], env={"LABEL_STUDIO_API_KEY": token})


# -- a Label Studio of our own, to kill -----------------------------------------------------------------------------
class KillableLabelStudio:
    """A Label Studio started by annotation.server from the project's .ls-venv, on a fresh data dir."""

    def __init__(self, data_dir: Path) -> None:
        from annotation import server

        self.creds = server.Credentials("faults@newsstance.test", "pw-" + secrets.token_urlsafe(12),
                                        secrets.token_hex(20))
        self.port, self.data_dir = server.free_port(), data_dir
        self.server = server.LabelStudioServer(self.creds, port=self.port, data_dir=data_dir)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 420) -> None:
        from annotation import server

        self.server = server.LabelStudioServer(self.creds, port=self.port, data_dir=self.data_dir)
        self.server.start()
        self.server.wait_healthy(timeout=timeout)

    def kill(self) -> int:
        """SIGKILL by PID (no clean shutdown), then wait until nothing answers; returns the PID."""
        from annotation.server import health

        proc = self.server.process
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.server.stop()  # reaps anything left in its process group
        assert wait_until(lambda: not health(self.url), timeout=30)
        return proc.pid


@pytest.fixture(scope="module")
def killable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KillableLabelStudio]:
    from annotation import server

    try:
        server.ensure_venv()
    except ServiceError as e:
        pytest.skip(f"cannot install the Label Studio server venv: {e.what}")
    ls = KillableLabelStudio(tmp_path_factory.mktemp("ls-killable"))
    ls.start()
    try:
        yield ls
    finally:
        ls.server.stop()


@pytest.mark.labelstudio
def test_label_studio_killed_between_batches_then_push_again(killable: KillableLabelStudio, tmp_path: Path,
                                                             record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "Label Studio SIGKILLed by PID after 2 of 6 import batches")
    from annotation.push import push
    from corpus.codebook import load_codebook

    ids = make_corpus(tmp_path / "corpus", 24)
    project = "faults-kill-between-batches"
    client = _client(killable.url, killable.creds.token)
    batches = []

    def progress(n: int) -> None:
        batches.append(n)
        if len(batches) == 2:
            record_property("killed_pid", killable.kill())

    with pytest.raises(ServiceError) as err:
        push(client, load_codebook(), tmp_path / "corpus", project, with_annotations=True, batch_size=4,
             progress=progress)
    assert "unreachable" in str(err.value) and killable.url in str(err.value)
    counts_before = len(batches) * 4
    killable.start(timeout=180)
    again = _cli_push(killable.url, killable.creds.token, tmp_path / "corpus", project, "--with-annotations",
                      "--batch-size", "4")
    assert again.exit_code == 0, again.output
    assert f"{len(ids) - counts_before} new" in again.stdout and f"{counts_before} unchanged" in again.stdout
    lost = _assert_complete(client, project, ids)
    record_property("outcome", f"push: one error naming the URL; push again: {len(ids) - counts_before} new, "
                               f"{counts_before} unchanged, {len(ids)} tasks, 0 duplicates")
    record_property("records_lost", lost)


@pytest.mark.labelstudio
def test_label_studio_killed_during_an_import_request(killable: KillableLabelStudio, tmp_path: Path,
                                                      record_property: Callable[[str, Any], None]) -> None:
    """The kill lands while the server handles a batch: whether it committed or not, a second push completes."""
    record_property("fault", "Label Studio SIGKILLed while it handled an import request (through the proxy)")
    import threading
    import time

    from annotation.push import push
    from corpus.codebook import load_codebook

    ids = make_corpus(tmp_path / "corpus", 20)
    project = "faults-kill-in-flight"
    pids: list[int] = []

    def kill_soon() -> None:
        threading.Thread(target=lambda: (time.sleep(0.05), pids.append(killable.kill())), daemon=True).start()

    with FaultProxy(killable.url, lifetime=300) as proxy:
        proxy.add(Rule("call", method="POST", path=IMPORT, hook=kill_soon))  # the first import batch
        with pytest.raises(ServiceError) as err:
            push(_client(proxy.url, killable.creds.token, retries=2), load_codebook(), tmp_path / "corpus", project,
                 with_annotations=True, batch_size=5)
    assert wait_until(lambda: bool(pids), timeout=60)
    assert proxy.url in str(err.value) and "\n" not in str(err.value)
    killable.start(timeout=180)
    again = _cli_push(killable.url, killable.creds.token, tmp_path / "corpus", project, "--with-annotations",
                      "--batch-size", "5")
    assert again.exit_code == 0, again.output
    lost = _assert_complete(_client(killable.url, killable.creds.token), project, ids)
    record_property("outcome", f"push: {str(err.value).split(': ', 1)[1][:90]}...; push again: all {len(ids)} "
                               "tasks once")
    record_property("records_lost", lost)


# -- 5xx answers and timeouts through the proxy, in front of the session's server -----------------------------------
@pytest.mark.labelstudio
def test_5xx_answers_are_retried_with_backoff(label_studio: Any, record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "3 answers 503 in a row (proxy)")
    url, token = label_studio
    delays: list[float] = []
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("status", path=r"^/api/projects", times=3, status=503))
        client = _client(proxy.url, token, retries=4, delays=delays)
        assert client.find_project("no such project") is None  # answered on the fourth attempt
    assert proxy.count("status") == 3
    assert delays == [0.05, 0.1, 0.2]  # exponential backoff
    record_property("outcome", f"retried after {delays} s, then the call succeeded")


@pytest.mark.labelstudio
def test_persistent_5xx_ends_in_one_clear_error(label_studio: Any, tmp_path: Path,
                                                record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "every answer 502 (proxy)")
    url, token = label_studio
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("status", times=None, status=502))
        delays: list[float] = []
        with pytest.raises(ServiceError) as err:
            _client(proxy.url, token, retries=3, delays=delays).find_project("x")
        assert "failed after 4 attempts (HTTP 502" in str(err.value) and proxy.url in str(err.value)
        assert delays == [0.05, 0.1, 0.2] and proxy.count("status") == 4
        done = run_module("annotation", "pull", "--url", proxy.url, "--out", str(tmp_path / "exports"),
                          env={"LABEL_STUDIO_API_KEY": token})
    assert done.returncode == 3, done.stderr
    *warnings, last = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert all(w.startswith("WARNING: ") and "retrying in" in w for w in warnings), done.stderr  # the backoff, shown
    line = one_line_error(last, done.stdout)
    assert proxy.url in line and "HTTP 502" in line and token not in done.stderr + done.stdout
    assert not (tmp_path / "exports").exists()
    record_property("outcome", f"4 attempts with backoff 0.05/0.1/0.2 s; the CLI: {len(warnings)} retry warnings, "
                               f"then {line.replace(proxy.url, 'URL')}")


@pytest.mark.labelstudio
def test_timeouts_are_retried_then_reported(label_studio: Any, record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "GET answers held past the client's 3 s timeout (proxy)")
    url, token = label_studio
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("delay", method="GET", times=2, delay=7.0))
        client = _client(proxy.url, token, retries=2, timeout=3.0)
        assert client.version()["release"]  # two reads time out, the third answers
        proxy.clear()
        proxy.add(Rule("delay", method="GET", times=None, delay=7.0))
        with pytest.raises(ServiceError) as err:
            client.version()
    assert "failed after 3 attempts (no complete answer (ReadTimeout))" in str(err.value)
    record_property("outcome", f"2 timeouts retried then success; always late: {err.value.what}")


@pytest.mark.labelstudio
def test_import_answer_lost_after_the_server_acted(label_studio: Any, tmp_path: Path,
                                                   record_property: Callable[[str, Any], None]) -> None:
    """The connection drops after the server imported a batch: no blind retry of the POST; push again resumes."""
    record_property("fault", "connection dropped after the server imported a batch (proxy)")
    url, token = label_studio
    from annotation.push import push
    from corpus.codebook import load_codebook

    ids = make_corpus(tmp_path / "corpus", 12)
    project = "faults-answer-lost"
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("forward_then_drop", method="POST", path=IMPORT, times=1))
        with pytest.raises(ServiceError) as err:
            push(_client(proxy.url, token, retries=3), load_codebook(), tmp_path / "corpus", project,
                 with_annotations=True, batch_size=4)
        assert proxy.count(method="POST", path=IMPORT) == 1  # not repeated
    assert "run the command again" in str(err.value)
    again = _cli_push(url, token, tmp_path / "corpus", project, "--with-annotations", "--batch-size", "4")
    assert again.exit_code == 0, again.output
    assert "8 new" in again.stdout and "4 unchanged" in again.stdout
    lost = _assert_complete(_client(url, token), project, ids)
    record_property("outcome", "push stops (no blind retry of the POST); push again imports the 8 missing, "
                               "0 duplicates")
    record_property("records_lost", lost)


@pytest.mark.labelstudio
def test_gateway_error_after_the_server_acted(label_studio: Any, tmp_path: Path,
                                              record_property: Callable[[str, Any], None]) -> None:
    """A 504 from a gateway after the server imported the batch must not make push import it twice."""
    record_property("fault", "504 from a gateway after the server imported a batch (proxy)")
    url, token = label_studio
    from annotation.push import push
    from corpus.codebook import load_codebook

    ids = make_corpus(tmp_path / "corpus", 8)
    project = "faults-504-after-import"
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("forward_then_status", method="POST", path=IMPORT, times=1, status=504))
        with pytest.raises(ServiceError) as err:
            push(_client(proxy.url, token, retries=3), load_codebook(), tmp_path / "corpus", project,
                 with_annotations=True, batch_size=4)
        assert proxy.count(method="POST", path=IMPORT) == 1  # the POST is not repeated
    assert "HTTP 504" in str(err.value) and "run the command again" in str(err.value)
    again = _cli_push(url, token, tmp_path / "corpus", project, "--with-annotations", "--batch-size", "4")
    assert again.exit_code == 0, again.output
    assert "4 new" in again.stdout and "4 unchanged" in again.stdout
    lost = _assert_complete(_client(url, token), project, ids)
    record_property("outcome", "push stops without repeating the POST; push again imports the other 4, "
                               "0 duplicates")
    record_property("records_lost", lost)


# -- MLflow ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults-dataset")
    make_corpus(root / "corpus", 30)
    return build_small_dataset(root / "corpus", root / "ds")


@pytest.mark.parametrize("how", ["nothing-listening", "health-503"])
def test_tracking_server_down_fails_before_training(how: str, dataset: Path, tmp_path: Path,
                                                    record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", f"MLflow tracking server down at start ({how})")
    from annotation.server import free_port

    proxy = None
    if how == "health-503":
        proxy = FaultProxy(f"http://127.0.0.1:{free_port()}", lifetime=120).start()
        proxy.add(Rule("status", times=None, status=503))
        uri = proxy.url
    else:
        uri = f"http://127.0.0.1:{free_port()}"
    try:
        before = tree_snapshot(tmp_path)
        done = run_module("training", "train", "--config", "tiny", "--dataset", str(dataset), "--tracking-uri", uri,
                          "--set", f"output_dir={tmp_path / 'run'}", env={"NEWSSTANCE_ROOT": str(tmp_path)})
    finally:
        if proxy:
            proxy.stop()
    assert done.returncode == 3, done.stderr[-2000:]
    line = one_line_error(done.stderr, done.stdout)
    assert uri in line and ("does not answer" in line or "HTTP 503" in line), line
    assert tree_snapshot(tmp_path) == before, "something was written before the tracking check"
    record_property("outcome", f"exit 3 before any training or output: {line.replace(uri, 'URI')}")


KILL_MID_EPOCH = r"""
import os, signal, sys
from pathlib import Path
import transformers

original = transformers.Trainer.training_step

def training_step(self, *args, **kwargs):
    # SIGKILL this process inside epoch 2, after epoch 1's checkpoint is on disk: no clean-up of any kind.
    saved = any(Path(self.args.output_dir).glob("checkpoint-*"))
    if saved and self.state.epoch is not None and 1.0 < self.state.epoch < 2.0:
        sys.stderr.write(f"fault: SIGKILL at step {self.state.global_step}, epoch {self.state.epoch:.2f}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

transformers.Trainer.training_step = training_step
sys.argv = ["python -m training", *sys.argv[1:]]
from training.cli import main
main()
"""


@pytest.mark.mlflow_server
def test_training_killed_mid_epoch_resumes_into_the_same_run(dataset: Path, mlflow_server: str, tmp_path: Path,
                                                             record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "training SIGKILLed inside epoch 2 (after epoch 1's checkpoint)")
    import subprocess

    import mlflow

    out = tmp_path / "run"
    experiment = f"reliability-resume-{secrets.token_hex(4)}"
    args = ["train", "--config", "tiny", "--dataset", str(dataset), "--tracking-uri", mlflow_server,
            "--experiment", experiment, "--set", f"output_dir={out}", "--set", "transformer.epochs=2",
            "--set", "tracking.registry=false", "--quiet"]
    env = {**os.environ, "NEWSSTANCE_ROOT": str(tmp_path), "MLFLOW_DISABLE_TELEMETRY": "true",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    killed = subprocess.run([sys.executable, "-c", KILL_MID_EPOCH, *args], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert "fault: SIGKILL at step" in killed.stderr
    state = json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))
    assert state["status"] == "running" and list((out / "latest" / "checkpoints").glob("checkpoint-*"))
    run_id = state["run_id"]

    resumed = run_module("training", *args, "--resume", env={"NEWSSTANCE_ROOT": str(tmp_path)}, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))
    assert final["run_id"] == run_id and final["status"] == "finished"

    client = mlflow.MlflowClient(mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert [r.info.run_id for r in runs] == [run_id], "the resumed training opened another run"
    assert runs[0].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run_id, "validation_macro_f1")]
    assert sorted(steps) == [1, 2], f"epochs logged {steps}: epoch 1 once (before the kill), epoch 2 once (after)"
    record_property("outcome", f"--resume continued from the checkpoint into run {run_id[:8]} (FINISHED); "
                               "epochs 1 and 2 each logged once")


# -- writes that fail half-way ---------------------------------------------------------------------------------------
def test_failed_dataset_write_keeps_the_previous_build(dataset: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "disk full (ENOSPC) half-way through writing a dataset's Parquet files")
    import shutil

    import pyarrow.parquet as pq

    from corpus.cli import app

    out = tmp_path / "ds"
    shutil.copytree(dataset, out)
    make_corpus(tmp_path / "corpus", 40)  # a bigger corpus: the new build would differ from the old one
    before = tree_snapshot(out)
    real_write = pq.write_table
    calls = []

    def disk_full(table: Any, where: Any, *a: Any, **kw: Any) -> None:
        calls.append(where)
        if len(calls) == 2:  # half of a file written, then the disk is full
            Path(where).write_bytes(b"PAR1" + b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        real_write(table, where, *a, **kw)

    monkeypatch.setattr(pq, "write_table", disk_full)
    result = CliRunner().invoke(app, ["build", str(tmp_path / "corpus"), "--out", str(out), "--no-progress"])
    assert result.exit_code == 1 and len(calls) >= 2
    line = one_line_error(result.stderr, result.stdout)
    assert str(out) in line and "No space left on device" in line
    assert tree_snapshot(out) == before, "the previous dataset changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "ds"], "a temporary folder was left behind"
    from corpus.build import dataset_digest

    dataset_digest(out, verify=True)  # the old dataset still checks out against its digest
    record_property("outcome", "previous build intact and its digest verifies; no temporary folder left; "
                               f"{line.replace(str(tmp_path), '$TMP')}")


@pytest.mark.labelstudio
def test_failed_export_write_keeps_earlier_exports(label_studio: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "I/O error (EIO on fsync) while writing a pulled export")
    from annotation.pull import pull

    url, token = label_studio
    make_corpus(tmp_path / "corpus", 3)
    project = "faults-export-write"
    assert _cli_push(url, token, tmp_path / "corpus", project, "--with-annotations").exit_code == 0
    exports = tmp_path / "exports"
    client = _client(url, token)
    first = pull(client, project, exports)
    before = tree_snapshot(exports)

    def fsync_fails(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    from annotation.cli import app

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fsync_fails)
        result = CliRunner().invoke(app, ["pull", "--project", project, "--out", str(exports), "--url", url],
                                    env={"LABEL_STUDIO_API_KEY": token})
    assert result.exit_code == 1, result.output
    line = one_line_error(result.stderr, result.stdout)
    assert "could not write the export" in line and "Input/output error" in line
    assert tree_snapshot(exports) == before, "a failed pull changed or added files"
    second = pull(client, project, exports)
    assert Path(first.path).read_bytes() and second.path != first.path
    from annotation.export import load_tasks

    assert len(load_tasks(first.path).tasks) == 3 and len(load_tasks(second.path).tasks) == 3
    record_property("outcome", "earlier export and manifest untouched, no temporary file left; "
                               f"{line.replace(str(tmp_path), '$TMP')}; the next pull writes a new file")


def test_failed_article_write_keeps_the_stored_article(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "disk full at the rename of an article write")
    from corpus.schema import article_from_dict
    from corpus.store import CorpusStore

    make_corpus(tmp_path / "corpus", 1)
    store = CorpusStore(tmp_path / "corpus")
    before = tree_snapshot(tmp_path)
    old = store.read_article("syn-000")
    changed = article_from_dict({**old.model_dump(), "body": old.body + " A new sentence.", "checksum": ""}, "x")

    def replace_fails(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace_fails)
        with pytest.raises(OSError):
            store.write_article(changed)
    assert tree_snapshot(tmp_path) == before
    assert store.read_article("syn-000") == old
    record_property("outcome", "stored article unchanged, no temporary file left")
