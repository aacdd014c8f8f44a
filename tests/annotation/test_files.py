"""Exports on disk: never overwritten, checked against the manifest; corpus folders read as tasks; what push
sends for an existing annotation file."""

from __future__ import annotations

import json

import pytest

from annotation.export import IMPORTED_KEY, annotator_name, load_tasks
from annotation.pull import append_manifest, write_new
from annotation.push import server_annotations, task_data
from corpus.errors import InputError
from corpus.store import CorpusStore
from corpus.tasks import statement_item

from .builders import annotation, coder_a, task


def test_write_new_never_overwrites(tmp_path):
    target = tmp_path / "exports" / "p-20260101T000000Z-abc.json"
    first = write_new(target, b"[1]")
    second = write_new(target, b"[2]")
    assert first == target and second.name == "p-20260101T000000Z-abc-2.json"
    assert first.read_bytes() == b"[1]" and second.read_bytes() == b"[2]"
    assert {p.name for p in target.parent.iterdir()} == {first.name, second.name}  # no temp file left


def test_manifest_detects_a_changed_export(tmp_path):
    path = write_new(tmp_path / "e.json", json.dumps([task(1, [])]).encode())
    from annotation.export import sha256_file

    append_manifest(tmp_path, {"file": "e.json", "sha256": sha256_file(path), "users": {"3": "c@x.test"}})
    source = load_tasks(path)
    assert source.users == {3: "c@x.test"} and len(source.tasks) == 1
    path.write_text(json.dumps([task(1, []), task(2, [])]))
    with pytest.raises(InputError, match="changed since it was pulled"):
        load_tasks(path)


@pytest.mark.parametrize(("content", "message"), [
    ("", "file is empty"), ("{not json", "not valid JSON"), ("[]", "holds no tasks"),
    ('[{"annotations": []}]', "not a Label Studio task"), ('{"data": {}, "annotations": 3}', "must be a list"),
])
def test_bad_exports_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_tasks(path)


def test_corpus_folder_reads_as_tasks_and_names_annotators():
    source = load_tasks(CorpusStore().root)
    assert [t["data"]["article_id"] for t in source.tasks] == CorpusStore().article_ids()
    t = {"data": {IMPORTED_KEY: {"2": {"annotator": "seesaw:B", "statements": []}}}}
    assert annotator_name(t, {"import_id": 2, "completed_by": 1}, {}) == "seesaw:B"
    assert annotator_name(t, {"completed_by": 1}, {1: "a@x.test"}) == "a@x.test"
    assert annotator_name(t, {"completed_by": 7}, {}) == "ls-user:7"


def test_push_keeps_statements_and_names_in_task_data():
    st = statement_item("s1", "Sheinbaum", "troops", "oppose", 0, 10)
    file_task = task(1, [annotation(1, "gold", coder_a() + [st], ground_truth=True),
                         annotation(2, "seesaw:A", [st])])
    anns, kept = server_annotations(file_task, "x.json")
    assert [a["ground_truth"] for a in anns] == [True, False]  # always explicit: Label Studio defaults to True
    assert all(i.get("type") != "statement" for a in anns for i in a["result"])
    assert kept == {"1": {"annotator": "gold", "statements": [st]}, "2": {"annotator": "seesaw:A", "statements": [st]}}
    article = CorpusStore().read_article("article-001")
    data = task_data(article)
    assert data["article_id"] == "article-001" and data["checksum"] == article.checksum and data["text"] == article.text
