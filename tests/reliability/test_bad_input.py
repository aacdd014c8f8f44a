"""Bad input at every entry point: one `error: <where>: <what>` line, a non-zero exit, no traceback, nothing written.

Each case drives the real typer app of a package (`python -m corpus|annotation|training|evaluation`) in-process
with typer's CliRunner; a second set runs `python -m <package>` in fresh processes to check what a user
sees end to end. Every case snapshots its temporary folder before and after: no file may appear or change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.reliability import REPO, build_small_dataset, make_corpus, one_line_error, run_module, tree_snapshot

GOOD_TXT = "Headline about troops\nA standfirst line.\nFirst paragraph of the body.\nSecond paragraph.\n"
TABLE = REPO / "tests" / "fixtures" / "tables" / "stance.csv"
CODEBOOK = REPO / "corpus" / "codebook.yaml"
ROW = {"text": "Sheinbaum rejected calls to deploy American troops.", "actor": "Sheinbaum",
       "policy": "deploy American troops"}


def _apps() -> dict[str, Any]:
    from annotation.cli import app as annotation_app
    from corpus.cli import app as corpus_app
    from evaluation.cli import app as evaluation_app
    from training.cli import app as training_app

    return {"corpus": corpus_app, "annotation": annotation_app, "training": training_app,
            "evaluation": evaluation_app}


def _has_command(package: str, name: str) -> bool:
    import importlib

    app = importlib.import_module(f"{package}.cli").app
    return any((c.name or (c.callback.__name__ if c.callback else "")) == name for c in app.registered_commands)


# -- setups: each writes the bad input into the case's folder ----------------------------------------------------
def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return setup


def _both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


def _codebook(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        raw = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
        change(raw)
        (tmp / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return setup


def _dup_actor(raw: dict[str, Any]) -> None:
    raw["actors"].append(dict(raw["actors"][0]))


def _stored_article(tmp: Path) -> None:
    from corpus.ingest import Metadata, add_files
    from corpus.store import CorpusStore

    (tmp / "first.txt").write_text(GOOD_TXT, encoding="utf-8")
    add_files([tmp / "first.txt"], CorpusStore(tmp / "store"), Metadata())


def _corpus(n: int = 3, annotate: bool = False) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        make_corpus(tmp / "corpus", n, annotate=annotate)
    return setup


def _training_config(name: str, raw: Any) -> Callable[[Path], None]:
    return _write(name, raw if isinstance(raw, str) else yaml.safe_dump(raw))


def _jsonl(name: str, rows: list[Any]) -> Callable[[Path], None]:
    return _write(name, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def _export(name: str, tasks: Any) -> Callable[[Path], None]:
    return _write(name, json.dumps(tasks))


@dataclass(frozen=True)
class Case:
    """One malformed input: the command (with {tmp}, {ds}... placeholders), the place and the problem expected."""

    id: str
    package: str
    args: tuple[str, ...]
    where: str
    what: str
    setup: Callable[[Path], None] | None = None
    needs: tuple[str, ...] = field(default=())  # (package, command) that must exist
    token: bool = False  # set a (dummy) Label Studio token, so that the check under test is reached


MAJORITY = {"name": "majority-bad", "kind": "majority"}
TRAIN = ("train", "--tracking-uri", "sqlite:///{tmp}/mlflow.db")
TRAIN_OUT = ("--set", "output_dir={tmp}/run")

CASES = [
    # -- articles: python -m corpus add ------------------------------------------------------------------------
    Case("add-missing-file", "corpus", ("add", "{tmp}/missing.txt", "--root", "{tmp}/store"),
         "missing.txt", "file not found"),
    Case("add-empty-file", "corpus", ("add", "{tmp}/empty.txt", "--root", "{tmp}/store"), "empty.txt",
         "file is empty", _write("empty.txt", "  \n\n")),
    Case("add-not-utf8", "corpus", ("add", "{tmp}/latin1.txt", "--root", "{tmp}/store"), "latin1.txt",
         "not UTF-8", _write("latin1.txt", b"Titre\nCaf\xe9 au lait et croissants\n")),
    Case("add-html-without-body", "corpus", ("add", "{tmp}/nobody.html", "--root", "{tmp}/store"),
         "nobody.html", "HTML has no <body>", _write("nobody.html", "<html><head><title>x</title></head></html>")),
    Case("add-html-without-text", "corpus", ("add", "{tmp}/script.html", "--root", "{tmp}/store"),
         "script.html", "holds no text", _write("script.html", "<html><body><script>x()</script></body></html>")),
    Case("add-duplicate-article", "corpus", ("add", "{tmp}/copy.txt", "--root", "{tmp}/store"), "copy.txt",
         "duplicate article", _both(_stored_article, _write("copy.txt", GOOD_TXT))),
    Case("add-jsonl-row-missing-body", "corpus", ("add", "{tmp}/rows.jsonl", "--root", "{tmp}/store"),
         "rows.jsonl:2", "missing required field 'body'",
         _jsonl("rows.jsonl", [{"title": "a", "body": "b"}, {"title": "no body"}])),
    Case("add-unknown-field", "corpus", ("add", "{tmp}/extra.json", "--root", "{tmp}/store"), "extra.json",
         "colour: unknown field", _export("extra.json", {"title": "a", "body": "b", "colour": "red"})),
    Case("add-bad-date", "corpus", ("add", "{tmp}/a.txt", "--root", "{tmp}/store", "--date", "2021-13-45"),
         "a.txt", "not an ISO date", _write("a.txt", GOOD_TXT)),
    Case("add-unsupported-type", "corpus", ("add", "{tmp}/file.pdf", "--root", "{tmp}/store"), "file.pdf",
         "unsupported file type", _write("file.pdf", "%PDF-1.4")),
    Case("add-one-line", "corpus", ("add", "{tmp}/one.txt", "--root", "{tmp}/store"), "one.txt",
         "needs a headline line and a body", _write("one.txt", "Only a headline\n")),
    Case("add-path-traversal-id", "corpus", ("add", "{tmp}/a.txt", "--root", "{tmp}/store", "--id", "../escape"),
         "a.txt", "must be lower case", _write("a.txt", GOOD_TXT)),
    # -- codebook, through every package that reads one --------------------------------------------------------
    Case("codebook-duplicate-id", "corpus", ("validate", "--root", "{tmp}/corpus", "--codebook", "{tmp}/cb.yaml"),
         "cb.yaml", "duplicate id 'claudia_sheinbaum'", _both(_corpus(1), _codebook("cb.yaml", _dup_actor))),
    Case("codebook-not-yaml", "annotation", ("config", "--codebook", "{tmp}/cb.yaml"), "cb.yaml:",
         "not valid YAML", _write("cb.yaml", "version: [1.0\nname: : x\n")),
    Case("codebook-not-a-mapping", "corpus", ("build", "--codebook", "{tmp}/cb.yaml", "--out", "{tmp}/ds"),
         "cb.yaml", "must be a YAML mapping", _write("cb.yaml", "- just\n- a list\n")),
    Case("codebook-missing", "annotation", ("push", "--codebook", "{tmp}/none.yaml", "--source", "{tmp}/corpus"),
         "none.yaml", "codebook file not found", _corpus(1), token=True),
    Case("codebook-bad-id", "corpus", ("import", "table", str(TABLE), "--out", "{tmp}/out", "--text", "text",
                                       "--target", "target", "--label", "stance", "--codebook", "{tmp}/cb.yaml"),
         "cb.yaml", "lower_snake_case",
         _codebook("cb.yaml", lambda raw: raw["policy_options"][0].update(id="US Troops!"))),
    Case("codebook-unknown-actor-type", "annotation", ("config", "--codebook", "{tmp}/cb.yaml"), "cb.yaml",
         "not one of the actor_types", _codebook("cb.yaml", lambda raw: raw["actors"][0].update(type="alien"))),
    Case("codebook-one-stance", "corpus", ("validate", "--root", "{tmp}/corpus", "--codebook", "{tmp}/cb.yaml"),
         "cb.yaml", "at least two labels",
         _both(_corpus(1), _codebook("cb.yaml", lambda raw: raw.update(stance_labels=raw["stance_labels"][:1])))),
    Case("codebook-unknown-key", "annotation", ("agreement", "{tmp}/export.json", "--codebook", "{tmp}/cb.yaml"),
         "cb.yaml", "colour", _both(_export("export.json", [{"data": {"text": "x"}}]),
                                    _codebook("cb.yaml", lambda raw: raw.update(colour="red")))),
    Case("codebook-wrong-span-labels", "annotation", ("config", "--codebook", "{tmp}/cb.yaml"), "cb.yaml",
         "span_labels must be exactly",
         _codebook("cb.yaml", lambda raw: raw["span_labels"][1].update(value="Target"))),
    Case("codebook-not-utf8", "corpus", ("validate", "--root", "{tmp}/corpus", "--codebook", "{tmp}/cb.yaml"),
         "cb.yaml", "not UTF-8", _both(_corpus(1), _write("cb.yaml", b"name: caf\xe9\n"))),
    # -- importer tables ---------------------------------------------------------------------------------------
    Case("table-unknown-column", "corpus", ("import", "table", str(TABLE), "--out", "{tmp}/out", "--text", "body",
                                            "--target", "target", "--label", "stance", "--map", "FAVOR=support",
                                            "--map", "AGAINST=oppose", "--map", "NONE=neutral"),
         "stance.csv", "'body'"),
    Case("table-label-outside-codebook", "corpus", ("import", "table", str(TABLE), "--out", "{tmp}/out", "--text",
                                                    "text", "--target", "target", "--label", "stance"),
         "stance.csv", "not a stance in the codebook"),
    Case("table-bad-map", "corpus", ("import", "table", str(TABLE), "--out", "{tmp}/out", "--text", "text",
                                     "--target", "target", "--label", "stance", "--map", "FAVOR"),
         "--map", "is not RAW=LABEL"),
    Case("table-wrong-field-count", "corpus", ("import", "table", "{tmp}/t.tsv", "--out", "{tmp}/out", "--text",
                                               "text", "--target", "target", "--label", "stance"),
         "t.tsv:3", "fields, the header has", _write("t.tsv", "text\ttarget\tstance\na\tb\tsupport\nc\td\n")),
    # -- build: python -m corpus build -------------------------------------------------------------------------
    Case("build-export-not-json", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json:1",
         "not valid JSON", _write("export.json", '[{"data": {"text": "x"}, ')),
    Case("build-empty-export", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json",
         "holds no tasks", _export("export.json", [])),
    Case("build-export-not-a-list", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json",
         "expected a list of tasks", _export("export.json", {"tasks": []})),
    Case("build-export-not-utf8", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json",
         "not UTF-8", _write("export.json", b'[{"data": {"text": "caf\xe9"}}]')),
    Case("build-empty-file", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json",
         "file is empty", _write("export.json", "")),
    Case("build-missing-source", "corpus", ("build", "{tmp}/nowhere", "--out", "{tmp}/ds"), "nowhere",
         "no such file or folder"),
    Case("build-out-not-a-dataset", "corpus", ("build", "{tmp}/corpus", "--out", "{tmp}/home"), "home",
         "is not a dataset built by", _both(_corpus(3, annotate=True), _write("home/notes.txt", "keep me"))),
    Case("build-out-is-source", "corpus", ("build", "{tmp}/corpus", "--out", "{tmp}/corpus"), "corpus",
         "would replace the source", _corpus(3, annotate=True)),
    Case("build-bad-ratios", "corpus", ("build", "{tmp}/corpus", "--out", "{tmp}/ds", "--ratios", "0.5,0.6"),
         "--ratios", "must be three", _corpus(3, annotate=True)),
    Case("build-bad-split-value", "corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json",
         "split 'holdout' is not one of",
         _export("export.json", [{"id": 1, "data": {"text": "x y", "split": "holdout"}, "annotations": []}])),
    Case("build-corrupt-manifest", "corpus", ("build", "{tmp}/corpus", "--out", "{tmp}/ds", "--manifest",
                                              "{tmp}/splits.json"),
         "splits.json", "not valid JSON", _both(_corpus(3, annotate=True), _write("splits.json", "{"))),
    Case("build-agreement-not-object", "corpus", ("build", "{tmp}/corpus", "--out", "{tmp}/ds", "--agreement",
                                                  "{tmp}/agreement.json"),
         "agreement.json", "must be a JSON object",
         _both(_corpus(3, annotate=True), _export("agreement.json", [1, 2]))),
    # -- push and pull (no server needed to fail) --------------------------------------------------------------
    Case("push-no-token", "annotation", ("push", "--source", "{tmp}/corpus"), "127.0.0.1", "no API token",
         _corpus(1)),
    Case("push-unreachable-server", "annotation", ("push", "--source", "{tmp}/corpus", "--url", "{closed}"),
         "{closed}", "unreachable", _corpus(1), token=True),
    Case("push-not-a-corpus", "annotation", ("push", "--source", "{tmp}"), "{tmp}", "not a corpus folder", token=True),
    Case("push-no-articles", "annotation", ("push", "--source", "{tmp}/corpus"), "corpus", "no articles to push",
         _write("corpus/articles/.keep", ""), token=True),
    Case("push-batch-size-zero", "annotation", ("push", "--source", "{tmp}/corpus", "--batch-size", "0"),
         "--batch-size", "at least 1", _corpus(1), token=True),
    Case("push-unknown-prelabeller", "annotation", ("push", "--source", "{tmp}/corpus", "--prelabel", "oracle"),
         "--prelabel", "unknown pre-annotator 'oracle'", _corpus(1), token=True),
    Case("push-broken-article", "annotation", ("push", "--source", "{tmp}/corpus"), "syn-000.json",
         "not valid JSON", _both(_corpus(2), _write("corpus/articles/syn-000.json", '{"id": "syn-000",')), token=True),
    Case("pull-no-token", "annotation", ("pull", "--out", "{tmp}/exports"), "127.0.0.1", "no API token"),
    # -- reading exports: agreement, validate, adjudicate -------------------------------------------------------
    Case("agreement-export-not-json", "annotation", ("agreement", "{tmp}/export.json"), "export.json:1",
         "not valid JSON", _write("export.json", "[{]")),
    Case("agreement-missing-export", "annotation", ("agreement", "{tmp}/gone.json"), "gone.json", "file not found"),
    Case("validate-not-tasks", "annotation", ("validate", "{tmp}/export.json"), "export.json[1]",
         "not a Label Studio task", _export("export.json", [{"data": {"text": "x"}}, {"text": "no data"}])),
    Case("adjudicate-empty-export", "annotation", ("adjudicate", "{tmp}/export.json", "--out", "{tmp}/gold.json"),
         "export.json", "holds no tasks", _export("export.json", [])),
    Case("adjudicate-push-without-project", "annotation", ("adjudicate", "{tmp}/export.json", "--out",
                                                           "{tmp}/gold.json", "--push-disagreements"),
         "--push-disagreements", "needs --project",
         _export("export.json", [{"id": 1, "data": {"text": "x"}, "annotations": []}])),
    # -- training configs ----------------------------------------------------------------------------------------
    Case("config-unknown-key", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml", "colour: unknown key",
         _training_config("c.yaml", {**MAJORITY, "colour": "red"})),
    Case("config-wrong-type", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml", "seed:",
         _training_config("c.yaml", {**MAJORITY, "seed": "thirteen"})),
    Case("config-out-of-range", "training", (*TRAIN, "--config", "tiny", "--set", "transformer.learning_rate=5"),
         "tiny.yaml", "transformer.learning_rate"),
    Case("config-negative-epochs", "training", (*TRAIN, "--config", "tiny", "--set", "transformer.epochs=-1"),
         "tiny.yaml", "transformer.epochs"),
    Case("config-missing-file", "training", (*TRAIN, "--config", "{tmp}/none.yaml"), "none.yaml",
         "config file not found"),
    Case("config-not-yaml", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml", "not valid YAML",
         _training_config("c.yaml", "name: x\nkind: [majority\n")),
    Case("config-not-a-mapping", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml", "YAML mapping",
         _training_config("c.yaml", "- majority\n")),
    Case("config-bad-set", "training", (*TRAIN, "--config", "majority", "--set", "seed"), "--set",
         "expected key=value"),
    Case("config-transformer-without-section", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml",
         "section required", _training_config("c.yaml", {"name": "t", "kind": "transformer"})),
    Case("config-unknown-kind", "training", (*TRAIN, "--config", "{tmp}/c.yaml"), "c.yaml", "kind",
         _training_config("c.yaml", {"name": "t", "kind": "random_forest"})),
    Case("config-path-traversal-name", "training", (*TRAIN, "--config", "majority", "--set", "name=../escape"),
         "majority.yaml", "name"),
    Case("train-missing-model", "training", (*TRAIN, "--config", "tiny", *TRAIN_OUT, "--set",
                                             "transformer.model={tmp}/no-model", "--dataset", "{ds}"),
         "no-model", "model folder not found"),
    Case("train-model-without-config", "training", (*TRAIN, "--config", "tiny", *TRAIN_OUT, "--set",
                                                    "transformer.model={tmp}/model", "--dataset", "{ds}"),
         "model", "no config.json", _write("model/vocab.txt", "[PAD]\n")),
    Case("train-missing-dataset", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset",
                                               "{tmp}/no-dataset"), "no-dataset", "dataset folder not found"),
    Case("train-not-a-dataset", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset", "{tmp}"),
         "{tmp}", "not a dataset"),
    Case("train-missing-split", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset", "{ds}",
                                             "--set", "data.validation_split=dev"), "statements",
         "missing split 'dev'"),
    Case("train-empty-split", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset", "{ds_small}"),
         "statements[", "split is empty"),
    Case("train-labels-outside-codebook", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset",
                                                       "{ds_labels}"), "statements[train]", "not in the codebook"),
    Case("train-file-tracking-store", "training", ("train", "--config", "majority", *TRAIN_OUT, "--dataset", "{ds}",
                                                   "--tracking-uri", "file://{tmp}/mlruns"), "mlruns",
         "file tracking stores are refused"),
    Case("train-resume-nothing", "training", (*TRAIN, "--config", "majority", *TRAIN_OUT, "--dataset", "{ds}",
                                              "--resume"), "run", "nothing to resume"),
    # -- predict inputs ------------------------------------------------------------------------------------------
    Case("predict-missing-input", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                               "{tmp}/p.jsonl"), "rows.jsonl", "input file not found"),
    Case("predict-wrong-input-type", "training", ("predict", "{tmp}/rows.txt", "--model", "{tmp}/m", "--out",
                                                  "{tmp}/p.jsonl"), "rows.txt", "expected DATASET:split",
         _write("rows.txt", "x")),
    Case("predict-bad-json-line", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                               "{tmp}/p.jsonl"), "rows.jsonl:2", "not valid JSON",
         _jsonl("rows.jsonl", [ROW, '{"text": "oops"'])),
    Case("predict-missing-field", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                               "{tmp}/p.jsonl"), "rows.jsonl:2", "missing field 'actor'",
         _jsonl("rows.jsonl", [ROW, {"text": "x", "policy": "y"}])),
    Case("predict-row-not-object", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                                "{tmp}/p.jsonl"), "rows.jsonl:1", "must be a JSON object",
         _jsonl("rows.jsonl", ["[1, 2]"])),
    Case("predict-csv-not-utf8", "training", ("predict", "{tmp}/rows.csv", "--model", "{tmp}/m", "--out",
                                              "{tmp}/p.jsonl"), "rows.csv", "not UTF-8",
         _write("rows.csv", b"text,actor,policy\ncaf\xe9,a,b\n")),
    Case("predict-no-rows", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                         "{tmp}/p.jsonl"), "rows.jsonl", "no rows", _write("rows.jsonl", "\n\n")),
    Case("predict-bad-output-type", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                                 "{tmp}/p.xlsx"), "p.xlsx", "output must end in",
         _jsonl("rows.jsonl", [ROW])),
    Case("predict-missing-model", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                               "{tmp}/p.jsonl"), "m", "model path not found",
         _jsonl("rows.jsonl", [ROW])),
    Case("predict-not-a-model", "training", ("predict", "{tmp}/rows.jsonl", "--model", "{tmp}/m", "--out",
                                             "{tmp}/p.jsonl"), "m", "not a model folder",
         _both(_jsonl("rows.jsonl", [ROW]), _write("m/weights.bin", "x"))),
    Case("predict-dataset-missing-split", "training", ("predict", "{ds}:dev", "--model", "{tmp}/m", "--out",
                                                       "{tmp}/p.jsonl"), "statements", "missing split 'dev'"),
    # -- extract inputs ------------------------------------------------------------------------------------------
    Case("extract-unsupported-article", "training", ("extract", "{tmp}/a.pdf", "--model", "{tmp}/m", "--out",
                                                     "{tmp}/s.json"), "a.pdf", "unsupported file type",
         _write("a.pdf", "%PDF"), needs=("training", "extract")),
    Case("extract-bad-output", "training", ("extract", "{tmp}/a.txt", "--model", "{tmp}/m", "--out",
                                            "{tmp}/s.csv"), "s.csv", "must be a .json file",
         _write("a.txt", GOOD_TXT), needs=("training", "extract")),
    Case("extract-missing-model", "training", ("extract", "{tmp}/a.txt", "--model", "{tmp}/m", "--out",
                                               "{tmp}/s.json"), "m", "model path not found",
         _write("a.txt", GOOD_TXT), needs=("training", "extract")),
    Case("extract-empty-article", "training", ("extract", "{tmp}/a.txt", "--model", "{tmp}/m", "--out",
                                               "{tmp}/s.json"), "a.txt", "file is empty",
         _write("a.txt", "\n"), needs=("training", "extract")),
    Case("extract-duplicate-article", "training", ("extract", "{tmp}/a.txt", "{tmp}/a.txt", "--model", "{tmp}/m",
                                                   "--out", "{tmp}/s.json"), "ARTICLE", "given twice",
         _write("a.txt", GOOD_TXT), needs=("training", "extract")),
    # -- evaluation reads the same inputs ------------------------------------------------------------------------
    Case("network-missing-source", "evaluation", ("network", "{tmp}/none.json", "--out", "{tmp}/net"), "none.json",
         "not found"),
    Case("network-source-not-json", "evaluation", ("network", "{tmp}/s.json", "--out", "{tmp}/net"), "s.json",
         "not valid JSON", _write("s.json", "[{")),
]


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = []
        if case.needs and not _has_command(*case.needs):
            marks.append(pytest.mark.xfail(strict=True, reason=f"`python -m {case.needs[0]} {case.needs[1]}` "
                                                               "is not wired into the CLI yet"))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Built datasets the training cases point at: a good one, one with an empty split, one with bad labels."""
    from datasets import Dataset, DatasetDict

    from training.data import INPUT_COLUMNS

    root = tmp_path_factory.mktemp("bad-input-datasets")
    make_corpus(root / "corpus", 10)
    good = build_small_dataset(root / "corpus", root / "ds")
    make_corpus(root / "small-corpus", 1)  # one article: its split (validation) is the only non-empty one
    small = build_small_dataset(root / "small-corpus", root / "ds-small")
    row = {c: "x" for c in INPUT_COLUMNS} | {c: 0 for c in INPUT_COLUMNS if c.endswith(("_start", "_end"))}
    bad = Dataset.from_list([row | {"stance": "sideways"}, row | {"stance": "support"}])
    DatasetDict({"train": bad, "validation": bad}).save_to_disk(str(root / "ds-labels" / "statements"))
    return {"ds": str(good), "ds_small": str(small), "ds_labels": str(root / "ds-labels")}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No token anywhere (environment, .env), a closed port for the server URL, local state under the case's tmp."""
    from annotation import server

    for name in ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN", "LABEL_STUDIO_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(server, "DEFAULT_ENV_FILE", tmp_path / "no.env")
    monkeypatch.setenv("NEWSSTANCE_ROOT", str(tmp_path))
    return {"closed": f"http://127.0.0.1:{server.free_port()}"}


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, tmp_path: Path, built: dict[str, str], cli_env: dict[str, str],
                   monkeypatch: pytest.MonkeyPatch, record_property: Callable[[str, Any], None]) -> None:
    if case.setup:
        case.setup(tmp_path)
    if case.token:
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", "dummy-token-for-bad-input")
    values = {"tmp": str(tmp_path), **built, **cli_env}
    args = [a.format(**values) for a in case.args]
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(_apps()[case.package], args)
    record_property("entry", f"python -m {case.package} {case.args[0]}")
    detail = f"exit {result.exit_code}; stderr: {result.stderr!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}; {detail}")
    assert result.exit_code not in (0, 1), detail  # 1 is what an uncaught exception gives; ours are 2 and 3
    line = one_line_error(result.stderr, result.stdout)
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    assert case.where.format(**values) in line, f"the error does not name the place {case.where!r}: {line}"
    assert case.what in line, f"the error does not say the problem {case.what!r}: {line}"
    assert tree_snapshot(tmp_path) == before, "bad input left files behind or changed some"


# -- the same promise end to end, in fresh processes --------------------------------------------------------------
PROCESS_CASES = [
    ("corpus", ("add", "{tmp}/page.html", "--root", "{tmp}/store"), "page.html", "no headline",
     _write("page.html", "<html><body><p>Text without a headline.</p></body></html>")),
    ("corpus", ("build", "{tmp}/export.json", "--out", "{tmp}/ds"), "export.json", "not valid JSON",
     _write("export.json", '[{"id": 1, "data": {"text": "truncated mid-way')),
    ("annotation", ("validate", "{tmp}/export.json"), "export.json[0]", "not a Label Studio task",
     _export("export.json", [{"annotations": []}])),
    ("training", ("train", "--config", "{tmp}/c.yaml", "--tracking-uri", "sqlite:///{tmp}/m.db"), "c.yaml",
     "seed", _training_config("c.yaml", {**MAJORITY, "seed": -1})),
    ("training", ("predict", "{tmp}/rows.csv", "--model", "{tmp}/m", "--out", "{tmp}/p.csv"), "rows.csv:2",
     "missing field 'text'", _write("rows.csv", "context_typo,actor,policy\nx,a,b\n")),
    ("evaluation", ("network", "{tmp}/export.json", "--out", "{tmp}/net"), "export.json", "holds no",
     _export("export.json", [])),
]


@pytest.mark.slow
@pytest.mark.parametrize(("package", "args", "where", "what", "setup"), PROCESS_CASES,
                         ids=[f"process-{p}-{a[0]}" for p, a, *_ in PROCESS_CASES])
def test_bad_input_in_a_fresh_process(package: str, args: tuple[str, ...], where: str, what: str,
                                      setup: Callable[[Path], None], tmp_path: Path,
                                      record_property: Callable[[str, Any], None]) -> None:
    setup(tmp_path)
    before = tree_snapshot(tmp_path)
    done = run_module(package, *[a.format(tmp=tmp_path) for a in args], env={"NEWSSTANCE_ROOT": str(tmp_path)})
    record_property("entry", f"python -m {package} {args[0]} (process)")
    assert done.returncode not in (0, 1), f"exit {done.returncode}: {done.stderr[-2000:]}"
    line = one_line_error(done.stderr, done.stdout)
    record_property("behaviour", f"exit {done.returncode}: {line.replace(str(tmp_path), '$TMP')}")
    assert where.format(tmp=tmp_path) in line and what in line, line
    assert tree_snapshot(tmp_path) == before


# -- cases that need the real Label Studio server --------------------------------------------------------------
@pytest.mark.labelstudio
@pytest.mark.slow
@pytest.mark.parametrize("which", ["push-wrong-token", "pull-unknown-project", "pull-out-is-a-file"])
def test_bad_input_against_label_studio(which: str, label_studio: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        record_property: Callable[[str, Any], None]) -> None:
    from annotation.cli import app

    url, token = label_studio
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    make_corpus(tmp_path / "corpus", 1)
    if which == "push-wrong-token":
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0" * 40)
        args, where, what = ["push", "--source", str(tmp_path / "corpus")], url, "token was refused (401)"
    elif which == "pull-unknown-project":
        args, where, what = ["pull", "--project", "no such project", "--out", str(tmp_path / "ex")], url, \
            "no project titled 'no such project'"
    else:
        pushed = CliRunner().invoke(app, ["push", "--project", "reliability-bad-out", "--source",
                                          str(tmp_path / "corpus")])
        assert pushed.exit_code == 0, pushed.output
        (tmp_path / "ex").write_text("a file, not a folder", encoding="utf-8")
        args, where, what = ["pull", "--project", "reliability-bad-out", "--out", str(tmp_path / "ex")], "ex", \
            "is not a folder"
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(app, args)
    record_property("entry", f"python -m annotation {args[0]} (Label Studio)")
    assert result.exit_code not in (0, 1) and isinstance(result.exception, SystemExit), result.output
    line = one_line_error(result.stderr, result.stdout)
    assert token not in line and "0" * 40 not in line
    record_property("behaviour", f"exit {result.exit_code}: {line.replace(str(tmp_path), '$TMP')}")
    assert where in line and what in line, line
    assert tree_snapshot(tmp_path) == before
