"""The statements dataset as training reads it, and prediction inputs: errors name the path, split, row or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.codebook import load_codebook
from corpus.errors import InputError
from tests.training.conftest import save_statements, statement_rows
from training.data import load_statements, rows_from_file, split_spec

NAMES = load_codebook().stance_names


def test_load_statements_reads_labels_and_digest(statements_dataset: Path) -> None:
    data = load_statements(statements_dataset, ["train", "validation"], NAMES, {"train": 10})
    assert len(data.splits["train"]) == 10 and len(data.splits["validation"]) == 16
    assert set(data.labels["train"]) <= set(NAMES) and data.digest == "sha256:" + "ab" * 32
    assert load_statements(statements_dataset / "statements", ["test"], NAMES).path == data.path


def test_missing_folder_split_and_empty_split(tmp_path: Path, statements_dataset: Path) -> None:
    with pytest.raises(InputError, match="dataset folder not found"):
        load_statements(tmp_path / "nowhere", ["train"], NAMES)
    with pytest.raises(InputError, match="not a dataset"):
        load_statements(tmp_path, ["train"], NAMES)
    with pytest.raises(InputError, match="missing split 'dev'"):
        load_statements(statements_dataset, ["train", "dev"], NAMES)
    root = save_statements(tmp_path / "empty", {"train": statement_rows("train", 8), "validation": []})
    with pytest.raises(InputError, match=r"\[validation\]: split is empty"):
        load_statements(root, ["train", "validation"], NAMES)


def test_labels_outside_the_codebook(tmp_path: Path) -> None:
    names = ["support", "oppose", "maybe"]
    root = save_statements(tmp_path / "odd", {"train": statement_rows("train", 8)}, names=names)
    with pytest.raises(InputError, match="stance label 'maybe' is not in the codebook"):
        load_statements(root, ["train"], NAMES)


def test_without_digest_json_a_fingerprint_digest_is_used(tmp_path: Path) -> None:
    root = save_statements(tmp_path / "nodigest", {"train": statement_rows("train", 8)}, digest=None)
    digest = load_statements(root, ["train"], NAMES).digest
    assert len(digest) == 64 and digest == load_statements(root, ["train"], NAMES).digest
    (root / "digest.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match="digest.json: expected a JSON object"):
        load_statements(root, ["train"], NAMES)


def test_rows_from_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(json.dumps({"text": "Trump backs the wall.", "actor": "Trump", "policy": "the wall"}) + "\n\n",
                     encoding="utf-8")
    (row,) = rows_from_file(jsonl)
    assert (row["actor_context_start"], row["actor_context_end"], row["policy_context_start"]) == (0, 5, 12)
    csv = tmp_path / "rows.csv"
    csv.write_text("text,actor,policy,stance\nThey oppose it.,Mexico,troops,oppose\n", encoding="utf-8")
    (row,) = rows_from_file(csv)
    assert row["actor_context_start"] is None and row["stance"] == "oppose" and row["context"] == "They oppose it."


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.jsonl", '{"text": "x", "actor": "a"}\n', r"a.jsonl:1: missing field 'policy'"),
    ("b.jsonl", "{not json\n", r"b.jsonl:1: not valid JSON"),
    ("c.jsonl", "[1, 2]\n", r"c.jsonl:1: each line must be a JSON object"),
    ("d.csv", "text,actor\nx,y\n", r"d.csv:2: missing field 'policy'"),
    ("e.txt", "x", "expected DATASET:split, a .jsonl or a .csv file"),
    ("f.jsonl", "\n", "no rows"),
])
def test_bad_prediction_inputs(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        rows_from_file(path)


def test_split_spec(statements_dataset: Path, tmp_path: Path) -> None:
    assert split_spec(f"{statements_dataset}:test") == (str(statements_dataset), "test")
    assert split_spec(str(tmp_path / "rows.jsonl")) is None
    assert split_spec(f"{tmp_path / 'missing'}:test") is None
