"""Integration: the real Label Studio server (one per session, fresh data dir), through the real CLI.

Push the bundled corpus (twice: the task count stays), annotate one task as two annotators who disagree on
one statement, pull (twice: two files, the first unchanged), agreement, adjudication with the disagreement
pushed back as a prediction, and the dataset build from the gold file.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from annotation.cli import app
from annotation.client import Connection, LabelStudioClient
from annotation.label_config import build_label_config, config_drift
from annotation.push import push
from corpus.codebook import load_codebook
from corpus.errors import ServiceError
from corpus.gazetteer import MATCHER_VERSION
from corpus.store import BUNDLED_ROOT, CorpusStore

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
FLIPPED = ("heritage_foundation", "unilateral_strikes")  # the one statement the two annotators disagree on


def _seed_result() -> list[dict[str, Any]]:
    task = json.loads((BUNDLED_ROOT / "annotations" / "article-001.json").read_text(encoding="utf-8"))
    return [i for i in task["annotations"][0]["result"] if i.get("type") != "statement"]


def _flip(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The second annotator's version: the Heritage Foundation opposes unilateral strikes."""
    out = copy.deepcopy(result)
    choice = {i["id"]: i["value"]["choices"][0] for i in out if i.get("type") == "choices" and "id" in i}
    flipped = 0
    for item in out:
        if item.get("type") == "relation" and (choice.get(item["from_id"]), choice.get(item["to_id"])) == FLIPPED:
            item["labels"] = ["oppose"]
            flipped += 1
    assert flipped == 1
    return out


@pytest.fixture(scope="module")
def cli_env(label_studio, monkeypatch_module) -> dict[str, str]:
    url, token = label_studio
    monkeypatch_module.setenv("LABEL_STUDIO_URL", url)
    monkeypatch_module.setenv("LABEL_STUDIO_API_KEY", token)
    return {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


@pytest.fixture(scope="module")
def round_trip(label_studio, cli_env, tmp_path_factory) -> dict[str, Any]:
    """Push, annotate as two annotators, pull twice, agreement, adjudicate: the paths and outputs."""
    url, token = label_studio
    tmp = tmp_path_factory.mktemp("round")
    exports = tmp / "exports"
    project = "newsstance round trip"
    admin = LabelStudioClient(Connection(url, token))
    n_articles = len(CorpusStore().article_ids())

    first = _run("push", "--project", project, "--prelabel", "gazetteer")
    second = _run("push", "--project", project, "--prelabel", "gazetteer")
    found = admin.find_project(project)
    tasks = list(admin.iter_tasks(found["id"], with_annotations=True))
    seed_task = next(t for t in tasks if t["data"]["article_id"] == "article-001")

    # Two annotators: the admin, and a second user signed up through the invite link.
    coder_id, coder_token = admin.signup_annotator("coder-b@newsstance.test", "pw-Coder-b-2024!")
    coder = LabelStudioClient(Connection(url, coder_token))
    result = _seed_result()
    admin.create_annotation(seed_task["id"], result, lead_time=12.5)
    coder.create_annotation(seed_task["id"], _flip(result), lead_time=20.0)

    pull_1 = _run("pull", "--project", project, "--out", str(exports))
    files_1 = sorted(exports.glob("*.json"))
    bytes_1 = files_1[0].read_bytes()
    pull_2 = _run("pull", "--project", project, "--out", str(exports))
    files_2 = sorted(exports.glob("*.json"))
    export = exports / json.loads((exports / "manifest.jsonl").read_text().splitlines()[-1])["file"]

    agreement_json = tmp / "agreement.json"
    agreement_text = _run("agreement", str(export), "--json", str(agreement_json))
    gold = tmp / "gold.json"
    adjudicate_text = _run("adjudicate", str(export), "--out", str(gold), "--push-disagreements",
                           "--project", project)
    return {"first": first, "second": second, "tasks": tasks, "n_articles": n_articles, "seed_task": seed_task,
            "coder_id": coder_id, "files_1": files_1, "bytes_1": bytes_1, "files_2": files_2, "export": export,
            "pull_1": pull_1, "pull_2": pull_2, "agreement": json.loads(agreement_json.read_text()),
            "agreement_json": agreement_json, "agreement_text": agreement_text, "gold": gold,
            "adjudicate_text": adjudicate_text, "admin": admin, "project_id": found["id"], "exports": exports}


def test_push_twice_leaves_task_count(round_trip):
    r = round_trip
    assert f"{r['n_articles']} new" in r["first"]
    assert "0 new, 0 changed" in r["second"]
    assert len(r["tasks"]) == r["n_articles"]
    assert f"{r['n_articles']} tasks on the server" in r["second"]
    task = r["seed_task"]
    assert task["data"]["checksum"].startswith("sha256:")
    [pred] = task["predictions"]  # the gazetteer pre-annotation, once, though pushed twice
    assert pred["model_version"] == f"gazetteer-1.0.0-m{MATCHER_VERSION}" and 0 < pred["score"] <= 1
    assert any(i["value"].get("text") == "Mexican President Claudia Sheinbaum" for i in pred["result"]
               if i["type"] == "labels")


def test_pull_never_overwrites(round_trip):
    r = round_trip
    assert len(r["files_1"]) == 1 and len(r["files_2"]) == 2
    assert r["files_1"][0].read_bytes() == r["bytes_1"]
    manifest = [json.loads(line) for line in (r["exports"] / "manifest.jsonl").read_text().splitlines()]
    assert {m["file"] for m in manifest} == {f.name for f in r["files_2"]}
    assert manifest[0]["file"] == r["files_1"][0].name
    last = manifest[-1]
    assert last["server_version"] == "1.23.2" and last["tasks"] == r["n_articles"] and last["annotations"] == 2
    assert last["project_id"] == r["project_id"] and len(last["sha256"]) == 64
    exported = json.loads(r["export"].read_text())
    seed = next(t for t in exported if t["data"]["article_id"] == "article-001")
    assert all(isinstance(p, dict) and p.get("result") for p in seed["predictions"])  # full objects, not ids
    assert {r["coder_id"]} <= {a["completed_by"] for a in seed["annotations"]}
    assert sum(1 for i in seed["annotations"][0]["result"] if i["type"] == "relation") == 16


def test_agreement_on_two_annotators(round_trip):
    a = round_trip["agreement"]
    assert a["tasks_compared"] == 1
    assert a["annotators"] == ["admin@newsstance.test", "coder-b@newsstance.test"]
    st = a["stance"]
    assert st["units"] == 11  # distinct (actor, policy) pairs in the seed article
    assert st["observed_agreement"] == pytest.approx(10 / 11, abs=1e-4)
    assert a["statements"]["f1"] == pytest.approx(10 / 11, abs=1e-4)
    assert a["spans"]["Actor"]["exact_f1"] == 1.0 and a["spans"]["Policy"]["exact_f1"] == 1.0
    assert st["krippendorff_alpha"] is not None and st["krippendorff_alpha"] < 1
    assert "Krippendorff" in round_trip["agreement_text"]


def test_adjudication_and_disagreement_prediction(round_trip):
    gold = json.loads(round_trip["gold"].read_text())
    assert len(gold) == 1
    [ann] = gold[0]["annotations"]
    assert ann["annotator"] == "adjudicated" and ann["ground_truth"] is True
    assert ann["adjudication"]["method"] == "majority"
    assert sum(1 for i in ann["result"] if i["type"] == "relation") == 15  # 16 less the disputed one
    review = json.loads(round_trip["gold"].with_suffix(".review.json").read_text())
    conflicts = [x for x in review["review"] if x["kind"] == "conflict"]
    assert [(c["actor"], c["policy"]) for c in conflicts] == [FLIPPED]
    task = round_trip["admin"].get_task(round_trip["seed_task"]["id"])
    versions = {p["model_version"] for p in round_trip["admin"].list_predictions(task["id"])}
    assert "disagreement" in versions


def test_build_dataset_from_gold(round_trip, tmp_path):
    help_ = subprocess.run([sys.executable, "-m", "corpus", "build", "--help"], capture_output=True, text=True,
                           cwd=REPO, check=False)
    if help_.returncode != 0 or "not available" in help_.stdout + help_.stderr:
        pytest.skip("`python -m corpus build` is not available yet")
    out = tmp_path / "dataset"
    done = subprocess.run([sys.executable, "-m", "corpus", "build", str(round_trip["gold"]), "--out", str(out),
                           "--agreement", str(round_trip["agreement_json"]), "--no-progress"],
                          capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    from datasets import load_from_disk

    statements = load_from_disk(str(out / "statements"))
    rows = sum(len(statements[s]) for s in statements)
    assert rows == 15


def test_second_push_with_annotations_keeps_gold_and_statements(label_studio, tmp_path):
    """An importer-style folder: gold plus two annotators with offset-less statements, kept in task data."""
    from corpus.store import CorpusStore
    from corpus.tasks import statement_item

    url, token = label_studio
    store = CorpusStore(tmp_path / "corpus")
    article = CorpusStore().read_article("article-001")
    store.write_article(article)
    task = json.loads((BUNDLED_ROOT / "annotations" / "article-001.json").read_text(encoding="utf-8"))
    task["annotations"] += [
        {"id": 2, "annotator": "ext:A", "ground_truth": False, "result": [
            statement_item("s1", "Claudia Sheinbaum", "US troops on Mexican soil", "oppose", 0, 10)]},
        {"id": 3, "annotator": "ext:B", "ground_truth": False, "result": [
            statement_item("s1", "Sheinbaum", "US troops on Mexican soil", "support", 0, 10)]},
    ]
    store.write_task("article-001", task)
    client = LabelStudioClient(Connection(url, token))
    report = push(client, load_codebook(), store.root, "importer folder", with_annotations=True)
    assert report.annotations == 3 and report.statements_in_data == 2
    again = push(client, load_codebook(), store.root, "importer folder", with_annotations=True)
    assert again.new == 0 and again.tasks_on_server == 1

    from annotation.agreement import compute_agreement
    from annotation.export import load_tasks
    from annotation.pull import pull

    pulled = pull(client, "importer folder", tmp_path / "exports")
    source = load_tasks(pulled.path)
    ann = {a["import_id"]: a for a in source.tasks[0]["annotations"]}
    assert ann[1]["ground_truth"] is True and ann[2]["ground_truth"] is False
    assert all(i["type"] != "statement" for a in ann.values() for i in a["result"])
    report = compute_agreement(source, load_codebook())
    assert report["annotators"] == ["ext:A", "ext:B"]  # names restored from the task data
    assert report["stance"]["units"] == 1 and report["stance"]["observed_agreement"] == 0.0


def test_config_drift_is_reported_and_updated(label_studio):
    url, token = label_studio
    cb = load_codebook()
    client = LabelStudioClient(Connection(url, token))
    stale = build_label_config(cb).replace('<Relation value="neutral"', '<Relation value="undecided"')
    created = client.create_project("stale config", stale, "old instructions")
    report = push(client, cb, BUNDLED_ROOT, "stale config")
    assert report.config_differs and not report.config_updated
    assert any("relations" in p and "neutral" in p for p in report.config_problems)
    report = push(client, cb, BUNDLED_ROOT, "stale config", update_config=True)
    assert report.config_updated
    assert config_drift(client.get_project(created["id"])["label_config"], cb) == []


def test_wrong_token_and_unreachable_server(label_studio):
    from annotation.server import free_port

    url, _ = label_studio
    with pytest.raises(ServiceError, match="401"):
        LabelStudioClient(Connection(url, "0" * 40, retries=0)).find_project("x")
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError, match=f"unreachable at {dead}"):
        LabelStudioClient(Connection(dead, "0" * 40, retries=1, backoff=0.01)).find_project("x")
    result = CliRunner().invoke(app, ["pull", "--url", dead, "--project", "x"], env={"LABEL_STUDIO_API_KEY": "0" * 40})
    assert result.exit_code == 3 and dead in result.output and "Traceback" not in result.output
