"""`corpus build` end to end: a Label Studio export of the real shape, the bundled corpus, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from corpus.build import BuildOptions, build_dataset
from corpus.build_cli import build_command
from corpus.digest import dataset_digest
from corpus.errors import InputError
from tests.fixtures.exports import make

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "tests" / "fixtures" / "exports" / "ls_export.json"
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "dataset"
    build_dataset(BuildOptions(out=out, sources=[EXPORT], seed=3))
    return out


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("build")(build_command)
    app.command("noop")(lambda: None)  # keep `build` a sub-command, as in corpus.cli
    return app


def rows(path: Path, config: str) -> list[dict]:
    from datasets import load_from_disk

    dd = load_from_disk(str(path / config))
    assert list(dd) == list(SPLITS)
    return [dict(r, _split=s) for s in SPLITS for r in dd[s]]


def test_every_relation_is_a_row_or_a_rejection_line(built: Path) -> None:
    raw = json.loads(EXPORT.read_text())
    statements = rows(built, "statements")
    rejections = [json.loads(line) for line in (built / "rejections.jsonl").read_text().splitlines()]
    assert len(statements) + sum(r["relations"] for r in rejections) == make.EXPECTED_RELATIONS_IN
    per_article: dict[str, int] = {}
    for r in statements:
        per_article[r["article_id"]] = per_article.get(r["article_id"], 0) + 1
    assert per_article == make.EXPECTED_STATEMENTS
    by_reason: dict[str, int] = {}
    for r in rejections:
        if r["relations"]:
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + r["relations"]
        assert r["task_id"] in {t["id"] for t in raw}
    assert by_reason == make.EXPECTED_REJECTED
    # every relation of a converted annotation is present, by its span ids
    converted = {(r["task_id"], r["annotation_id"]) for r in statements}
    for t in raw:
        for ann in t["annotations"]:
            if (t["id"], str(ann["id"])) not in converted:
                continue
            for item in ann["result"]:
                if item["type"] == "relation":
                    key = f"{item['from_id']}>{item['to_id']}"
                    assert any(r["id"].endswith(key) for r in statements) or any(
                        r["item"] == key and r["task_id"] == t["id"] for r in rejections), key


def test_context_slices_equal_the_mentions(built: Path) -> None:
    articles = {a["id"]: a["text"] for a in rows(built, "articles")}
    statements = rows(built, "statements")
    assert statements
    for r in statements:
        if r["actor_start"] is None:
            continue
        text, ctx = articles[r["article_id"]], r["context"]
        assert text[r["context_start"]:r["context_start"] + len(ctx)] == ctx
        assert ctx[r["actor_context_start"]:r["actor_context_end"]] == r["actor_mention"]
        assert ctx[r["policy_context_start"]:r["policy_context_end"]] == r["policy_mention"]
        assert text[r["actor_start"]:r["actor_end"]] == r["actor_mention"]
        assert text[r["policy_start"]:r["policy_end"]] == r["policy_mention"]


def test_splits_are_grouped_and_articles_carry_them(built: Path) -> None:
    articles = rows(built, "articles")
    split_of = {a["id"]: a["_split"] for a in articles}
    assert all(a["split"] == a["_split"] for a in articles)
    for config in ("statements", "mentions"):
        assert all(r["_split"] == split_of[r["article_id"]] for r in rows(built, config))
    manifest = json.loads((built / "splits.json").read_text())
    assert set(manifest["articles"]) == set(split_of)
    unannotated = next(a for a in articles if a["id"] == "ex-006")
    assert unannotated["annotation_id"] is None and unannotated["statements"] == 0


def test_loads_with_load_from_disk_and_parquet(built: Path) -> None:
    from datasets import load_dataset, load_from_disk

    for config in ("statements", "mentions", "articles"):
        on_disk = load_from_disk(str(built / config))
        files = {s: str(built / "parquet" / config / f"{s}.parquet") for s in SPLITS if on_disk[s].num_rows}
        parquet = load_dataset("parquet", data_files=files)
        for split in files:
            assert parquet[split].features == on_disk[split].features
            assert parquet[split].to_list() == on_disk[split].to_list()
        via_card = load_dataset(str(built), config)  # the card's `configs` metadata
        assert {s: d.num_rows for s, d in via_card.items()} == {s: on_disk[s].num_rows for s in files}
    stance = load_from_disk(str(built / "statements"))["train"].features["stance"]
    from corpus.codebook import load_codebook

    assert stance.names == load_codebook().stance_names


def test_card_digest_and_sources(built: Path) -> None:
    import yaml

    card = (built / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    digest = dataset_digest(built, verify=True)
    assert meta["newsstance"]["digest"] == digest == json.loads((built / "digest.json").read_text())["digest"]
    assert meta["newsstance"]["codebook_version"] == "1.0.0"
    assert meta["newsstance"]["sources"][0]["sha256"].startswith("sha256:")
    for needle in ("## Stance labels per split", "CC0 test fixture", "needs_adjudication", "## Features",
                   "ClassLabel(support, oppose, neutral)"):
        assert needle in card
    sources = json.loads((built / "sources.json").read_text())
    assert sources[0]["files"][0]["path"] == "ls_export.json"


def test_rebuild_is_identical_and_digest_detects_changes(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    result = build_dataset(BuildOptions(out=out, sources=[EXPORT], seed=3))
    assert result.digest == dataset_digest(built)
    import pyarrow.parquet as pq

    path = out / "parquet" / "statements" / "train.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)
    with pytest.raises(InputError, match="differs from the recorded"):
        dataset_digest(out, verify=True)


def test_new_articles_do_not_move_old_ones(tmp_path: Path) -> None:
    raw = json.loads(EXPORT.read_text())
    first = tmp_path / "first.json"
    first.write_text(json.dumps(raw[:5]))
    manifest = tmp_path / "splits.json"
    build_dataset(BuildOptions(out=tmp_path / "a", sources=[first], manifest=manifest, seed=1))
    old = json.loads(manifest.read_text())["groups"]
    build_dataset(BuildOptions(out=tmp_path / "b", sources=[EXPORT], manifest=manifest, seed=2))
    new = json.loads(manifest.read_text())["groups"]
    assert {g: new[g] for g in old} == old and len(new) == len(raw)
    # without --manifest, the previous build's own splits.json is reused
    build_dataset(BuildOptions(out=tmp_path / "a", sources=[EXPORT], seed=99))
    again = json.loads((tmp_path / "a" / "splits.json").read_text())["groups"]
    assert {g: again[g] for g in old} == old


def test_agreement_figures_go_into_the_card(tmp_path: Path) -> None:
    agreement = tmp_path / "agreement.json"
    agreement.write_text(json.dumps({"stance_alpha": 0.71, "span_f1_exact": 0.8, "pairs": [{"a": 1}]}))
    build_dataset(BuildOptions(out=tmp_path / "ds", sources=[EXPORT], agreement=agreement))
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "## Agreement between annotators" in card and "| `stance_alpha` | 0.71 |" in card
    assert json.loads((tmp_path / "ds" / "agreement.json").read_text())["stance_alpha"] == 0.71


def test_bundled_corpus_builds_and_says_the_splits_are_empty(tmp_path: Path) -> None:
    out = tmp_path / "bundled"
    res = CliRunner().invoke(_cli(), ["build", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "validation and test are empty" in res.output
    assert "validation and test are empty" in (out / "README.md").read_text()
    statements = rows(out, "statements")
    assert statements and {r["_split"] for r in statements} == {"train"}
    assert any(r["actor_id"] == "claudia_sheinbaum" and r["policy_id"] == "us_troops_in_mexico"
               and r["stance"] == 1 for r in statements)  # Sheinbaum opposes US troops
    import pyarrow.parquet as pq

    assert pq.read_table(out / "parquet" / "statements" / "test.parquet").num_rows == 0


@pytest.mark.parametrize(("content", "message"), [
    ("not json at all", "not valid JSON"),
    ("", "file is empty"),
    ("[]", "holds no tasks"),
    ('{"tasks": []}', "expected a list of tasks"),
    (b"\xff\xfe[]", "not UTF-8"),
])
def test_bad_exports_give_one_line_naming_the_file(tmp_path: Path, content: str | bytes, message: str) -> None:
    bad = tmp_path / "export.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    res = CliRunner().invoke(_cli(), ["build", str(bad), "--out", str(out)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and message in lines[0], res.output
    assert not out.exists()


def test_a_pulled_export_is_checked_against_its_manifest(tmp_path: Path) -> None:
    from corpus.sources import read_export
    from corpus.store import PULL_MANIFEST, sha256_file

    export = tmp_path / "p.json"
    shutil.copy(EXPORT, export)
    manifest = tmp_path / PULL_MANIFEST
    line = json.dumps({"file": export.name, "sha256": sha256_file(export)}) + "\n"
    manifest.write_text(json.dumps({"file": "other.json", "sha256": "0" * 64}) + "\n\n" + line)
    source, items = read_export(export)  # listed and unchanged; another file's entry is not this one's
    assert source.tasks == len(items) > 0
    manifest.write_text(line + "[1]\n")
    with pytest.raises(InputError, match=f"{PULL_MANIFEST}:2: a manifest line must be an object"):
        read_export(export)
    manifest.write_text(line)
    export.write_text(EXPORT.read_text() + "\n")
    with pytest.raises(InputError, match="changed since it was pulled"):
        read_export(export)


def test_other_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        build_dataset(BuildOptions(out=tmp_path / "o", sources=[tmp_path / "missing.json"]))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="not a corpus folder"):
        build_dataset(BuildOptions(out=tmp_path / "o", sources=[tmp_path / "empty_dir"]))
    with pytest.raises(InputError, match="--context-window"):
        BuildOptions(out=tmp_path / "o", context_window=-1)
    bad_split = tmp_path / "split.json"
    raw = json.loads(EXPORT.read_text())
    raw[0]["data"]["split"] = "holdout"
    bad_split.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="holdout"):
        build_dataset(BuildOptions(out=tmp_path / "o", sources=[bad_split]))
    assert not (tmp_path / "o").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a dataset built by"):
        build_dataset(BuildOptions(out=precious, sources=[EXPORT]))
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus" / "articles", corpus / "articles")
    shutil.copytree(REPO / "corpus" / "annotations", corpus / "annotations")
    with pytest.raises(InputError, match="replace the source"):
        build_dataset(BuildOptions(out=corpus, sources=[corpus]))
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_failed_build_leaves_the_previous_dataset_intact(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = build_dataset(BuildOptions(out=out, sources=[EXPORT]))
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    with pytest.raises(InputError):
        build_dataset(BuildOptions(out=out, sources=[bad]))
    assert dataset_digest(out, verify=True) == first.digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "ds"]  # no temporary left behind


def test_duplicate_and_mismatched_tasks_are_rejected_not_merged(tmp_path: Path) -> None:
    raw = json.loads(EXPORT.read_text())
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([raw[0], {**raw[0], "id": 999}]))
    res = build_dataset(BuildOptions(out=tmp_path / "o", sources=[dup]))
    assert res.rejections["duplicate_article"] == 1 and res.rejected_relations == 3
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus" / "articles", corpus / "articles")
    shutil.copytree(REPO / "corpus" / "annotations", corpus / "annotations", ignore=shutil.ignore_patterns("exports"))
    task_path = corpus / "annotations" / "article-001.json"
    task = json.loads(task_path.read_text())
    task["data"]["text"] = task["data"]["text"].replace("Sheinbaum", "Sheinbaun", 1)
    task_path.write_text(json.dumps(task))
    with pytest.raises(InputError) as err:  # its only task rejected: nothing converts, nothing is written
        build_dataset(BuildOptions(out=tmp_path / "o2", sources=[corpus]))
    assert "nothing converted" in err.value.what and "task_text_mismatch 1" in err.value.what
    assert not (tmp_path / "o2").exists()


@pytest.mark.slow
def test_python_m_corpus_build(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "corpus", "build", str(EXPORT), "--out", str(out),
                           "--context-window", "1", "--seed", "5"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "HF_DATASETS_OFFLINE": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "statements  train" in proc.stdout and "digest      sha256:" in proc.stdout
    assert dataset_digest(out, verify=True) in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "corpus", "build", str(tmp_path / "nope.json"), "--out",
                          str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no such file" in bad.stderr


def test_mention_rows_slice_their_tokens_and_tags_match_spans(built: Path) -> None:
    from datasets import load_from_disk

    mentions = rows(built, "mentions")
    names = load_from_disk(str(built / "mentions"))["train"].features["tags"].feature.names
    articles = {a["id"]: a["text"] for a in rows(built, "articles")}
    for r in mentions:
        assert articles[r["article_id"]][r["start"]:r["end"]] == r["text"]
        assert [r["text"][s:e] for s, e in zip(r["token_starts"], r["token_ends"], strict=True)] == r["tokens"]
    ex8 = [[(t, names[g]) for t, g in zip(r["tokens"], r["tags"], strict=True) if g] for r in mentions
           if r["article_id"] == "ex-008"]
    assert ex8 == [[], [("Sheinbaum", "B-Actor"), ("U", "B-Policy"), (".", "I-Policy"), ("S", "I-Policy"),
                        (".", "I-Policy"), ("military", "I-Policy"), ("assistance", "I-Policy")],
                   [("Trump", "B-Actor")]]


def test_digest_ignores_chunking_and_slicing() -> None:
    import pyarrow as pa

    from corpus.codebook import load_codebook
    from corpus.digest import content_digest
    from corpus.tables import mention_features

    feats = {"mentions": mention_features(load_codebook())}
    schema = feats["mentions"].arrow_schema
    data = {"id": ["a/0", "a/1", "b/0"], "article_id": ["a", "a", None], "sentence": [0, 1, 0], "start": [0, 5, 0],
            "end": [4, 9, 3], "text": ["x y", "", "z"], "tokens": [["x", "y"], [], ["z"]],
            "token_starts": [[0, 2], [], [0]], "token_ends": [[1, 3], [], [1]], "tags": [[1, 0], [], [0]]}
    table = pa.Table.from_pydict(data, schema=schema)
    padded = pa.Table.from_pydict({k: [v[0], *v] for k, v in data.items()}, schema=schema).slice(1)
    rechunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    empty = pa.Table.from_pylist([], schema=schema)

    def digest(t: pa.Table) -> str:
        return content_digest({"mentions": {"train": t, "validation": empty, "test": empty}}, feats)

    assert digest(table) == digest(padded) == digest(rechunked)
    changed = pa.Table.from_pydict({**data, "tokens": [["x", "y"], [], ["Z"]]}, schema=schema)
    assert digest(changed) != digest(table)
    nulled = pa.Table.from_pydict({**data, "article_id": ["a", "a", ""]}, schema=schema)
    assert digest(nulled) != digest(table)  # null and "" differ
