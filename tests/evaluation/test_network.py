"""Discourse networks: the seed article's gold network, hand-worked congruence/conflict and scores, sources."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from corpus.codebook import load_codebook
from corpus.errors import InputError
from corpus.store import BUNDLED_ROOT
from evaluation.cli import app
from evaluation.network import build_networks, export_files, network, score_networks
from evaluation.statements import Statement, read_statements

SEED_TASK = BUNDLED_ROOT / "annotations" / "article-001.json"


def st(actor: str, policy: str, stance: str, article: str = "a1") -> Statement:
    return Statement(actor_id=actor, policy_id=policy, stance=stance, actor_label=actor.upper(),
                     policy_label=policy.upper(), actor_type="person", article_id=article)


@pytest.fixture(scope="module")
def seed_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("net") / "seed"
    res = CliRunner().invoke(app, ["network", str(BUNDLED_ROOT), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_seed_gold_network_sheinbaum_opposes_us_troops(seed_out: Path) -> None:
    g = nx.read_graphml(seed_out / "two_mode.graphml")
    edge = g.edges["actor:claudia_sheinbaum", "policy:us_troops_in_mexico"]
    assert edge["weight"] < 0 and edge["sign"] == -1
    assert edge["oppose"] == 4 and edge["support"] == 0  # headline, lede, body, "presence of the US Army"
    assert g.edges["actor:donald_trump", "policy:us_troops_in_mexico"]["sign"] == 1
    assert g.edges["actor:claudia_sheinbaum", "policy:bilateral_cooperation"]["sign"] == 1
    assert g.nodes["actor:claudia_sheinbaum"]["type"] == "actor"
    assert g.nodes["actor:claudia_sheinbaum"]["actor_type"] == "person"
    assert g.nodes["policy:us_troops_in_mexico"]["label"] == "US troops on Mexican soil"
    summary = json.loads((seed_out / "network.json").read_text(encoding="utf-8"))["network"]
    assert summary["statements"] == 16 and summary["negative_edges"] == 1
    # Trump and Sheinbaum clash over US troops; Sheinbaum and Kelly both back intelligence sharing
    conflict = nx.read_graphml(seed_out / "conflict.graphml")
    assert conflict.edges["actor:claudia_sheinbaum", "actor:donald_trump"]["options"] == "us_troops_in_mexico"
    assert nx.read_graphml(seed_out / "congruence.graphml").has_edge("actor:anna_kelly", "actor:claudia_sheinbaum")


def test_seed_exports_are_readable_tables(seed_out: Path) -> None:
    edges = list(csv.DictReader(io.StringIO((seed_out / "two_mode_edges.csv").read_text(encoding="utf-8"))))
    row = next(r for r in edges if r["actor_id"] == "claudia_sheinbaum" and r["policy_id"] == "us_troops_in_mexico")
    assert row["weight"] == "-4" and row["sign"] == "-1"
    nodes = list(csv.DictReader(io.StringIO((seed_out / "nodes.csv").read_text(encoding="utf-8"))))
    assert {n["type"] for n in nodes} == {"actor", "policy"} and len(nodes) == 14
    assert (seed_out / "network.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_congruence_and_conflict_by_hand() -> None:
    nets = build_networks([
        st("a", "x", "support"), st("b", "x", "support"), st("c", "x", "oppose"),
        st("a", "y", "oppose"), st("c", "y", "oppose"), st("d", "y", "support"), st("d", "y", "oppose"),
        st("b", "y", "neutral"),
    ])
    two = nets.two_mode
    assert two.edges["actor:d", "policy:y"]["sign"] == 0 and two.edges["actor:d", "policy:y"]["statements"] == 2
    assert two.edges["actor:b", "policy:y"]["neutral"] == 1 and two.edges["actor:b", "policy:y"]["weight"] == 0
    assert {tuple(sorted(e)) for e in nets.congruence.edges} == {("actor:a", "actor:b"), ("actor:a", "actor:c")}
    assert {tuple(sorted(e)) for e in nets.conflict.edges} == {("actor:a", "actor:c"), ("actor:b", "actor:c")}
    assert nets.congruence.edges["actor:a", "actor:c"]["options"] == "y"
    assert set(nets.congruence.nodes) == {"actor:a", "actor:b", "actor:c", "actor:d"}  # isolates kept
    files = export_files(nets)
    assert files["conflict_edges.csv"].splitlines()[1] == "actor:a,actor:c,A,C,1,x"


def test_network_score_by_hand() -> None:
    gold = [st("a", "x", "support"), st("a", "y", "oppose"), st("b", "x", "oppose"), st("c", "z", "support", "a2")]
    pred = [st("a", "x", "support"), st("a", "y", "support"), st("b", "z", "oppose")]
    s = score_networks(pred, gold)
    # gold cut to article a1 (3 edges); predicted 3 edges; matched a-x (same sign), a-y (sign wrong)
    n = s["network"]
    assert s["gold_restricted_to_predicted_articles"] and n["gold_edges"] == 3
    assert n["edge_precision"] == pytest.approx(2 / 3) and n["edge_recall"] == pytest.approx(2 / 3)
    assert n["edge_f1"] == pytest.approx(2 / 3) and n["sign_accuracy"] == pytest.approx(0.5)
    assert n["signed_edge_f1"] == pytest.approx(1 / 3)
    assert s["article"]["matched_edges"] == 2
    full = score_networks(pred, gold, same_articles=False)["network"]
    assert full["gold_edges"] == 4 and full["edge_recall"] == pytest.approx(0.5)


def test_sources_agree_on_the_seed(tmp_path: Path) -> None:
    cb = load_codebook()
    corpus = read_statements(BUNDLED_ROOT, cb)
    task = json.loads(SEED_TASK.read_text(encoding="utf-8"))
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{**task, "id": 42}]), encoding="utf-8")
    from_export = read_statements(export, cb)
    from_task = read_statements(SEED_TASK, cb)
    assert len(corpus.statements) == len(from_export.statements) == len(from_task.statements) == 16
    # the `training extract` shape: a JSON list of statements with labels and confidence
    extract = tmp_path / "extract.json"
    extract.write_text(json.dumps([{"article_id": "article-001", "actor_id": s.actor_id, "actor_label": s.actor_label,
                                    "policy_id": s.policy_id, "policy_label": s.policy_label, "stance": s.stance,
                                    "confidence": 0.8, "evidence": [0, 5]} for s in corpus.statements]),
                       encoding="utf-8")
    data = json.loads(extract.read_text(encoding="utf-8"))
    data.append({"article_id": "article-001", "actor_id": None, "actor_label": "Mexican senators",
                 "policy_id": "us_troops_in_mexico", "policy_label": "US troops on Mexican soil", "stance": "oppose",
                 "confidence": 0.55})  # an extracted mention outside the codebook: kept under its name
    extract.write_text(json.dumps(data), encoding="utf-8")
    rows = read_statements(extract, cb)
    assert rows.statements[-1].actor_id == "x:mexican-senators" and rows.statements[-1].actor_label == "Mexican senators"
    rows.statements.pop()
    assert rows.kind == "rows" and rows.statements[0].confidence == 0.8
    assert rows.statements[0].actor_type == "person"  # filled from the codebook
    sc = score_networks(rows.statements, corpus.statements)
    assert sc["network"]["edge_f1"] == 1.0 and sc["article"]["signed_edge_f1"] == 1.0


def test_network_of_a_dataset_and_of_predictions(tiny_dataset: Path, tmp_path: Path) -> None:
    from evaluation.evaluate import EvaluateSettings, evaluate
    from tests.evaluation.conftest import FakePredictor

    evaluate(tiny_dataset, "test", tmp_path / "ev", model="m", settings=EvaluateSettings(n_resamples=50),
             track=False, loader=lambda m: FakePredictor(skill=0.6))
    s = network(tmp_path / "ev" / "predictions.jsonl", tmp_path / "net", gold=tiny_dataset, split="test")
    assert s["network"]["statements"] == 48 and s["kind"] == "rows"
    assert s["score"]["network"]["edge_recall"] == 1.0  # same pairs; signs may differ
    assert 0 <= s["score"]["network"]["sign_accuracy"] <= 1
    g = nx.read_graphml(tmp_path / "net" / "two_mode.graphml")
    assert "mean_confidence" in next(iter(g.edges(data=True)))[2]


@pytest.mark.parametrize(("content", "message"), [
    ('[{"actor_id": "a", "policy_id": "x"}]', "extract.json:1: no stance"),
    ('[{"actor_id": "a", "policy_id": "x", "stance": "hates"}]', "extract.json:1: stance 'hates' is not in"),
    ('[{"policy_id": "x", "stance": "support"}]', "a statement needs an actor"),
    ("[]", "holds no rows"),
    ('{"a": 1', "extract.json:1: not valid JSON"),
])
def test_bad_statement_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "extract.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_statements(path, load_codebook())
    assert message in str(e.value)


def test_cli_network_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["network", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.strip() == f"error: {tmp_path / 'missing.json'}: not found"
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["network", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "holds neither a dataset" in res.output
    assert not (tmp_path / "o").exists()


def test_drawing_names_the_data_and_the_rule_and_leaves_placeholders_out(tmp_path: Path) -> None:
    from evaluation.network_html import page_data
    from evaluation.plots import network_png

    rows = [{"actor": a, "target": t, "stance": s, "article_id": "a1", "context": f"{a} on {t}."}
            for a, t, s in [("Maria Lopez", "Border Act", "support"), ("Tom Hale", "Border Act", "oppose"),
                            ("(author)", "Tom Hale", "oppose"), ("(unlisted)", "Border Act", "support")]]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = network(src, tmp_path / "out", split=None)
    assert summary["drawing"] == {"title": "Discourse network: rows.jsonl", "targets": "targets",
                                  "placeholders_drawn": False}
    nodes = list(csv.DictReader(io.StringIO((tmp_path / "out" / "nodes.csv").read_text(encoding="utf-8"))))
    assert {"(author)", "(unlisted)"} <= {n["label"] for n in nodes}  # kept in the files
    page = (tmp_path / "out" / "network.html").read_text(encoding="utf-8")
    assert "<script src" not in page and "http" not in page.split('id="data">')[1].split("</script>")[0]
    data = page_data(nx.read_graphml(tmp_path / "out" / "two_mode.graphml"), [])
    assert {n["label"]: n["placeholder"] for n in data["nodes"]}["(author)"] is True

    import matplotlib.axes

    texts: list[str] = []
    real_text = matplotlib.axes.Axes.text

    def spy(self, x, y, s, *a, **k):  # noqa: ANN001, ANN202 - records every string drawn
        texts.append(str(s))
        return real_text(self, x, y, s, *a, **k)

    matplotlib.axes.Axes.text = spy
    try:
        g = build_networks(read_statements(src, load_codebook()).statements).two_mode
        network_png(g, "T", max_actors=1, targets_word="targets")
        rule_default = next(t for t in texts if "by degree" in t or "all " in t)
        texts.clear()
        network_png(g, "T", targets_word="targets", placeholders=True)
    finally:
        matplotlib.axes.Axes.text = real_text
    assert rule_default == ("top 1 actors by degree of 2; all 2 targets; 2 placeholder node(s) ((author), (unlisted)) "
                            "not drawn (in the files)")
    assert "(author)" in texts and "(unlisted)" in texts and "targets" in texts


def test_seed_network_title_names_the_bundled_corpus_and_policy_options(seed_out: Path) -> None:
    drawing = json.loads((seed_out / "network.json").read_text(encoding="utf-8"))["drawing"]
    assert drawing["targets"] == "policy options"
    assert drawing["title"].startswith("Discourse network: ") and "(the bundled corpus)" in drawing["title"]
    assert (seed_out / "network.html").stat().st_size > 3000


def test_placeholders_flag_draws_them(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps({"actor": "(author)", "target": "Tom Hale", "stance": "oppose"}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["network", str(src), "--out", str(tmp_path / "out"), "--placeholders"])
    assert res.exit_code == 0, res.output
    assert "network.html (interactive" in res.output
    assert json.loads((tmp_path / "out" / "network.json").read_text(encoding="utf-8"))["drawing"]["placeholders_drawn"]
