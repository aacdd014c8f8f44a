"""Issue 16 item 2, against the real Label Studio: two `annotation push` at once make one project and one task per
article (pushes to a project are serialised by a lock held across the check-and-import), and duplicates already on
the server are reported, with `--dedupe` deleting the extra copies that carry no annotations (never one with)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import REPO, make_corpus, run_module

pytestmark = pytest.mark.labelstudio


def _client(url: str, token: str) -> Any:
    from annotation.client import Connection, LabelStudioClient

    return LabelStudioClient(Connection(url, token))


def _projects_titled(client: Any, title: str) -> list[int]:
    pager = client.sdk.projects.list(title=title, page_size=100)
    return sorted(p.id for p in pager if p.title == title)


def _tasks_per_article(client: Any, pid: int) -> Counter:
    return Counter(t["data"]["article_id"] for t in client.iter_tasks(pid))


def _pushes_at_once(url: str, token: str, source: Path, project: str) -> list[subprocess.CompletedProcess[str]]:
    """Two `python -m annotation push` processes started together (small batches widen the window)."""
    env = {**os.environ, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}
    cmd = [sys.executable, "-m", "annotation", "push", "--project", project, "--source", str(source),
           "--with-annotations", "--batch-size", "3"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr))
    return out


def _new_counts(done: list[subprocess.CompletedProcess[str]]) -> list[int]:
    """The 'N new' of each push's summary line, sorted."""
    return sorted(int(re.search(r"(\d+) new", d.stdout)[1]) for d in done)


def test_two_pushes_at_once_make_one_project_and_one_task_per_article(
        label_studio: Any, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "two `annotation push --project race` at once (two processes), new project, then "
                             "again with 20 new articles on the existing project")
    url, token = label_studio
    client = _client(url, token)
    project = f"race-{secrets.token_hex(3)}"
    ids = make_corpus(tmp_path / "corpus", 12)
    first = _pushes_at_once(url, token, tmp_path / "corpus", project)
    assert [d.returncode for d in first] == [0, 0], [d.stderr for d in first]
    projects = _projects_titled(client, project)
    assert len(projects) == 1, f"{len(projects)} projects titled {project!r}"
    counts = _tasks_per_article(client, projects[0])
    assert counts == Counter(dict.fromkeys(ids, 1)), counts
    news = _new_counts(first)
    assert news == [0, 12], [d.stdout for d in first]

    ids = make_corpus(tmp_path / "corpus", 32)  # 20 more articles, same 12 first ones
    second = _pushes_at_once(url, token, tmp_path / "corpus", project)
    assert [d.returncode for d in second] == [0, 0], [d.stderr for d in second]
    counts = _tasks_per_article(client, projects[0])
    assert counts == Counter(dict.fromkeys(ids, 1)), {a: n for a, n in counts.items() if n != 1}
    assert _projects_titled(client, project) == projects
    assert all("duplicate" not in d.stdout + d.stderr for d in second)
    lost = len(set(ids) - set(counts)) + sum(n - 1 for n in counts.values())
    record_property("outcome", f"1 project; {len(ids)} articles, {sum(counts.values())} tasks; pushes reported "
                               f"{news} new, then {_new_counts(second)}"
                               " new (the second waited for the first)")
    record_property("records_lost", lost)


def test_duplicates_on_the_server_are_reported_and_dedupe_keeps_every_annotation(
        label_studio: Any, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "duplicate tasks already on the server (as pushes before the lock left them)")
    from annotation.push import push, task_data
    from corpus.codebook import load_codebook
    from corpus.store import CorpusStore
    from corpus.tasks import relation_item, span_items

    url, token = label_studio
    client = _client(url, token)
    project = f"dedupe-{secrets.token_hex(3)}"
    ids = make_corpus(tmp_path / "corpus", 5, annotate=False)
    push(client, load_codebook(), tmp_path / "corpus", project)
    pid = _projects_titled(client, project)[0]
    store = CorpusStore(tmp_path / "corpus")
    art = {i: store.read_article(i) for i in ids[:3]}
    text = art[ids[0]].text
    result = [*span_items("s1", 0, 5, text[0:5], "Actor", "claudia_sheinbaum"),
              *span_items("s2", 6, 12, text[6:12], "Policy", "us_troops_in_mexico"), relation_item("s1", "s2", "oppose")]

    def copy(aid: str, annotated: bool) -> int:
        task: dict[str, Any] = {"data": task_data(art[aid])}
        if annotated:
            task["annotations"] = [{"result": result, "ground_truth": False, "was_cancelled": False}]
        return client.import_tasks(pid, [task])[0]

    originals = {t["data"]["article_id"]: t["id"] for t in client.iter_tasks(pid)}
    annotated_copy = copy(ids[0], True)  # a-0: original bare, one annotated copy, one bare copy
    copy(ids[0], False)
    copy(ids[1], False)  # a-1: original and copy both bare
    second_annotated = copy(ids[2], True)  # a-2: original annotated (below) and an annotated copy
    client.create_annotation(originals[ids[2]], result)
    before = sum(_tasks_per_article(client, pid).values())

    reported = run_module("annotation", "push", "--project", project, "--source", str(tmp_path / "corpus"),
                          env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token})
    assert reported.returncode == 0, reported.stderr
    assert "4 duplicates" in reported.stdout and "warning: 3 articles have 4 duplicate tasks" in reported.stdout
    assert sum(_tasks_per_article(client, pid).values()) == before  # reporting deletes nothing

    deduped = run_module("annotation", "push", "--project", project, "--source", str(tmp_path / "corpus"),
                         "--dedupe", env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token})
    assert deduped.returncode == 0, deduped.stderr
    assert "3 without annotations deleted, 1 kept because they carry annotations" in deduped.stdout, deduped.stdout
    tasks = list(client.iter_tasks(pid, with_annotations=True))
    by_article: dict[str, list[int]] = {}
    for t in tasks:
        by_article.setdefault(t["data"]["article_id"], []).append(t["id"])
    assert by_article[ids[0]] == [annotated_copy]
    assert by_article[ids[1]] == [originals[ids[1]]]
    assert sorted(by_article[ids[2]]) == sorted([originals[ids[2]], second_annotated])
    assert all(len(by_article[i]) == 1 for i in ids[3:])
    annotations = sum(len(t.get("annotations") or []) for t in tasks)
    assert annotations == 3  # every annotation survives
    again = run_module("annotation", "push", "--project", project, "--source", str(tmp_path / "corpus"),
                       env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token})
    assert "1 duplicates" in again.stdout and "0 new" in again.stdout
    record_property("outcome", "push reports 4 duplicates of 3 articles (exit 0, nothing deleted); --dedupe deletes "
                               "the 3 bare copies, keeps both annotated copies of one article; 3 of 3 annotations "
                               "kept")
    record_property("records_lost", 3 - annotations)
