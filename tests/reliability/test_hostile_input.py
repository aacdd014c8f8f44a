"""Issue 16, corpus and config side: hostile but fair inputs that once lost data or printed a traceback.

Each case drives the real CLI (typer's CliRunner, in-process) and asserts the house rule: one `error:` line
naming the place, a non-zero exit, nothing the user owns deleted or changed, nothing half-written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.reliability import make_corpus, one_line_error, tree_snapshot

EXPORT = [{"id": 1, "data": {"text": "Sheinbaum rejected troops."}, "annotations": [
    {"id": 1, "completed_by": 1, "was_cancelled": False, "result": []}]}]
ROW = {"id": "r1", "text": "Sheinbaum rejected calls to deploy American troops.", "actor": "Sheinbaum",
       "policy": "deploy American troops", "stance": "oppose"}


def _app(package: str) -> Any:
    import importlib

    return importlib.import_module(f"{package}.cli").app


def _user_folder(tmp: Path) -> Path:
    """A folder the user owns, with a nested file: what a mistyped --out must never delete."""
    home = tmp / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "thesis.txt").write_text("three years of work\n", encoding="utf-8")
    (home / "notes.md").write_text("keep\n", encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def majority_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A majority-class model trained through the CLI on a small synthetic dataset (seconds)."""
    from tests.reliability import build_small_dataset

    root = tmp_path_factory.mktemp("hostile-model")
    make_corpus(root / "corpus", 10)
    ds = build_small_dataset(root / "corpus", root / "ds")
    result = CliRunner().invoke(_app("training"), [
        "train", "--config", "majority", "--dataset", str(ds), "--tracking-uri", f"sqlite:///{root}/mlflow.db",
        "--set", f"output_dir={root}/run"])
    assert result.exit_code == 0, result.output
    return root / "run" / "latest" / "model"


def _single_file_cases(tmp: Path, model: Path | None) -> dict[str, tuple[str, list[str]]]:
    export = tmp / "export.json"
    export.write_text(json.dumps(EXPORT), encoding="utf-8")
    (tmp / "a.jsonl").write_text(json.dumps({"id": "r1", "predicted": "oppose", "gold": "oppose"}) + "\n" +
                                 json.dumps({"id": "r2", "predicted": "support", "gold": "oppose"}) + "\n",
                                 encoding="utf-8")
    (tmp / "b.jsonl").write_text(json.dumps({"id": "r1", "predicted": "support", "gold": "oppose"}) + "\n" +
                                 json.dumps({"id": "r2", "predicted": "oppose", "gold": "oppose"}) + "\n",
                                 encoding="utf-8")
    (tmp / "rows.jsonl").write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    home = str(tmp / "home")
    db = f"sqlite:///{tmp.parent / (tmp.name + '-mlflow.db')}"
    return {
        "adjudicate-out": ("annotation", ["adjudicate", str(export), "--out", home]),
        "validate-json": ("annotation", ["validate", str(export), "--json", home]),
        "agreement-json": ("annotation", ["agreement", str(export), "--json", home]),
        "leaderboard-out": ("evaluation", ["leaderboard", "--tracking-uri", db, "--out", home]),
        "compare-json": ("evaluation", ["compare", str(tmp / "a.jsonl"), str(tmp / "b.jsonl"), "--rounds", "50",
                                        "--json", home]),
        "predict-out": ("training", ["predict", str(tmp / "rows.jsonl"), "--model", str(model), "--out",
                                     home + ".csv"]),
    }


SINGLE_FILE = ["adjudicate-out", "validate-json", "agreement-json", "leaderboard-out", "compare-json", "predict-out"]


@pytest.mark.parametrize("case", SINGLE_FILE)
def test_single_file_output_never_replaces_a_folder(case: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                    record_property: Callable[[str, Any], None]) -> None:
    model = request.getfixturevalue("majority_model") if case == "predict-out" else None
    package, args = _single_file_cases(tmp_path, model)[case]
    home = _user_folder(tmp_path)
    if case == "predict-out":  # predict picks the format from the suffix: the folder is named like a file
        home = home.rename(tmp_path / "home.csv")
    if case == "leaderboard-out":  # a first call creates the store (MLflow logs that once): not under test
        assert CliRunner().invoke(_app(package), args[:-2]).exit_code == 0
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_app(package), args)
    record_property("entry", f"python -m {package} {args[0]}")
    assert result.exit_code not in (0, 1), f"exit {result.exit_code}: {result.output}"
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')} (a folder "
                                 "with a nested file as the output)")
    assert str(home) in line and "folder" in line, line
    assert (home / "docs" / "thesis.txt").read_text(encoding="utf-8") == "three years of work\n"
    assert tree_snapshot(tmp_path) == before, "the user's folder changed or something was left behind"


def test_output_under_a_file_is_refused(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a folder\n", encoding="utf-8")
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_app("annotation"), ["adjudicate", str(export), "--out",
                                                     str(tmp_path / "notes.txt" / "gold.json")])
    record_property("entry", "python -m annotation adjudicate")
    assert result.exit_code not in (0, 1), result.output
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    assert str(tmp_path / "notes.txt") in line and "not a folder" in line, line
    assert tree_snapshot(tmp_path) == before


def test_atomic_path_refuses_kind_changes(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "atomic_path/write_text_atomic: a file over a folder, a folder over a file and a "
                               "path under a file are refused (InputError naming it); the old content stays")
    from corpus.errors import InputError, atomic_path, write_text_atomic

    home = _user_folder(tmp_path)
    with pytest.raises(InputError, match="is a folder"):
        write_text_atomic(home, "x")
    with pytest.raises(InputError, match="is a folder"), atomic_path(home) as staged:
        staged.write_text("written without saying it is a file", encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("mine\n", encoding="utf-8")
    with pytest.raises(InputError, match="is a file"), atomic_path(plain, folder=True) as staged:
        staged.mkdir()
    with pytest.raises(InputError, match="is a file"), atomic_path(plain) as staged:
        staged.mkdir()
    with pytest.raises(InputError, match="not a folder"):
        write_text_atomic(plain / "x.json", "x")
    assert (home / "docs" / "thesis.txt").is_file() and plain.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "plain.txt"], "a temporary file remains"


# -- item 5: one safe YAML reader (aliases limited, duplicate keys refused), finite numbers in configs ---------------
def _bomb(levels: int = 9) -> str:
    """The 'billion laughs' document: each level is a list of nine aliases of the level before."""
    lines = ['a0: &a0 ["lol"]']
    for k in range(1, levels + 1):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


TRAIN = ("train", "--tracking-uri", "sqlite:///{tmp}/mlflow.db")
YAML_CASES = {
    # id: (package, args, file written, its text, where, what)
    "config-yaml-bomb": ("training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml",
                         "name: bomb\nkind: majority\n" + _bomb().replace("a0:", "extra0:", 1), "c.yaml",
                         "YAML bomb"),
    "config-yaml-bomb-set": ("training", (*TRAIN, "--config", "{tmp}/c.yaml", "--set", "seed=3"), "c.yaml",
                             "name: bomb\nkind: majority\n" + _bomb() + "sklearn:\n  c_grid: *a9\n", "c.yaml",
                             "YAML bomb"),
    "codebook-yaml-bomb": ("corpus", ("validate", "--root", "{tmp}/corpus", "--codebook", "{tmp}/cb.yaml"),
                           "cb.yaml", _bomb(), "cb.yaml", "YAML bomb"),
    "config-duplicate-key": ("training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml",
                             "name: dup\nkind: majority\nseed: 1\nseed: 2\n", "c.yaml:4",
                             "duplicate key 'seed' (first on line 3)"),
    "codebook-duplicate-key": ("annotation", ("config", "--codebook", "{tmp}/cb.yaml"), "cb.yaml",
                               "version: '1'\nname: a\nname: b\n", "cb.yaml:3", "duplicate key 'name'"),
    "config-c-grid-nan": ("training", (*TRAIN, "--config", "tfidf_logreg", "--set", "sklearn.c_grid=[.nan]"),
                          None, "", "tfidf_logreg.yaml", "sklearn.c_grid"),
    "config-c-inf": ("training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml",
                     "name: inf\nkind: tfidf_logreg\nsklearn:\n  c_grid: [1.0, .inf]\n", "c.yaml", "sklearn.c_grid"),
    "config-lr-nan": ("training", (*TRAIN, "--config", "tiny", "--set", "transformer.learning_rate=nan"),
                      None, "", "tiny.yaml", "transformer.learning_rate"),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_yaml_and_config_limits(case: str, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    import time

    package, args, name, text, where, what = YAML_CASES[case]
    if name:
        (tmp_path / name).write_text(text, encoding="utf-8")
    if package == "corpus":
        make_corpus(tmp_path / "corpus", 1)
    before = tree_snapshot(tmp_path)
    started = time.monotonic()
    result = CliRunner().invoke(_app(package), [a.format(tmp=tmp_path) for a in args])
    seconds = time.monotonic() - started
    record_property("entry", f"python -m {package} {args[0]}")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code not in (0, 1), f"exit {result.exit_code}: {result.output}"
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code} in {seconds:.2f} s: {line.replace(str(tmp_path), '$TMP')}")
    assert where in line and what in line, line
    assert seconds < 5, f"took {seconds:.1f} s"
    assert {k: v for k, v in tree_snapshot(tmp_path).items() if not k.startswith("mlflow.db")} == before


def test_every_yaml_reader_uses_the_safe_loader(record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "no module of corpus/annotation/training/evaluation calls yaml.safe_load or yaml.load "
                               "except corpus/yamlio.py; a bomb via load_yaml is refused in well under a second")
    import re
    import time

    from corpus.errors import InputError
    from corpus.yamlio import load_yaml
    from tests.reliability import REPO

    offenders = [f"{p.relative_to(REPO)}:{n}" for pkg in ("corpus", "annotation", "training", "evaluation")
                 for p in (REPO / pkg).rglob("*.py") if p.name != "yamlio.py"
                 for n, ln in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\byaml\.(safe_load|load|full_load|unsafe_load|load_all|safe_load_all)\(", ln)]
    assert not offenders, f"YAML read outside corpus.yamlio: {offenders}"
    started = time.monotonic()
    with pytest.raises(InputError, match="YAML bomb"):
        load_yaml(_bomb(12), "bomb.yaml")
    assert time.monotonic() - started < 0.5
    assert load_yaml("a: &x [1, 2]\nb: *x\nc:\n  <<: {d: 1}\n  d: 2\n", "ok.yaml") == {
        "a": [1, 2], "b": [1, 2], "c": {"d": 2}}


# -- items 3 and 4: external ids for any Unicode name; no CSV cell a spreadsheet would run as a formula ----------
NAMES = ["Клаудия Шейнбаум", "唐纳德·特朗普", "محمد", "C++ Foundation", "C Foundation"]
FORMULA = '=HYPERLINK("http://127.0.0.1/x","click")'


def test_external_ids_unique_and_stable_for_unicode_names(tmp_path: Path,
                                                          record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", f"network of 5 actors outside the codebook ({', '.join(NAMES)}): 5 actor nodes, "
                               "ids stable across runs and orders")
    from corpus.codebook import load_codebook
    from corpus.convert import Scheme, resolve_name

    rows = [{"actor": name, "policy": "deploy American troops", "stance": "oppose", "article_id": f"a{k}"}
            for k, name in enumerate(NAMES)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                         encoding="utf-8")
    result = CliRunner().invoke(_app("evaluation"), ["network", str(tmp_path / "rows.jsonl"), "--out",
                                                     str(tmp_path / "net")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "net" / "network.json").read_text(encoding="utf-8"))
    nodes = (tmp_path / "net" / "nodes.csv").read_text(encoding="utf-8").splitlines()[1:]
    actors = [n for n in nodes if ",actor," in n]
    assert len(actors) == 5, f"{len(actors)} actor nodes for 5 actors: {actors} ({summary['network']})"
    ids = [resolve_name(n, True, Scheme.from_codebook(load_codebook()))[0] for n in NAMES]
    again = [resolve_name(n, True, Scheme.from_codebook(load_codebook()))[0] for n in reversed(NAMES)][::-1]
    assert len(set(ids)) == 5 and ids == again, ids
    assert "x:article" not in ids and all(i.startswith("x:") and len(i) <= 120 for i in ids)
    record_property("outcome", " ".join(ids))


def test_csv_outputs_neutralise_formulas(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "a name starting with = + - @ (or tab/CR) is written with a leading ' in nodes.csv, "
                               "*_edges.csv, breakdowns.csv and predict's .csv")
    import csv

    from corpus.csvsafe import safe_cell

    assert [safe_cell(v) for v in ("=1+1", "+A1", "-x", "@SUM(A1)", "\tx", "\rx", "plain", "-0.5", 3)] == [
        "'=1+1", "'+A1", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "plain", "-0.5", 3]
    rows = [{"actor": FORMULA, "policy": "@SUM(1+1)", "stance": "support", "article_id": "a1"},
            {"actor": "Claudia Sheinbaum", "policy": "@SUM(1+1)", "stance": "support", "article_id": "a1"},
            {"actor": "-2+3", "policy": "deploy American troops", "stance": "oppose", "article_id": "a2"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(_app("evaluation"), ["network", str(tmp_path / "rows.jsonl"), "--out",
                                                     str(tmp_path / "net")])
    assert result.exit_code == 0, result.output
    checked = 0
    for path in sorted((tmp_path / "net").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    checked += 1
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")) and not (
                        cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()), (path.name, cell)
    assert "'=HYPERLINK" in (tmp_path / "net" / "nodes.csv").read_text(encoding="utf-8")
    from evaluation.report import breakdowns_csv

    text = breakdowns_csv({"labels": ["support"], "breakdowns": {"source": [
        {"value": FORMULA, "label": "@x", "n": 1, "macro_f1": {"point": 1.0, "low": 1.0, "high": 1.0},
         "accuracy": 1.0, "f_avg": 1.0, "labels": {"support": 1}}]}})
    assert "'=HYPERLINK" in text and ",'@x," in text
    record_property("outcome", f"{checked} network CSV cells checked; breakdowns.csv neutralised")


def test_predict_csv_neutralises_formulas(majority_model: Path, tmp_path: Path,
                                         record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "training predict --out p.csv of a row whose id and actor are formulas: written "
                               "with a leading '")
    import csv

    (tmp_path / "rows.jsonl").write_text(json.dumps({**ROW, "id": "=cmd|' /C calc'!A0", "actor": FORMULA}) + "\n",
                                         encoding="utf-8")
    result = CliRunner().invoke(_app("training"), ["predict", str(tmp_path / "rows.jsonl"), "--model",
                                                   str(majority_model), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "p.csv").open(encoding="utf-8", newline="") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'" + FORMULA in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


# -- item 8: an alias or label that normalises to two codebook ids -------------------------------------------------
def _codebook_with(change: Callable[[dict[str, Any]], None]) -> str:
    import yaml

    from corpus.codebook import DEFAULT_CODEBOOK
    from corpus.yamlio import load_yaml

    raw = load_yaml(DEFAULT_CODEBOOK.read_text(encoding="utf-8"), DEFAULT_CODEBOOK)
    change(raw)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def _shared_alias(raw: dict[str, Any]) -> None:
    raw["actors"][1]["aliases"] = [*raw["actors"][1].get("aliases", []), raw["actors"][0]["aliases"][0]]


def _same_label(raw: dict[str, Any]) -> None:
    raw["actors"][1]["label"] = "the " + raw["actors"][0]["label"].upper()


def _policy_example(raw: dict[str, Any]) -> None:
    raw["policy_options"][1]["examples"] = [raw["policy_options"][0]["label"].lower()]


@pytest.mark.parametrize(("case", "change", "kind"), [("codebook-alias-on-two-actors", _shared_alias, "alias"),
                                                       ("codebook-label-on-two-actors", _same_label, "label"),
                                                       ("codebook-example-on-two-options", _policy_example, "")])
@pytest.mark.parametrize("package", ["corpus", "annotation"])
def test_ambiguous_codebook_is_refused(case: str, change: Callable[[dict[str, Any]], None], kind: str, package: str,
                                       tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    from corpus.codebook import load_codebook

    (tmp_path / "cb.yaml").write_text(_codebook_with(change), encoding="utf-8")
    bundled = load_codebook()
    first, second = ((bundled.actors[0].id, bundled.actors[1].id) if "actor" in case else
                     (bundled.policy_options[0].id, bundled.policy_options[1].id))
    if package == "corpus":
        make_corpus(tmp_path / "corpus", 1)
        args = ["validate", "--root", str(tmp_path / "corpus"), "--codebook", str(tmp_path / "cb.yaml")]
    else:
        args = ["config", "--codebook", str(tmp_path / "cb.yaml")]
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_app(package), args)
    record_property("entry", f"python -m {package} {args[0]}")
    assert result.exit_code not in (0, 1), result.output
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    assert "cb.yaml" in line and first in line and second in line and kind in line, line
    assert tree_snapshot(tmp_path) == before


# -- item 9: UTF-16 offsets without value.text -----------------------------------------------------------------------
UTF16_TEXT = "Mexico says no\n\nClaudia Sheinbaum 😀 rejected deploy American troops today."


def _utf16_items(with_text: str | None) -> list[dict[str, Any]]:
    """Actor 'Claudia Sheinbaum' (before the emoji) and a policy span after it at UTF-16 offsets, without text;
    `with_text`: a third span (after the emoji, UTF-16 or code-point offsets) that carries its text."""
    from corpus.tasks import relation_item, span_items

    text = UTF16_TEXT
    a = text.index("Claudia Sheinbaum")
    p = text.index("deploy American troops")
    items = [*span_items("a1", a, a + 17, "Claudia Sheinbaum", "Actor", "claudia_sheinbaum"),
             *span_items("p1", p + 1, p + 1 + 22, "deploy American troops", "Policy", "us_troops_in_mexico"),
             relation_item("a1", "p1", "oppose")]
    items[2]["value"].pop("text")  # the policy span: offsets only, in UTF-16 units (the emoji counts 2)
    if with_text:
        t = text.index("today")
        shift = 1 if with_text == "utf16" else 0
        items += span_items("a2", t + shift, t + shift + 5, "today", "Actor", "claudia_sheinbaum")
    return items


@pytest.mark.parametrize("evidence", [None, "utf16", "codepoint"])
def test_utf16_offsets_without_text(evidence: str | None, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "span offsets without value.text after a character outside the BMP: decided by the "
                               "annotation's other spans (UTF-16 or code points), else rejected with the reason")
    from corpus.codebook import load_codebook
    from corpus.convert import Document, Scheme, convert_task

    task = {"id": 7, "data": {"text": UTF16_TEXT}, "annotations": [
        {"id": 1, "completed_by": 1, "was_cancelled": False, "result": _utf16_items(evidence)}]}
    conv = convert_task(task, Document("art", UTF16_TEXT, {}), Scheme.from_codebook(load_codebook()),
                        source="export.json")
    if evidence == "utf16":
        (row,) = conv.statements
        assert row["policy_mention"] == "deploy American troops", row["policy_mention"]
    elif evidence == "codepoint":  # the export counts code points: the offsets are taken as they are (shifted)
        (row,) = conv.statements
        assert row["policy_mention"] == UTF16_TEXT[UTF16_TEXT.index("deploy") + 1:][:22]
    else:
        assert not conv.statements
        spans = [r for r in conv.rejections if r.get("item") == "p1"]
        assert spans and "UTF-16" in spans[0]["detail"] and "no value.text" in spans[0]["detail"], conv.rejections
        record_property("outcome", spans[0]["detail"])


# -- weak spots in corpus build: each bad task is reported, a build where nothing converts fails in one line ------
BUILD_TEXT = "Sheinbaum rejected calls to deploy American troops on Monday."


def _good_task(tid: int = 1, article_id: Any = None, **data: Any) -> dict[str, Any]:
    from corpus.tasks import relation_item, span_items

    t = BUILD_TEXT
    a, p = t.index("Sheinbaum"), t.index("deploy American troops")
    result = [*span_items("a1", a, a + 9, "Sheinbaum", "Actor", "claudia_sheinbaum"),
              *span_items("p1", p, p + 22, "deploy American troops", "Policy", "us_troops_in_mexico"),
              relation_item("a1", "p1", "oppose")]
    return {"id": tid, "data": {"text": t, "article_id": article_id or f"art-{tid}", **data},
            "annotations": [{"id": tid, "completed_by": 1, "was_cancelled": False, "result": result}]}


def _bool_start(task: dict[str, Any]) -> dict[str, Any]:
    task["annotations"][0]["result"][0]["value"]["start"] = True
    return task


BAD_TASKS = {
    # case: (the bad task, what its rejection says, whether the task alone converts nothing at all)
    "task-id-2**70": (lambda: _good_task(2**70), "64-bit", True),
    "span-start-true": (lambda: _bool_start(_good_task(1)), "integers", False),  # its article still converts
    "article-id-a-dict": (lambda: _good_task(1, article_id={"a": 1}), "article_id", True),
    "checksum-not-of-the-text": (lambda: _good_task(1, checksum="sha256:" + "0" * 64), "checksum", True),
    "no-data": (lambda: {"id": 1}, "text", True),
}


@pytest.mark.parametrize("case", list(BAD_TASKS))
def test_build_reports_a_bad_task(case: str, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", f"corpus build of an export with one good task and one bad one ({case}): exit 0, "
                               "the bad one in rejections.jsonl with its reason; the bad one alone: one error line")
    make, what, alone_fails = BAD_TASKS[case]
    bad = make()
    good = _good_task(99)
    (tmp_path / "mixed.json").write_text(json.dumps([good, bad]), encoding="utf-8")
    result = CliRunner().invoke(_app("corpus"), ["build", str(tmp_path / "mixed.json"), "--out",
                                                 str(tmp_path / "ds"), "--no-progress"])
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output} {result.exception!r}"
    rejections = [json.loads(x) for x in (tmp_path / "ds" / "rejections.jsonl").read_text().splitlines()]
    assert rejections and any(what in r["detail"] for r in rejections), rejections
    assert all(r["article_id"] != "art-99" for r in rejections)
    (tmp_path / "bad.json").write_text(json.dumps([bad]), encoding="utf-8")
    if not alone_fails:  # partly converted: exit 0 and the report
        result = CliRunner().invoke(_app("corpus"), ["build", str(tmp_path / "bad.json"), "--out",
                                                     str(tmp_path / "ds2"), "--no-progress"])
        assert result.exit_code == 0 and what in (tmp_path / "ds2" / "rejections.jsonl").read_text(), result.output
        return
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_app("corpus"), ["build", str(tmp_path / "bad.json"), "--out",
                                                 str(tmp_path / "ds2"), "--no-progress"])
    record_property("entry", "python -m corpus build")
    assert result.exit_code not in (0, 1), f"exit {result.exit_code}: {result.output} {result.exception!r}"
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    assert "bad.json" in line and "nothing converted" in line and what in line, line
    assert tree_snapshot(tmp_path) == before


@pytest.mark.parametrize("package", ["corpus-build", "corpus-add", "annotation-agreement", "annotation-validate",
                                     "annotation-adjudicate", "evaluation-network", "training-predict"])
def test_json_nested_too_deeply(package: str, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    name = "rows.jsonl" if package in ("training-predict",) else "deep.json"
    (tmp_path / name).write_text(deep + "\n", encoding="utf-8")
    pkg, command = package.split("-")
    f = str(tmp_path / name)
    args = {"corpus-build": ["build", f, "--out", str(tmp_path / "ds")], "corpus-add": ["add", f, "--root",
                                                                                         str(tmp_path / "store")],
            "annotation-agreement": ["agreement", f], "annotation-validate": ["validate", f],
            "annotation-adjudicate": ["adjudicate", f, "--out", str(tmp_path / "gold.json")],
            "evaluation-network": ["network", f, "--out", str(tmp_path / "net")],
            "training-predict": ["predict", f, "--model", str(tmp_path / "m"), "--out", str(tmp_path / "p.jsonl")],
            }[package]
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_app(pkg), args)
    record_property("entry", f"python -m {pkg} {command}")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code not in (0, 1), result.output
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')} (JSON nested "
                                 "100 000 deep)")
    assert name in line and "nested too deeply" in line, line
    assert tree_snapshot(tmp_path) == before


# -- weak spots in corpus add: invisible characters, a link out of its folder, an article too big -----------------
def test_add_removes_invisible_controls(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "corpus add of a text with NUL, U+202E (right-to-left override) and U+200B: they are "
                               "removed (ZWJ/ZWNJ kept), the user is told how many")
    (tmp_path / "ctl.txt").write_text("Head\x00line\nBody with \u202e evil \u200b zero width and "
                                      "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 kept.\nMore.\n",
                                      encoding="utf-8")
    result = CliRunner().invoke(_app("corpus"), ["add", str(tmp_path / "ctl.txt"), "--root", str(tmp_path / "st")])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "st" / "articles" / "ctl.json").read_text(encoding="utf-8"))
    text = stored["title"] + stored["standfirst"] + stored["body"]
    assert not any(c in text for c in "\x00\u202e\u200b") and "\u200c" in text and stored["title"] == "Headline"
    assert "3 invisible" in result.output, result.output
    record_property("outcome", result.output.strip().replace(str(tmp_path), "$TMP").splitlines()[-1])


def test_add_refuses_a_link_out_of_its_folder(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "outside.txt").write_text("Secret headline\nSecret body.\nMore.\n", encoding="utf-8")
    (tmp_path / "in" / "pw.txt").symlink_to("/etc/passwd")
    (tmp_path / "in" / "up.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "in" / "ok.txt").write_text("A headline\nA body.\nMore.\n", encoding="utf-8")
    (tmp_path / "in" / "same.txt").symlink_to("ok.txt")
    for name in ("pw.txt", "up.txt"):
        before = tree_snapshot(tmp_path)
        result = CliRunner().invoke(_app("corpus"), ["add", str(tmp_path / "in" / name), "--root",
                                                     str(tmp_path / "st")])
        record_property("entry", "python -m corpus add")
        assert result.exit_code not in (0, 1), result.output
        line = one_line_error(result.stderr, result.stdout)
        assert name in line and "symbolic link" in line and "outside" in line, line
        assert tree_snapshot(tmp_path) == before
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    ok = CliRunner().invoke(_app("corpus"), ["add", str(tmp_path / "in" / "same.txt"), "--root",
                                             str(tmp_path / "st")])
    assert ok.exit_code == 0, ok.output  # a link inside its own folder is fine


def test_add_caps_the_article_size(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    big = "Big headline\n" + ("word " * 250_000 + "\n") * 5  # about 6 MB
    (tmp_path / "big.txt").write_text(big, encoding="utf-8")
    (tmp_path / "big.jsonl").write_text(json.dumps({"title": "t", "body": big}) + "\n", encoding="utf-8")
    for name in ("big.txt", "big.jsonl"):
        before = tree_snapshot(tmp_path)
        result = CliRunner().invoke(_app("corpus"), ["add", str(tmp_path / name), "--root", str(tmp_path / "st")])
        record_property("entry", "python -m corpus add")
        assert result.exit_code not in (0, 1), result.output
        line = one_line_error(result.stderr, result.stdout)
        assert name in line and "--max-size" in line, line
        assert tree_snapshot(tmp_path) == before
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    raised = CliRunner().invoke(_app("corpus"), ["add", str(tmp_path / "big.txt"), "--root", str(tmp_path / "st"),
                                                 "--max-size", "10"])
    assert raised.exit_code == 0, raised.output


# -- report.md embeds no raw HTML from the data ------------------------------------------------------------------------
def test_report_md_escapes_html_from_the_data(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "an evaluation of statements whose context, actor and source carry <script> and "
                               "<img onerror>: report.md holds them escaped (&lt;script&gt;), as report.html does")
    from tests.evaluation.conftest import save_dataset, statement_rows

    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    rows = {s: statement_rows(n, 3, s, k) for s, n, k in (("train", 3, 1), ("validation", 2, 2), ("test", 6, 3))}
    for r in rows["test"]:
        r["context"] = f"{evil} {r['context']}"
        r["actor_label"] = r["actor_mention"] = f"{evil}{r['actor_label']}"
        r["source"] = evil
    ds = save_dataset(tmp_path / "ds", rows)
    preds = tmp_path / "p.jsonl"
    names = ["support", "oppose", "neutral"]
    preds.write_text("".join(json.dumps({"id": r["id"], "predicted": names[(i + 1) % 3]}) + "\n"
                             for i, r in enumerate(rows["test"])), encoding="utf-8")
    result = CliRunner().invoke(_app("evaluation"), ["evaluate", "--dataset", str(ds), "--split", "test", "--out",
                                                     str(tmp_path / "out"), "--predictions", str(preds), "--no-track",
                                                     "--resamples", "50", "--quiet"])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in md, "the data did not reach the report: the test proves nothing"
    assert "<script" not in md and "<img" not in md  # (onerror=" may stay: as text inside &lt;img ...&gt;)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html


def test_disk_full_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str],
                                    record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "disk full (ENOSPC, no file name) while `annotation adjudicate` writes GOLD")
    import errno
    import sys

    from annotation.cli import app
    from corpus.errors import run_cli

    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), encoding="utf-8")
    gold = tmp_path / "out" / "gold.json"
    real = Path.write_text

    def full(self: Path, *a: Any, **kw: Any) -> int:
        if self.parent.name.endswith(".tmp"):  # the atomic writer's staging folder
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    monkeypatch.setattr(sys, "argv", ["annotation", "adjudicate", str(export), "--out", str(gold)])
    before = tree_snapshot(tmp_path)
    with pytest.raises(SystemExit) as done:
        run_cli(app)
    err = capsys.readouterr().err
    line = one_line_error(err)
    assert done.value.code not in (0, 1) and str(gold) in line and "No space left on device" in line, line
    assert tree_snapshot(tmp_path) == before, "the failed write left files or folders behind"
    record_property("outcome", f"exit {done.value.code}: {line.replace(str(tmp_path), '$TMP')}; no temporary file")


def test_corpus_validate_reports_odd_task_values(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "corpus validate of tasks with a dict as data.article_id and true as a span start: "
                               "both listed as problems (exit 1), no traceback")
    root = tmp_path / "corpus"
    make_corpus(root, 3)
    for name, change in (("syn-000", lambda t: t["data"].update(article_id={"a": 1})),
                         ("syn-001", lambda t: t["annotations"][0]["result"][0]["value"].update(start=True))):
        path = root / "annotations" / f"{name}.json"
        task = json.loads(path.read_text(encoding="utf-8"))
        change(task)
        path.write_text(json.dumps(task), encoding="utf-8")
    result = CliRunner().invoke(_app("corpus"), ["validate", "--root", str(root)])
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit)), (
        result.output, result.exception)
    assert "syn-000.json" in result.stderr and "article_id" in result.stderr, result.stderr
    assert "syn-001.json" in result.stderr and "True" in result.stderr, result.stderr
