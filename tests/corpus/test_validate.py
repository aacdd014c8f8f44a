"""`corpus validate` finds every kind of damage in a store, naming the file and the problem."""

import json
import shutil
import subprocess
import sys

import pytest

from corpus.codebook import load_codebook
from corpus.store import BUNDLED_ROOT, CorpusStore
from corpus.validate import validate_store


@pytest.fixture
def copy(tmp_path) -> CorpusStore:
    for sub in ("articles", "annotations"):
        shutil.copytree(BUNDLED_ROOT / sub, tmp_path / sub, ignore=shutil.ignore_patterns("exports"))
    return CorpusStore(tmp_path)


def _edit_task(store: CorpusStore, fn) -> None:
    path = store.task_path("article-001")
    task = json.loads(path.read_text(encoding="utf-8"))
    fn(task["annotations"][0]["result"], task)
    path.write_text(json.dumps(task), encoding="utf-8")


def _span(result, rid="a1"):
    return next(r for r in result if r.get("id") == rid and r["type"] == "labels")


CASES = [
    (lambda r, t: _span(r)["value"].update(start=5), "does not match text"),
    (lambda r, t: _span(r)["value"].update(end=10**6), "outside the text"),
    (lambda r, t: _span(r)["value"].update(labels=["Villain"]), "span label ['Villain']"),
    (lambda r, t: next(x for x in r if x["type"] == "relation").update(labels=["adore"]), "relation label 'adore'"),
    (lambda r, t: next(x for x in r if x["type"] == "relation").update(to_id="zzz"), "to_id 'zzz' names no span"),
    (lambda r, t: next(x for x in r if x.get("from_name") == "actor")["value"].update(choices=["nobody"]),
     "choice 'nobody' of 'actor' is not in the codebook"),
    (lambda r, t: t["data"].update(text="changed"), "data.text differs"),
    (lambda r, t: t["data"].update(article_id="ghost"), "names no stored article"),
]


@pytest.mark.parametrize(("mutate", "message"), CASES)
def test_damage_is_reported(copy, mutate, message):
    _edit_task(copy, mutate)
    report = validate_store(copy, load_codebook())
    assert not report.ok
    assert any(message in str(p) and "article-001.json" in str(p) for p in report.problems), report.problems


def test_tampered_article_checksum(copy):
    path = copy.article_path("article-001")
    art = json.loads(path.read_text(encoding="utf-8"))
    art["body"] = art["body"].replace("Heritage", "Hermitage")
    path.write_text(json.dumps(art), encoding="utf-8")
    report = validate_store(copy, load_codebook())
    assert any("checksum" in str(p) and "does not match the text" in str(p) for p in report.problems)


def test_cli_exit_code_and_lines(copy):
    _edit_task(copy, lambda r, t: _span(r)["value"].update(start=5))
    proc = subprocess.run([sys.executable, "-m", "corpus", "validate", "--root", str(copy.root)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "does not match text" in proc.stderr
