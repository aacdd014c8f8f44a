"""`corpus import seesaw`: the hand-made mini release, the real release's counts, download, and bad input."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.codebook import load_codebook
from corpus.errors import InputError, ServiceError
from corpus.importers.cli import app
from corpus.importers.download import extract_seesaw, fetch_seesaw
from corpus.importers.seesaw import import_seesaw
from corpus.importers.statements import (
    AUTHOR,
    UNLISTED,
    AnnotationBuilder,
    Mention,
    mention_candidates,
    name_aliases,
)
from corpus.store import CorpusStore
from corpus.validate import validate_store
from tests.fixtures.seesaw_mini import mini_dir

MINI = mini_dir()
runner = CliRunner()


def _tasks(out: Path) -> list[dict]:
    store = CorpusStore(out)
    return [store.read_task(p) for p in store.task_files()]


def _gold_statements(out: Path) -> list[tuple[str, str, bool]]:
    """(split, stance, has offsets) for every item of every ground-truth annotation written under `out`."""
    rows = []
    for task in _tasks(out):
        gold = [a for a in task["annotations"] if a["ground_truth"]]
        assert len(gold) == 1 and gold[0]["annotator"] == "seesaw:gold"
        for item in gold[0]["result"]:
            if item.get("type") == "relation":
                rows.append((task["data"]["split"], item["labels"][0], True))
            elif item.get("type") == "statement":
                rows.append((task["data"]["split"], item["value"]["stance"], False))
    return rows


def _check_spans(out: Path) -> int:
    """Every span's text equals Article.text[start:end]; every relation names spans; returns the span count."""
    store = CorpusStore(out)
    n = 0
    for task in _tasks(out):
        text = store.read_article(task["data"]["article_id"]).text
        assert task["data"]["text"] == text
        for ann in task["annotations"]:
            spans = {i["id"]: i for i in ann["result"] if i.get("type") == "labels"}
            for item in spans.values():
                v = item["value"]
                assert text[v["start"]:v["end"]] == v["text"], (task["data"]["article_id"], item)
                n += 1
            for item in ann["result"]:
                if item.get("type") == "relation":
                    assert spans[item["from_id"]]["value"]["labels"] == ["Actor"]
                    assert spans[item["to_id"]]["value"]["labels"] == ["Policy"]
                if item.get("type") == "statement":
                    v = item["value"]
                    assert 0 <= v["context_start"] < v["context_end"] <= len(text)
    return n


# --- locating mentions ------------------------------------------------------------------------------------

def test_aliases_of_people_parties_and_agencies():
    assert {"Mr. Obama", "President Obama"} <= set(name_aliases("Barack Obama", person=True))
    assert "Obama" not in name_aliases("Barack Obama", person=True)  # a bare surname is its own strategy
    assert {"Republicans", "GOP"} <= set(name_aliases("Republican Party", person=False))
    assert "FBI" in name_aliases("Federal Bureau of Investigation", person=False)
    assert "Justice Department" in name_aliases("United States Department of Justice", person=False)
    assert "voters" in name_aliases("voter", person=False)


def test_candidates_by_strategy_whole_words_and_apostrophes():
    found = mention_candidates("Haley met Mr. Hale; HALE’s aide and Tom Hale left.", "Tom Hale",
                               name_aliases("Tom Hale", person=True), "Hale")
    assert [(c.strategy, c.start) for c in found][:2] == [("exact", 36), ("alias", 10)]
    assert all(c.start != 0 for c in found)  # "Hale" never matches inside "Haley"
    assert mention_candidates("O’Brien spoke.", "O'Brien")[0].strategy == "exact"
    assert mention_candidates("TOM HALE spoke.", "Tom Hale")[0].strategy == "casefold"


def test_builder_shares_spans_and_never_overlaps():
    text = "Tom Hale and Maria Lopez traded barbs."
    b = AnnotationBuilder(text)
    hale = Mention("Tom Hale", mention_candidates(text, "Tom Hale"))
    lopez = Mention("Maria Lopez", mention_candidates(text, "Maria Lopez"))
    assert b.add("s1", hale, lopez, "oppose", (0, len(text))).located
    assert b.add("s2", hale, lopez, "support", (0, len(text))).located  # same spans, second relation
    assert sum(i["type"] == "labels" for i in b.items) == 2
    back = b.add("s3", lopez, hale, "oppose", (0, len(text)))  # Lopez is already a Policy span
    assert not back.located and "overlap" in back.reason
    assert b.items[-1]["type"] == "statement" and b.items[-1]["value"]["actor"] == "Maria Lopez"


# --- the mini release -------------------------------------------------------------------------------------

def test_mini_release_end_to_end_through_the_cli(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["seesaw", str(MINI), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "statements: 16 (train 11, validation 2, test 3)" in res.output
    assert "with character offsets (both mentions): 9 of 16" in res.output

    rows = _gold_statements(out)
    assert len(rows) == 16
    assert Counter(split for split, _, _ in rows) == {"train": 11, "validation": 2, "test": 3}
    assert Counter(stance for _, stance, _ in rows) == {"oppose": 10, "support": 6}
    assert sum(located for *_, located in rows) == 9
    assert _check_spans(out) > 0
    report = validate_store(CorpusStore(out), load_codebook())
    assert report.ok, report.problems[:3]

    summary = json.loads((out / "import-summary.json").read_text())
    assert summary["by_strategy"] == {"exact": 4, "casefold": 1, "alias": 3, "surname": 1}
    lines = [json.loads(line) for line in (out / "import-report.jsonl").read_text().splitlines()]
    assert len(lines) == 16 - 9  # every statement without offsets has its line
    reasons = Counter(line["reason"].split(":")[0].split(" (")[0] for line in lines)
    assert reasons == {"entity not in the article's entity list": 2, "target not found in the context": 2,
                       "author voice": 1, "mentions overlap spans already drawn": 1,
                       "holder not found in the context": 1}


def test_mini_release_articles_annotators_and_special_names(tmp_path):
    result = import_seesaw(MINI, tmp_path / "out")
    store = CorpusStore(tmp_path / "out")
    art = store.read_article("seesaw-900-0")
    assert (art.group, art.split, art.source, art.published) == ("seesaw-900", "train", "Left Gazette", "2021-03-10")
    assert "CC BY-NC-SA 4.0" in art.rights and "Zhang" in art.rights
    text = art.text
    for _sid, start, end in art.extra["sentence_spans"]:
        assert "\n" not in text[start:end] and text[start:end]
    assert [s[0] for s in art.extra["sentence_spans"]] == [0, 1, 3, 4, 5, 6, 7]  # sentence 2 is empty
    assert store.read_article("seesaw-901-0").split == "validation"

    task = store.read_task(store.task_path("seesaw-900-0"))
    by = {a["annotator"]: a for a in task["annotations"]}
    assert set(by) == {"seesaw:gold", "seesaw:A", "seesaw:B", "seesaw:C"}
    assert by["seesaw:C"]["result"] == [] and not by["seesaw:C"]["ground_truth"]  # coded entities, no statement
    n_items = {k: sum(i.get("type") in ("relation", "statement") for i in a["result"]) for k, a in by.items()}
    assert n_items == {"seesaw:gold": 9, "seesaw:A": 8, "seesaw:B": 5, "seesaw:C": 0}
    statements = [i["value"] for i in by["seesaw:gold"]["result"] if i.get("type") == "statement"]
    assert {s["actor"] for s in statements} >= {AUTHOR, UNLISTED}
    canonical = {i["id"]: i["value"]["text"][0] for i in by["seesaw:gold"]["result"] if i.get("type") == "textarea"}
    spans = {i["id"]: i["value"]["text"] for i in by["seesaw:gold"]["result"] if i.get("type") == "labels"}
    assert ("Republican Party", "Republicans") in {(canonical[k], spans[k]) for k in spans}
    assert result.annotators["seesaw:C"] == {"annotations": 1, "statements": 0, "with_offsets": 0}


def test_python_m_corpus_import_seesaw_with_env_dir(tmp_path):
    env = {**__import__("os").environ, "SEESAW_DIR": str(MINI)}
    proc = subprocess.run([sys.executable, "-m", "corpus", "import", "seesaw", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert "articles: 4" in proc.stdout and (tmp_path / "o" / "articles" / "seesaw-902-0.json").is_file()


# --- the real release (../shared) -------------------------------------------------------------------------

@pytest.mark.shared
def test_real_release_reproduces_the_published_counts(seesaw_dir, tmp_path):
    out = tmp_path / "seesaw"
    result = import_seesaw(seesaw_dir, out)
    assert len(CorpusStore(out).article_ids()) == 609
    rows = _gold_statements(out)
    assert len(rows) == 10_619
    assert Counter(split for split, _, _ in rows) == {"train": 6_263, "validation": 2_436, "test": 1_920}
    assert Counter(stance for _, stance, _ in rows) == {"support": 3_995, "oppose": 6_624}
    assert sum(located for *_, located in rows) == result.with_offsets
    assert result.raw_labels == {"NEG": 6_624, "POS": 3_995}
    report = (out / "import-report.jsonl").read_text().splitlines()
    assert len(report) == 10_619 - result.with_offsets
    assert _check_spans(out) > 0


# --- download ---------------------------------------------------------------------------------------------

def _zip_of(folder: Path, archive: Path, prefix: str = "SEESAW-main/SEESAW/") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("SEESAW-main/README.md", "the repository's own readme\n")
        for path in sorted(folder.rglob("*.json")):
            zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def test_download_from_a_local_archive_then_from_the_cache(tmp_path):
    archive = _zip_of(MINI, tmp_path / "release.zip")
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["seesaw", str(tmp_path / "absent"), "--download", "--cache", str(cache), "--out", str(out)]
    res = runner.invoke(app, [*args, "--url", archive.as_uri()])
    assert res.exit_code == 0, res.output
    assert len(CorpusStore(out).article_ids()) == 4
    archive.unlink()  # a second run reuses the extracted cache, with no archive and no network
    res = runner.invoke(app, [*args, "--url", archive.as_uri()])
    assert res.exit_code == 0, res.output
    assert not (cache / "SEESAW-main").exists()  # only the SEESAW/ folder was extracted


def test_download_without_network_is_one_clear_line(tmp_path):
    with pytest.raises(ServiceError, match="cannot download the SEESAW release"):
        fetch_seesaw(tmp_path / "cache", "http://127.0.0.1:9/seesaw.zip", timeout=5)
    res = runner.invoke(app, ["seesaw", "--download", "--cache", str(tmp_path / "c"), "--out",
                              str(tmp_path / "o"), "--url", "http://127.0.0.1:9/seesaw.zip"], env={"SEESAW_DIR": ""})
    assert res.exit_code == 3
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: http://127.0.0.1:9/seesaw.zip: ")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("member, why", [
    ("SEESAW-main/../../evil.json", "unsafe member"),
    ("/etc/evil.json", "unsafe member"),
    ("link", "symbolic link"),
])
def test_unsafe_archives_are_refused_before_extracting(tmp_path, member, why):
    archive = _zip_of(MINI, tmp_path / "bad.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo(member)
        if member == "link":
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd" if member == "link" else "{}")
    with pytest.raises(InputError, match=why):
        extract_seesaw(archive, tmp_path / "x" / "SEESAW")
    assert not (tmp_path / "x" / "SEESAW").exists() and not (tmp_path / "evil.json").exists()


def test_archive_without_seesaw_folder_or_not_a_zip(tmp_path):
    archive = _zip_of(MINI, tmp_path / "other.zip", prefix="data/")
    with pytest.raises(InputError, match="no SEESAW/annotations/ folder"):
        fetch_seesaw(tmp_path / "cache", str(archive))
    (tmp_path / "junk.zip").write_text("not a zip")
    with pytest.raises(InputError, match="not a zip archive"):
        fetch_seesaw(tmp_path / "cache", str(tmp_path / "junk.zip"))


# --- bad input: one line, non-zero exit, nothing written -------------------------------------------------

def _broken(tmp_path: Path, how: str) -> Path:
    d = tmp_path / "SEESAW"
    shutil.copytree(MINI, d)
    ann = d / "annotations" / "TRIPLET_900_DOCUMENT_0.json"
    raw = json.loads(ann.read_text())
    if how == "no meta":
        shutil.rmtree(d / "meta")
    elif how == "not json":
        ann.write_text('{"title": "x",\n "entity lists": [}\n')
    elif how == "sentiment":
        raw["sentence-level stances"]["0"][0]["sentiment"] = "NEUTRAL"
        ann.write_text(json.dumps(raw))
    elif how == "sentence":
        raw["sentence-level stances"]["42"] = raw["sentence-level stances"]["0"]
        ann.write_text(json.dumps(raw))
    elif how == "field":
        del raw["sentence-level stances"]["0"][0]["object"]
        ann.write_text(json.dumps(raw))
    elif how == "article":
        (d / "articles" / ann.name).unlink()
    elif how == "split":
        meta = d / "meta" / "TRIPLET_900.json"
        meta.write_text(meta.read_text().replace('"train"', '"dev"'))
    elif how == "not utf8":
        ann.write_bytes(ann.read_bytes().replace(b"Maria", b"Mar\xeda"))
    return d


BAD = [
    ("missing dir", None, "SEESAW folder not found"),
    ("no meta", "no meta", "the 'meta' subfolder is missing"),
    ("not json", "not json", "TRIPLET_900_DOCUMENT_0.json:2: not valid JSON"),
    ("bad sentiment", "sentiment", "sentence 0, statement #0: sentiment 'NEUTRAL' is not one of POS, NEG"),
    ("unknown sentence", "sentence", "sentence 42, statement 0: no such sentence"),
    ("missing field", "field", "sentence 0, statement #0: missing field 'object'"),
    ("missing article", "article", "article file missing"),
    ("bad split", "split", "Split 'dev' is not one of train, valid, test"),
    ("not utf8", "not utf8", "not UTF-8 text"),
]


@pytest.mark.parametrize("case, how, message", BAD, ids=[b[0] for b in BAD])
def test_bad_release_one_line_and_nothing_written(tmp_path, case, how, message):
    directory = _broken(tmp_path, how) if how else tmp_path / "nowhere"
    out = tmp_path / "out"
    res = runner.invoke(app, ["seesaw", str(directory), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_out_is_replaced_only_when_an_import_made_it(tmp_path):
    out = tmp_path / "out"
    import_seesaw(MINI, out)
    import_seesaw(MINI, out)  # re-running replaces its own earlier output
    before = sorted(p.name for p in (out / "articles").iterdir())
    with pytest.raises(InputError):
        import_seesaw(_broken(tmp_path, "sentiment"), out)
    assert sorted(p.name for p in (out / "articles").iterdir()) == before  # the failed run left it intact
    precious = tmp_path / "corpus"
    (precious / "articles").mkdir(parents=True)
    (precious / "articles" / "keep.json").write_text("{}")
    with pytest.raises(InputError, match="not empty"):
        import_seesaw(MINI, precious)
    assert (precious / "articles" / "keep.json").is_file()
