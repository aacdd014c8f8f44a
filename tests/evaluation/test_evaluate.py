"""`evaluate` end to end on a tiny dataset: files written, numbers consistent, bad input refused cleanly."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.errors import InputError
from evaluation.cli import app
from evaluation.data import agreement_figures, load_split, read_agreement
from evaluation.error_analysis import LabelStudioLinks
from evaluation.evaluate import SEEN, UNSEEN, EvaluateSettings, evaluate, mark_seen, score
from evaluation.metrics import accuracy, macro_f1
from evaluation.predictions import Predictions, read_predictions
from tests.evaluation.conftest import FakePredictor, write_predictions

NAMES = ["support", "oppose", "neutral"]
FAST = EvaluateSettings(n_resamples=200, top_errors=5)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def evaluated(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("eval") / "out"
    result = evaluate(tiny_dataset, "test", out, model="fake-model", settings=FAST, track=False,
                      loader=lambda uri: FakePredictor(skill=0.7), label_studio_url="http://127.0.0.1:8080/projects/7")
    return out, result


def test_evaluate_writes_every_output(evaluated: tuple[Path, dict]) -> None:
    out, _ = evaluated
    for name in ("metrics.json", "predictions.jsonl", "errors.jsonl", "report.md", "report.html",
                 "confusion_matrix.png", "per_class.png", "reliability.png"):
        assert (out / name).is_file(), name
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_metrics_match_the_written_predictions(evaluated: tuple[Path, dict], tiny_dataset: Path) -> None:
    out, r = evaluated
    rows = _read_jsonl(out / "predictions.jsonl")
    gold, pred = [x["gold"] for x in rows], [x["predicted"] for x in rows]
    assert [x["stance"] for x in load_split(tiny_dataset, "test", NAMES)] == gold
    assert r["n"] == len(rows) == 48
    assert r["metrics"]["macro_f1"]["point"] == pytest.approx(macro_f1(gold, pred, NAMES))
    assert r["metrics"]["accuracy"]["point"] == pytest.approx(accuracy(gold, pred))
    for m in ("macro_f1", "f_avg", "accuracy"):
        iv = r["metrics"][m]
        assert iv["low"] <= iv["point"] <= iv["high"]
    assert sum(map(sum, r["confusion"])) == 48
    assert r["bootstrap"]["unit"] == "group" and r["bootstrap"]["units"] == 12  # the fixture's group: its article
    assert 0 <= r["metrics"]["ece"] <= 1
    # probabilities were re-ordered from the predictor's label order into the codebook's
    for x in rows:
        assert max(x["probabilities"], key=x["probabilities"].get) == x["predicted"]


def test_breakdowns_agreement_and_errors(evaluated: tuple[Path, dict]) -> None:
    _, r = evaluated
    assert set(r["breakdowns"]) == {"Actor type", "Policy option", "Source", "Target in the training split",
                                    "Actor in the training split"}
    assert sum(b["n"] for b in r["breakdowns"]["Source"]) == 48
    assert {b["label"] for b in r["breakdowns"]["Policy option"]} == {"US troops on Mexican soil",
                                                                      "Stronger border security"}
    figures = {a["name"]: a["value"] for a in r["agreement"]}
    assert figures["stance: Krippendorff's alpha (nominal)"] == 0.71
    assert figures["stance: annotators' macro-F1 (mean specific agreement)"] == pytest.approx(0.82)  # neutral uncoded
    assert figures["whole statements (actor, policy, stance): F1 between annotators"] == 0.64
    assert len(figures) == 7  # 4 headline measures, 2 labels coded, their mean
    assert r["dataset_digest"] == "sha256:abc123"
    errs = r["errors"]
    assert len(errs) == 5 and r["n_errors"] >= 5
    assert [e["confidence"] for e in errs] == sorted((e["confidence"] for e in errs), reverse=True)
    e = errs[0]
    assert e["gold"] != e["predicted"]
    assert e["link"] == f"http://127.0.0.1:8080/projects/7/data?task={e['task_id']}"
    s, t = e["actor_span"]
    assert e["context"][s:t] == e["actor"]


def test_report_sets_model_beside_agreement(evaluated: tuple[Path, dict]) -> None:
    out, r = evaluated
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Human ceiling" in md
    macro = r["metrics"]["macro_f1"]
    assert f"| macro-F1 | {macro['point']:.3f} [{macro['low']:.3f}, {macro['high']:.3f}] | 0.820 |" in md
    assert "| F1 support | " in md and "| stance: Krippendorff's alpha (nominal) | – | 0.710 |" in md
    assert "![Confusion matrix](confusion_matrix.png)" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3
    assert "http" not in page.replace("http://127.0.0.1:8080/projects/7/data?task=", "")  # nothing fetched
    assert '<mark class="actor">' in page


def test_label_studio_links() -> None:
    assert LabelStudioLinks.parse("http://h:8080/", "3").task_url(12) == "http://h:8080/projects/3/data?task=12"
    assert LabelStudioLinks.parse("http://h:8080/projects/5/data").task_url("9") == \
        "http://h:8080/projects/5/data?task=9"
    assert LabelStudioLinks.parse("http://h:8080").task_url(12) is None  # no project known
    assert LabelStudioLinks.parse("http://h/projects/5").task_url(None) is None
    assert LabelStudioLinks.parse("javascript:alert(1)") is None


def test_evaluate_a_predictions_file(tiny_dataset: Path, tmp_path: Path) -> None:
    rows = load_split(tiny_dataset, "test", NAMES)
    labels = [r["stance"] if i % 3 else "neutral" for i, r in enumerate(rows)]
    preds = write_predictions(tmp_path / "p.jsonl", rows, labels)
    r = evaluate(tiny_dataset, "test", tmp_path / "out", predictions=preds, settings=FAST, track=False)
    gold = [x["stance"] for x in rows]
    assert r["metrics"]["macro_f1"]["point"] == pytest.approx(macro_f1(gold, labels, NAMES))
    assert r["calibration"] is None and not (tmp_path / "out" / "reliability.png").exists()
    assert any("no probabilities" in n for n in r["notes"])


def test_predictions_file_shapes(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("id,prob_support,prob_oppose,prob_neutral,gold\nx,0.2,0.7,0.1,oppose\ny,0.6,0.3,0.1,oppose\n",
                   encoding="utf-8")
    p = read_predictions(csv, NAMES)
    assert p.labels == ["oppose", "support"] and p.gold == ["oppose", "oppose"]
    assert p.probs.tolist()[0] == [0.2, 0.7, 0.1]
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"predictions": [{"id": 1, "probabilities": {"support": 0.9, "oppose": 0.1}},
                                              {"id": 2, "probabilities": [0.1, 0.9], "labels": ["support", "oppose"],
                                               "predicted": 1}]}), encoding="utf-8")
    p = read_predictions(js, NAMES)
    assert p.ids == ["1", "2"] and p.labels == ["support", "oppose"]  # an integer label indexes the codebook


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "a", "predicted": "maybe"}\n', "p.jsonl:1: label 'maybe' is not in the codebook"),
    ('{"predicted": "support"}\n', "p.jsonl:1: row has no 'id'"),
    ('{"id": "a", "predicted": "support"}\n{"id": "a", "predicted": "oppose"}\n', "duplicate id 'a'"),
    ('{"id": "a"}\n', "no predicted label"),
    ('{"id": "a", "probabilities": {"support": 1.7}}\n', "must lie in [0, 1]"),
    ("{not json\n", "p.jsonl:1: not valid JSON"),
])
def test_bad_predictions_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_predictions(path, NAMES)
    assert message in str(e.value)


def test_missing_prediction_and_gold_mismatch_are_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    rows = load_split(tiny_dataset, "test", NAMES)
    short = write_predictions(tmp_path / "short.jsonl", rows[:-1], [r["stance"] for r in rows[:-1]])
    with pytest.raises(InputError, match=r"no prediction for 1 of 48 statements \(first: id 'test-a11/1/r3'\)"):
        evaluate(tiny_dataset, "test", tmp_path / "o1", predictions=short, settings=FAST, track=False)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"id": r["id"], "predicted": "support", "gold": "neutral"}) + "\n"
                             for r in rows), encoding="utf-8")
    with pytest.raises(InputError, match="gold labels differ"):
        evaluate(tiny_dataset, "test", tmp_path / "o2", predictions=other, settings=FAST, track=False)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_bad_dataset_and_out_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    fake = lambda uri: FakePredictor()  # noqa: E731
    with pytest.raises(InputError, match="no split 'dev'; the dataset has train, validation, test"):
        evaluate(tiny_dataset, "dev", tmp_path / "o", model="m", loader=fake, track=False)
    with pytest.raises(InputError, match="no 'statements' config"):
        evaluate(tmp_path, "test", tmp_path / "o", model="m", loader=fake, track=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="not an earlier evaluation output"):
        evaluate(tiny_dataset, "test", busy, model="m", loader=fake, track=False)
    assert [p.name for p in busy.iterdir()] == ["thesis.tex"]
    with pytest.raises(InputError, match="exactly one of --model and --predictions"):
        evaluate(tiny_dataset, "test", tmp_path / "o", track=False)
    with pytest.raises(InputError, match="model label 'maybe'"):
        evaluate(tiny_dataset, "test", tmp_path / "o", model="m", track=False,
                 loader=lambda uri: FakePredictor(labels=["support", "maybe", "neutral"]))


def test_agreement_figures_of_another_shape_keep_the_measures() -> None:
    raw = {"stance": {"alpha": 0.7, "n": 40}, "pairs": [{"name": "A-B", "kappa": 0.6}], "ok": True, "note": "x"}
    assert agreement_figures(raw) == [("stance.alpha", 0.7), ("pairs.A-B.kappa", 0.6)]


def test_agreement_from_the_card_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nagreement:\n  stance_alpha: 0.5\n---\n# x\n", encoding="utf-8")
    assert read_agreement(tmp_path, None) == [("stance_alpha", 0.5)]
    f = tmp_path / "a.json"
    f.write_text('{"tasks": 3}', encoding="utf-8")
    with pytest.raises(InputError, match="holds no agreement figures"):
        read_agreement(tmp_path, f)


def test_cli_evaluate_and_one_line_errors(tiny_dataset: Path, tmp_path: Path) -> None:
    rows = load_split(tiny_dataset, "test", NAMES)
    preds = write_predictions(tmp_path / "p.jsonl", rows, [r["stance"] for r in rows])
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", "--predictions", str(preds), "--dataset", str(tiny_dataset),
                              "--out", str(tmp_path / "out"), "--no-track", "--resamples", "100"])
    assert res.exit_code == 0, res.output
    assert "macro-F1 1.000 [1.000, 1.000]" in res.output
    assert (tmp_path / "out" / "report.html").is_file()
    res = runner.invoke(app, ["evaluate", "--predictions", str(preds), "--dataset", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "o2"), "--no-track"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [f"error: {tmp_path / 'nope'}: dataset folder not found"]
    res = runner.invoke(app, ["evaluate", "--predictions", str(preds), "--dataset", str(tiny_dataset),
                              "--out", str(tmp_path / "o3"), "--no-track", "--unit", "paragraph"])
    assert res.exit_code == 2 and "error: --unit: must be one of auto, group, article, statement" in res.output


def _clustered(n_groups: int, per_group: int) -> tuple[list[dict], Predictions]:
    """Rows whose statements within one group are identical (same gold, same prediction): one draw per group."""
    rows, labels = [], []
    for g in range(n_groups):
        gold = NAMES[g % 2]
        predicted = gold if g % 3 else NAMES[(g + 1) % 2]
        for k in range(per_group):
            rows.append({"id": f"g{g}-{k}", "article_id": f"g{g}-a{k}", "group": f"g{g}", "stance": gold})
            labels.append(predicted)
    return rows, Predictions([r["id"] for r in rows], labels, None)


def test_group_clusters_widen_the_interval_where_rows_of_a_group_are_identical() -> None:
    rows, preds = _clustered(30, 12)
    widths = {}
    for unit in ("group", "article", "statement"):
        r = score(rows, preds, NAMES, EvaluateSettings(n_resamples=400, unit=unit))
        iv = r["metrics"]["macro_f1"]
        widths[unit] = iv["high"] - iv["low"]
        assert r["bootstrap"]["unit"] == unit
        assert r["bootstrap"]["units"] == {"group": 30, "article": 360, "statement": 360}[unit]
    assert widths["group"] > 2 * widths["statement"] and widths["group"] > 2 * widths["article"]
    auto = score(rows, preds, NAMES, EvaluateSettings(n_resamples=100))
    assert auto["bootstrap"]["unit"] == "group"  # the default clusters by the dataset's group


def test_the_report_states_the_unit_and_the_number_of_clusters(evaluated: tuple[Path, dict]) -> None:
    out, _ = evaluated
    for name in ("report.md", "report.html"):
        text = html.unescape((out / name).read_text(encoding="utf-8"))
        assert "bootstrap over 12 groups (clustered by the dataset's group column)" in text, name


def test_unit_group_without_a_group_column_is_refused() -> None:
    rows, preds = _clustered(3, 2)
    for r in rows:
        r.pop("group")
    with pytest.raises(InputError, match="--unit group: some rows have no group"):
        score(rows, preds, NAMES, EvaluateSettings(n_resamples=50, unit="group"))
    assert score(rows, preds, NAMES, EvaluateSettings(n_resamples=50))["bootstrap"]["unit"] == "article"


def test_scores_are_broken_down_by_targets_and_actors_seen_in_training() -> None:
    train = [{"policy_label": "Border wall", "actor_label": "Ana"}, {"policy_label": "Tariffs", "actor_label": "Bo"}]
    rows = [{"id": str(i), "article_id": f"a{i}", "policy_label": p, "actor_label": a, "stance": g}
            for i, (p, a, g) in enumerate([("border  WALL", "Ana", "support"), ("Tariffs", "Cy", "oppose"),
                                           ("Troops", "Bo", "support"), ("Troops", "Cy", "oppose"),
                                           ("Tariffs", "Ana", "support"), ("", "Ana", "oppose")])]
    mark_seen(rows, train)
    assert [r["target_seen"] for r in rows] == [SEEN, SEEN, UNSEEN, UNSEEN, SEEN, "unknown"]
    assert [r["actor_seen"] for r in rows] == [SEEN, UNSEEN, SEEN, UNSEEN, SEEN, SEEN]
    preds = Predictions([r["id"] for r in rows], ["support", "oppose", "oppose", "support", "support", "oppose"],
                        None)
    r = score(rows, preds, NAMES, EvaluateSettings(n_resamples=50))
    by_target = {b["value"]: b for b in r["breakdowns"]["Target in the training split"]}
    assert by_target[SEEN]["n"] == 3 and by_target[SEEN]["accuracy"] == 1.0
    assert by_target[UNSEEN]["n"] == 2 and by_target[UNSEEN]["accuracy"] == 0.0
    assert {b["value"]: b["n"] for b in r["breakdowns"]["Actor in the training split"]} == {SEEN: 4, UNSEEN: 2}


def test_evaluate_reports_seen_and_unseen_targets_from_the_train_split(evaluated: tuple[Path, dict]) -> None:
    out, r = evaluated
    values = {b["value"] for b in r["breakdowns"]["Target in the training split"]}
    assert values <= {SEEN, UNSEEN} and values
    assert "By target in the training split" in (out / "report.md").read_text(encoding="utf-8")
    assert "target in the training split" in (out / "report.html").read_text(encoding="utf-8")
    assert "Target in the training split" in (out / "breakdowns.csv").read_text(encoding="utf-8")
    rows = _read_jsonl(out / "predictions.jsonl")
    assert {x["target_seen"] for x in rows} == values
