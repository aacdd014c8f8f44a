"""Push logic against an in-memory stand-in for the server (the real one is in test_labelstudio.py):
changed articles get a new task and the old one is marked, an interrupted push is finished by the next."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from annotation.label_config import build_label_config
from annotation.push import PRELABELS_META, lock_path, push, push_lock, task_data
from corpus.codebook import load_codebook
from corpus.errors import InputError, ServiceError
from corpus.gazetteer import MATCHER_VERSION
from corpus.schema import Article
from corpus.store import CorpusStore


class FakeServer:
    """The few client calls push makes, over a dict of tasks; `fail_after` imports raise like a dead server."""

    url = "http://fake"

    def __init__(self, fail_after: int | None = None) -> None:
        self.projects: dict[int, dict[str, Any]] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.fail_after = fail_after
        self.imports = 0

    def find_project(self, title):
        return next((copy.deepcopy(p) for p in self.projects.values() if p["title"] == title), None)

    def create_project(self, title, label_config, instructions, description=""):
        pid = next(self.ids)
        self.projects[pid] = {"id": pid, "title": title, "label_config": label_config,
                              "expert_instruction": instructions, "model_version": ""}
        return copy.deepcopy(self.projects[pid])

    def update_project(self, pid, **fields):
        self.projects[pid].update(fields)

    def iter_tasks(self, pid, with_annotations=False):
        yield from (copy.deepcopy(t) for t in self.tasks.values() if t["project"] == pid)

    def count_tasks(self, pid):
        return sum(1 for t in self.tasks.values() if t["project"] == pid)

    def import_tasks(self, pid, tasks):
        if self.fail_after is not None and self.imports >= self.fail_after:
            raise ServiceError(self.url, "Label Studio is unreachable")
        self.imports += 1
        ids = []
        for t in tasks:
            tid = next(self.ids)
            self.tasks[tid] = {**copy.deepcopy(t), "id": tid, "project": pid}
            ids.append(tid)
        return ids

    def update_task(self, tid, **fields):
        self.tasks[tid].update(copy.deepcopy(fields))

    def get_task(self, tid):
        return copy.deepcopy(self.tasks[tid])

    def delete_task(self, tid):
        del self.tasks[tid]

    def create_prediction(self, tid, result, model_version, score=None):
        self.tasks[tid].setdefault("predictions", []).append({"model_version": model_version, "result": result})


@pytest.fixture
def corpus(tmp_path) -> CorpusStore:
    store = CorpusStore(tmp_path / "corpus")
    seed = CorpusStore().read_article("article-001")
    for i in range(5):
        store.write_article(Article(id=f"a-{i}", title=f"Story {i}", body=f"{seed.body}\n\nPart {i}."))
    return store


def test_push_is_idempotent_and_changed_articles_get_a_new_task(corpus):
    cb, server = load_codebook(), FakeServer()
    first = push(server, cb, corpus.root, "proj", batch_size=2, prelabel=["gazetteer"])
    assert (first.new, first.batches, first.tasks_on_server, first.predictions) == (5, 3, 5, 5)
    again = push(server, cb, corpus.root, "proj", batch_size=2, prelabel=["gazetteer"])
    assert (again.new, again.unchanged, again.tasks_on_server, again.predictions) == (0, 5, 5, 0)

    old = corpus.read_article("a-3")
    corpus.write_article(Article(id="a-3", title=old.title, body=old.body + " A correction."))
    third = push(server, cb, corpus.root, "proj")
    assert (third.new, third.changed, third.unchanged, third.tasks_on_server) == (0, 1, 4, 6)
    versions = [t for t in server.tasks.values() if t["data"]["article_id"] == "a-3"]
    stale = next(t for t in versions if t["data"]["checksum"] == old.checksum)
    assert stale["meta"]["superseded_by"] == corpus.read_article("a-3").checksum


def test_interrupted_push_is_finished_by_the_next(corpus):
    cb, server = load_codebook(), FakeServer(fail_after=1)
    with pytest.raises(ServiceError):
        push(server, cb, corpus.root, "proj", batch_size=2)
    assert len(server.tasks) == 2
    server.fail_after = None
    report = push(server, cb, corpus.root, "proj", batch_size=2)
    assert (report.new, report.unchanged, report.tasks_on_server) == (3, 2, 5)
    assert sorted(t["data"]["article_id"] for t in server.tasks.values()) == [f"a-{i}" for i in range(5)]


def test_prelabelling_existing_tasks_later_and_config_drift(corpus):
    cb, server = load_codebook(), FakeServer()
    push(server, cb, corpus.root, "proj")
    server.projects[1]["label_config"] = build_label_config(cb).replace('value="oppose"', 'value="against"')
    report = push(server, cb, corpus.root, "proj", prelabel=["gazetteer"])
    assert report.predictions == 5 and report.config_differs and not report.config_updated
    assert all(t["meta"][PRELABELS_META] == [f"gazetteer-{cb.version}-m{MATCHER_VERSION}"] for t in server.tasks.values())
    assert server.projects[1]["model_version"] == f"gazetteer-{cb.version}-m{MATCHER_VERSION}"
    assert push(server, cb, corpus.root, "proj", prelabel=["gazetteer"], update_config=True).config_updated
    assert push(server, cb, corpus.root, "proj", prelabel=["gazetteer"]).predictions == 0



def test_tasks_pre_annotated_by_an_older_matcher_are_pre_annotated_again(corpus):
    cb, server = load_codebook(), FakeServer()
    push(server, cb, corpus.root, "proj")
    for task in server.tasks.values():  # as the first matcher left them: its version only in the meta
        task["meta"][PRELABELS_META] = [f"gazetteer-{cb.version}"]
    assert push(server, cb, corpus.root, "proj", prelabel=["gazetteer"]).predictions == 5
    assert all(t["meta"][PRELABELS_META] == sorted([f"gazetteer-{cb.version}", f"gazetteer-{cb.version}-m{MATCHER_VERSION}"])
               for t in server.tasks.values())

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"prelabel": ["oracle"]}, "unknown pre-annotator 'oracle'"),
    ({"batch_size": 0}, "must be at least 1"),
])
def test_bad_options(corpus, kwargs, message):
    with pytest.raises(InputError, match=message):
        push(FakeServer(), load_codebook(), corpus.root, "proj", **kwargs)


def test_not_a_corpus_folder(tmp_path):
    with pytest.raises(InputError, match="not a corpus folder"):
        push(FakeServer(), load_codebook(), tmp_path, "proj")


def test_duplicates_are_reported_and_dedupe_deletes_only_bare_copies(corpus, tmp_path):
    cb, server = load_codebook(), FakeServer()
    push(server, cb, corpus.root, "proj", lock_dir=tmp_path / "locks")
    a0, a1 = corpus.read_article("a-0"), corpus.read_article("a-1")
    server.import_tasks(1, [{"data": task_data(a0)}, {"data": task_data(a0), "total_annotations": 1},
                            {"data": task_data(a1), "cancelled_annotations": 1}])
    report = push(server, cb, corpus.root, "proj", lock_dir=tmp_path / "locks")
    assert report.duplicates == {"a-0": 2, "a-1": 1} and report.removed_duplicates == 0 and len(server.tasks) == 8
    assert "push with --dedupe" in report.notes[-1]
    report = push(server, cb, corpus.root, "proj", dedupe=True, lock_dir=tmp_path / "locks")
    assert (report.removed_duplicates, report.kept_duplicates, report.unchanged, report.new) == (3, 0, 5, 0)
    left = sorted((t["data"]["article_id"], t.get("total_annotations"), t.get("cancelled_annotations"))
                  for t in server.tasks.values() if t["data"]["article_id"] in ("a-0", "a-1"))
    assert left == [("a-0", 1, None), ("a-1", None, 1)]  # the annotated copies stay, the bare ones went
    assert push(server, cb, corpus.root, "proj", lock_dir=tmp_path / "locks").duplicates == {}


def test_push_lock_is_per_server_and_project(tmp_path):
    from filelock import FileLock, Timeout

    assert lock_path("http://h:1", "p", tmp_path) != lock_path("http://h:1", "q", tmp_path)
    assert lock_path("http://h:1/", "p", tmp_path) == lock_path("http://h:1", "p", tmp_path)
    with push_lock("http://h:1", "p", tmp_path):
        with pytest.raises(Timeout):
            FileLock(str(lock_path("http://h:1", "p", tmp_path))).acquire(timeout=0.2)
        with FileLock(str(lock_path("http://h:1", "q", tmp_path))).acquire(timeout=0.2):
            pass
    held = FileLock(str(lock_path("http://h:1", "p", tmp_path)))
    with held, pytest.raises(ServiceError, match="another push to project 'p'"), \
            push_lock("http://h:1", "p", tmp_path, timeout=0.2):
        pass
