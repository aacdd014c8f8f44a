"""`corpus import table`: CSV, TSV, JSONL and JSON tables, the label map, and one clear error per bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.codebook import load_codebook
from corpus.errors import InputError
from corpus.importers.cli import app
from corpus.importers.table import Columns, import_table, parse_label_map
from corpus.store import CorpusStore
from corpus.validate import validate_store

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tests" / "fixtures" / "tables"
CSV_ARGS = ["--text", "text", "--target", "target", "--label", "stance", "--actor", "speaker", "--group", "story",
            "--split", "split", "--map", "FAVOR=support", "--map", "AGAINST=oppose", "--map", "NONE=neutral"]
runner = CliRunner()


def _gold(out: Path) -> list[tuple[dict, dict]]:
    """(task data, statement-like item) for every relation and statement item written under `out`."""
    store = CorpusStore(out)
    found = []
    for path in store.task_files():
        task = store.read_task(path)
        (ann,) = task["annotations"]
        assert ann["ground_truth"] and ann["annotator"] == "gold"
        text = store.read_article(task["data"]["article_id"]).text
        for item in ann["result"]:
            if item.get("type") == "labels":
                v = item["value"]
                assert text[v["start"]:v["end"]] == v["text"]
            if item.get("type") in ("relation", "statement"):
                found.append((task["data"], item))
    return found


def test_csv_end_to_end_through_python_m_corpus(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "corpus", "import", "table", str(TABLES / "stance.csv"),
                           "--out", str(out), *CSV_ARGS], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "statements: 6 (train 3, validation 2, test 1)" in proc.stdout
    items = _gold(out)
    assert len(items) == 6
    assert len(CorpusStore(out).article_ids()) == 5  # rows 1 and 2 share their text: one article
    stances = Counter(i["labels"][0] if i["type"] == "relation" else i["value"]["stance"] for _, i in items)
    assert stances == {"oppose": 3, "support": 2, "neutral": 1}
    assert {d["split"] for d, _ in items} == {"train", "validation", "test"}  # dev -> validation
    assert sum(i["type"] == "relation" for _, i in items) == 4
    authors = [i["value"] for _, i in items if i["type"] == "statement"]
    assert {a["actor"] for a in authors} == {"(author)"}
    assert validate_store(CorpusStore(out), load_codebook()).ok


def test_codebook_ids_are_normalised_to_the_codebook(tmp_path):
    import_table(TABLES / "stance.csv", tmp_path / "o", Columns("text", "target", "stance", "speaker", "story", "split"),
                 parse_label_map(["FAVOR=support", "AGAINST=oppose", "NONE=neutral"]))
    store = CorpusStore(tmp_path / "o")
    items = [i for path in store.task_files() for i in store.read_task(path)["annotations"][0]["result"]]
    choices = {(i["from_name"], i["value"]["choices"][0]) for i in items if i.get("type") == "choices"}
    assert {("actor", "claudia_sheinbaum"), ("policy", "us_troops_in_mexico"), ("actor", "heritage_foundation"),
            ("policy", "joint_military_operations")} <= choices
    groups = {store.read_article(a).group for a in store.article_ids()}
    assert groups == {"stance-s1", "stance-s2", "stance-s3"}


def test_tsv_jsonl_and_json(tmp_path):
    r = import_table(TABLES / "stance.tsv", tmp_path / "tsv", Columns("text", "target", "label"),
                     {"FAVOR": "support", "AGAINST": "oppose"})
    assert (r.articles, r.statements, r.stances) == (2, 2, {"oppose": 1, "support": 1})
    r = import_table(TABLES / "stance.jsonl", tmp_path / "jsonl", Columns("tweet", "topic", "y", split="split"),
                     {"1": "support", "-1": "oppose", "0": "neutral"})
    assert (r.articles, r.statements, r.raw_labels) == (3, 3, {"-1": 1, "0": 1, "1": 1})
    assert r.statements_by_split == {"train": 1, "unassigned": 2}
    r = import_table(TABLES / "stance.json", tmp_path / "json", Columns("text", "target", "stance", "actor"))
    assert (r.articles, r.with_offsets, r.by_strategy) == (2, 2, {"exact": 2})
    report = (tmp_path / "jsonl" / "import-report.jsonl").read_text().splitlines()
    assert [json.loads(line)["row"] for line in report] == [1, 3, 4]  # JSONL rows are named by line


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


HEADER = "text,target,stance\n"
BAD = [
    ("missing file", "absent.csv", None, [], "absent.csv: file not found"),
    ("not utf8", "latin.csv", HEADER.encode() + b"Caf\xe9 policy,tax,FAVOR\n", [], "latin.csv:2: not UTF-8 text"),
    ("empty file", "empty.csv", "  \n", [], "empty.csv: file is empty"),
    ("header only", "header.csv", HEADER, [], "header.csv: no data rows"),
    ("jsonl missing field", "rows.jsonl", '{"text": "a", "target": "t", "stance": "FAVOR"}\n{"text": "b", "stance": '
     '"FAVOR"}\n', [], "rows.jsonl:2: missing field 'target'"),
    ("jsonl not json", "rows.jsonl", '{"text": "a", "target": "t", "stance": "FAVOR"}\n{"text": "b",\n', [],
     "rows.jsonl:2: not valid JSON"),
    ("jsonl not object", "rows.jsonl", '["text"]\n', [], "rows.jsonl:1: each line must be a JSON object"),
    ("unknown column", "t.csv", HEADER + "a,t,FAVOR\n", ["--actor", "speaker"],
     "t.csv: --actor column 'speaker' is not in the file; available columns: text, target, stance"),
    ("label outside codebook", "t.csv", HEADER + "a,t,FAVOR\nb,t,MAYBE\n", [],
     "t.csv: 1 label is not a stance in the codebook (support, oppose, neutral): 'MAYBE' (1 row, first line 3); "
     "add --map MAYBE=LABEL"),
    ("every unmapped label at once", "t.csv", HEADER + "a,t,PRO\nb,t,CON\nc,t,PRO\nd,t,FAVOR\n", [],
     "t.csv: 2 labels are not a stance in the codebook (support, oppose, neutral): 'PRO' (2 rows, first line 2); "
     "'CON' (1 row, first line 3); add --map CON=LABEL --map PRO=LABEL"),
    ("same text in two splits, --on-duplicate error", "d.csv",
     "text,target,stance,split\na,t,FAVOR,train\nb,t,FAVOR,train\na,u,FAVOR,test\n",
     ["--split", "split", "--on-duplicate", "error"],
     "d.csv:4: the same text as line 2 is in split 'test' here and 'train' there"),
    ("unknown --on-duplicate", "t.csv", HEADER + "a,t,FAVOR\n", ["--on-duplicate", "keep"],
     "--on-duplicate: must be one of drop-train, report, error, got 'keep'"),
    ("malformed map", "t.csv", HEADER + "a,t,FAVOR\n", ["--map", "FAVOR"], "--map: 'FAVOR' is not RAW=LABEL"),
    ("map to a non-stance", "t.csv", HEADER + "a,t,FAVOR\n", ["--map", "NONE=like"],
     "--map: NONE=like: 'like' is not a stance in the codebook"),
    ("empty text", "t.csv", HEADER + "a,t,FAVOR\n ,t,FAVOR\n", [], "t.csv:3: field 'text' is empty"),
    ("ragged row", "t.csv", HEADER + "a,t,FAVOR,extra\n", [], "t.csv:2: 4 fields, the header has 3"),
    ("unknown split", "s.csv", "text,target,stance,split\na,t,FAVOR,holdout\n", ["--split", "split"],
     "s.csv:2: split 'holdout' is not one of"),
    ("group straddles splits", "g.csv", "text,target,stance,g,split\na,t,FAVOR,x,train\nb,t,FAVOR,x,test\n",
     ["--group", "g", "--split", "split"], "g.csv:3: group 'x' is in split 'train'"),
    ("unknown format", "t.xlsx", "x", [], "t.xlsx: unknown table format '.xlsx'"),
    ("json not a list", "t.json", '{"text": "a"}', [], "t.json: a .json table must be a list of objects"),
]


@pytest.mark.parametrize("case, name, content, extra, message", BAD, ids=[b[0] for b in BAD])
def test_bad_table_one_line_error_and_nothing_written(tmp_path, case, name, content, extra, message):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    out = tmp_path / "out"
    args = ["table", str(path), "--out", str(out), "--text", "text", "--target", "target", "--label", "stance",
            "--map", "FAVOR=support", *extra]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_parse_label_map():
    assert parse_label_map(["FAVOR=support", " NONE = neutral "]) == {"FAVOR": "support", "NONE": "neutral"}
    for bad in (["=support"], ["FAVOR="], ["FAVOR=support", "FAVOR=oppose"]):
        with pytest.raises(InputError):
            parse_label_map(bad)


def _import(tmp_path: Path, content: str, **kwargs) -> tuple[object, CorpusStore, list[dict], dict]:
    path = _write(tmp_path, "dup.csv", content)
    split = "split" if "split" in content.splitlines()[0] else None
    group = "g" if ",g" in content.splitlines()[0] else None
    result = import_table(path, tmp_path / "out", Columns("text", "target", "stance", group=group, split=split),
                          {"FAVOR": "support", "AGAINST": "oppose"}, **kwargs)
    report = [json.loads(x) for x in (tmp_path / "out" / "import-report.jsonl").read_text().splitlines()]
    report = [r for r in report if r["reason"] == "duplicate_text_across_splits"]  # not the offset-less lines
    summary = json.loads((tmp_path / "out" / "import-summary.json").read_text())
    return result, CorpusStore(tmp_path / "out"), report, summary


def _rows_by_article(store: CorpusStore) -> dict[str, tuple[str, str | None, list[int]]]:
    out = {}
    for a in store.article_ids():
        art = store.read_article(a)
        out[a] = (art.text, art.split, art.extra["table"]["rows"])
    return out


def test_duplicate_texts_across_groups_become_one_article_per_group(tmp_path):
    result, store, report, summary = _import(
        tmp_path, "text,target,stance,g\nSame words.,a,FAVOR,g1\nSame words.,b,AGAINST,g2\nOther.,c,FAVOR,g2\n"
                  "Third.,d,FAVOR,g3\n")
    arts = _rows_by_article(store)
    assert sorted(rows for _, _, rows in arts.values()) == [[2], [3], [4], [5]]  # every row, one per (text, group)
    assert result.statements == 4 and summary["duplicates"]["texts_in_several_groups"] == 1
    groups = {rows[0]: store.read_article(a).group for a, (_, _, rows) in arts.items()}
    # no split column: groups sharing a text are merged, so the build keeps every copy of it in one split
    assert groups[2] == groups[3] == groups[4] == "dup-g1" and groups[5] == "dup-g3"
    assert report == []


def test_a_text_in_train_and_test_keeps_the_test_copy_by_default(tmp_path):
    result, store, report, summary = _import(
        tmp_path, "text,target,stance,split\nLeaky.,a,FAVOR,train\nLeaky.,b,AGAINST,test\nLeaky.,c,FAVOR,dev\n"
                  "Clean.,d,FAVOR,train\n")
    arts = _rows_by_article(store)
    assert sorted((text, split, rows) for text, split, rows in arts.values()) == [
        ("Clean.", "train", [5]), ("Leaky.", "test", [3])]
    assert [(r["row"], r["split"], r["action"], r["same_text_as"]) for r in report] == [
        (2, "train", "dropped", 3), (3, "test", "kept", 2), (4, "validation", "dropped", 3)]
    assert all(r["reason"] == "duplicate_text_across_splits" for r in report)
    d = summary["duplicates"]
    assert (d["rows_read"], d["rows_imported"], d["rows_dropped"], d["texts_in_several_splits"]) == (4, 2, 2, 1)
    assert d["rows_read"] == d["rows_imported"] + d["rows_dropped"]  # every row imported or listed as dropped
    assert result.statements_by_split == {"train": 1, "test": 1}


def test_on_duplicate_report_keeps_every_copy_and_lists_them(tmp_path):
    result, store, report, summary = _import(
        tmp_path, "text,target,stance,split\nLeaky.,a,FAVOR,train\nLeaky.,b,AGAINST,test\nClean.,d,FAVOR,train\n",
        on_duplicate="report")
    arts = _rows_by_article(store)
    assert sorted((split, rows) for _, split, rows in arts.values()) == [("test", [3]), ("train", [2]), ("train", [4])]
    assert len(set(arts)) == 3  # the two copies of the text are two articles with their own ids
    assert [(r["row"], r["action"]) for r in report] == [(2, "kept"), (3, "kept")]
    assert summary["duplicates"]["rows_dropped"] == 0 and result.statements == 3


def test_duplicate_texts_within_a_split_share_one_article(tmp_path):
    result, store, report, _ = _import(
        tmp_path, "text,target,stance,g,split\nTwice.,a,FAVOR,g1,train\nTwice.,b,AGAINST,g1,train\n"
                  "Twice.,c,FAVOR,g2,train\nOnce.,d,FAVOR,g3,test\n")
    arts = _rows_by_article(store)
    assert sorted(rows for _, _, rows in arts.values()) == [[2, 3], [4], [5]]
    assert result.statements == 4 and report == []


def test_a_text_under_two_groups_in_train_and_test_drops_the_train_copy(tmp_path):
    _, store, report, _ = _import(
        tmp_path, "text,target,stance,g,split\nShared.,a,FAVOR,g1,train\nShared.,b,FAVOR,g2,test\n"
                  "Own.,c,AGAINST,g1,train\n")
    assert sorted((split, rows) for _, split, rows in _rows_by_article(store).values()) == [
        ("test", [3]), ("train", [4])]
    assert [(r["row"], r["action"]) for r in report] == [(2, "dropped"), (3, "kept")]


def test_the_cli_says_how_many_rows_were_read_imported_and_dropped(tmp_path):
    path = _write(tmp_path, "dup.csv", "text,target,stance,split\nLeaky.,a,FAVOR,train\nLeaky.,b,AGAINST,test\n")
    res = runner.invoke(app, ["table", str(path), "--out", str(tmp_path / "o"), "--text", "text", "--target",
                              "target", "--label", "stance", "--split", "split", "--map", "FAVOR=support",
                              "--map", "AGAINST=oppose"])
    assert res.exit_code == 0, res.output
    assert "rows: 2 read, 1 imported, 1 dropped as copies of a held-out text; 1 text(s) in several splits" \
        in res.stdout and "import-report.jsonl" in res.stdout
