"""Data safety: pulled exports are written once, never overwritten, never changed by reading them, and their
sha256 (in the exports manifest) is verified on read, so an export changed after the pull is noticed; the corpus
store and a built dataset carry checksums that notice a changed article or a changed Parquet file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from corpus.errors import InputError
from tests.reliability import build_small_dataset, make_corpus, one_line_error, tree_snapshot


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pulled(label_studio: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project pushed with gold annotations and pulled twice into a fresh exports folder."""
    from annotation.cli import app

    url, token = label_studio
    root = tmp_path_factory.mktemp("data-safety")
    make_corpus(root / "corpus", 4)
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}
    runner = CliRunner()
    project = "data-safety"
    assert runner.invoke(app, ["push", "--project", project, "--source", str(root / "corpus"),
                               "--with-annotations"], env=env).exit_code == 0
    exports = root / "exports"
    first = runner.invoke(app, ["pull", "--project", project, "--out", str(exports)], env=env)
    assert first.exit_code == 0, first.output
    files_1 = {p.name: p.read_bytes() for p in exports.glob("*.json")}
    second = runner.invoke(app, ["pull", "--project", project, "--out", str(exports)], env=env)
    assert second.exit_code == 0, second.output
    return {"exports": exports, "files_1": files_1, "root": root}


@pytest.mark.labelstudio
@pytest.mark.slow
def test_pull_never_overwrites_and_records_checksums(pulled: dict[str, Any],
                                                     record_property: Callable[[str, Any], None]) -> None:
    exports = pulled["exports"]
    files = sorted(exports.glob("*.json"))
    assert len(files) == 2, "the second pull must write a second file"
    for name, data in pulled["files_1"].items():
        assert (exports / name).read_bytes() == data, "the first export changed"
    manifest = [json.loads(line) for line in (exports / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(manifest) == 2 and {m["file"] for m in manifest} == {f.name for f in files}
    for entry in manifest:
        assert entry["sha256"] == _sha(exports / entry["file"]), "the manifest's checksum does not match the file"
        assert entry["tasks"] == 4 and entry["annotations"] == 4
    record_property("checked", "2 pulls -> 2 files; first unchanged; manifest sha256 == file sha256 for both")


def test_write_new_never_replaces_a_file(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "writing an export under an existing name writes NAME-2; the original is unchanged; "
                               "no temporary file")
    from annotation.pull import write_new

    target = tmp_path / "p-20250101T000000Z-abc.json"
    target.write_bytes(b"the first export")
    written = write_new(target, b"another export with the same name")
    assert written != target and written.name.endswith("-2.json")
    assert target.read_bytes() == b"the first export"
    assert {p.name for p in tmp_path.iterdir()} == {target.name, written.name}, "a temporary file remains"


CHANGES = {
    "label-edited": lambda raw: raw.replace(b'"support"', b'"oppose"', 1),
    "truncated": lambda raw: raw[: len(raw) // 2],
    "one-byte-appended": lambda raw: raw + b" ",
}


@pytest.mark.labelstudio
@pytest.mark.slow
@pytest.mark.parametrize("change", list(CHANGES))
def test_changed_export_is_noticed_on_read(change: str, pulled: dict[str, Any], tmp_path: Path,
                                           record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", f"pulled export {change} after the pull")
    from annotation.cli import app
    from annotation.export import load_tasks

    exports = tmp_path / "exports"
    shutil.copytree(pulled["exports"], exports)  # a private copy: the manifest travels with it
    export = exports / sorted(pulled["files_1"])[0]
    original = export.read_bytes()
    export.write_bytes(CHANGES[change](original))
    with pytest.raises(InputError) as err:
        load_tasks(export)
    assert "changed since it was pulled" in str(err.value)
    for args in (["agreement", str(export)], ["validate", str(export)],
                 ["adjudicate", str(export), "--out", str(tmp_path / "gold.json")]):
        before = tree_snapshot(tmp_path)
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        line = one_line_error(result.stderr, result.stdout)
        assert export.name in line and "changed since it was pulled" in line
        assert tree_snapshot(tmp_path) == before
    record_property("outcome", "agreement, validate, adjudicate: " + line.replace(str(tmp_path), "$TMP"))


@pytest.mark.labelstudio
@pytest.mark.slow
def test_build_notices_a_changed_export(pulled: dict[str, Any], tmp_path: Path,
                                        record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", 'corpus build of an export changed after the pull')
    from corpus.cli import app

    exports = tmp_path / "exports"
    shutil.copytree(pulled["exports"], exports)
    export = exports / sorted(pulled["files_1"])[0]
    export.write_bytes(export.read_bytes().replace(b'"support"', b'"oppose"', 1))
    result = CliRunner().invoke(app, ["build", str(export), "--out", str(tmp_path / "ds"), "--no-progress"])
    assert result.exit_code == 2, result.output
    line = one_line_error(result.stderr, result.stdout)
    assert export.name in line and "changed since it was pulled" in line
    assert not (tmp_path / "ds").exists()


@pytest.mark.labelstudio
@pytest.mark.slow
def test_reading_an_export_never_changes_it(pulled: dict[str, Any], tmp_path: Path,
                                            record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "validate, agreement, adjudicate and corpus build leave the exports folder "
                               "byte-identical")
    from annotation.cli import app as annotation_app
    from corpus.cli import app as corpus_app

    exports = pulled["exports"]
    before = tree_snapshot(exports)
    export = str(exports / sorted(pulled["files_1"])[0])
    runner = CliRunner()
    for app, args in ((annotation_app, ["validate", export]), (annotation_app, ["agreement", export]),
                      (annotation_app, ["adjudicate", export, "--out", str(tmp_path / "gold.json")]),
                      (corpus_app, ["build", export, "--out", str(tmp_path / "ds"), "--no-progress"])):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert tree_snapshot(exports) == before


def test_dataset_digest_notices_a_changed_file(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", 'one stance changed in train.parquet: dataset_digest(verify=True) refuses the dataset')
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus.build import dataset_digest

    make_corpus(tmp_path / "corpus", 10)
    ds = build_small_dataset(tmp_path / "corpus", tmp_path / "ds")
    recorded = dataset_digest(ds, verify=True)
    path = ds / "parquet" / "statements" / "train.parquet"
    table = pq.read_table(path)
    stances = table.column("stance").to_pylist()
    stances[0] = (stances[0] + 1) % 3
    column = pa.array(stances, type=table.schema.field("stance").type)
    pq.write_table(table.set_column(table.schema.get_field_index("stance"), "stance", column), path)
    with pytest.raises(InputError) as err:
        dataset_digest(ds, verify=True)
    assert recorded in str(err.value) and "differs" in str(err.value)


def test_corpus_validate_notices_a_changed_article(tmp_path: Path,
                                                   record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "an article body edited without its checksum: corpus validate exits 1 naming the file "
                               "and the checksum")
    from corpus.cli import app

    make_corpus(tmp_path / "corpus", 3)
    path = tmp_path / "corpus" / "articles" / "syn-001.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["body"] = raw["body"].replace("rejected", "welcomed").replace("backed", "doubted")
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--root", str(tmp_path / "corpus")])
    assert result.exit_code == 1
    assert "syn-001.json" in result.stderr and "checksum" in result.stderr
