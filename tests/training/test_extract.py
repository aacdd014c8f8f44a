"""Article -> statements: candidate pairs within a sentence window, stance predictions, the JSON that
`python -m evaluation network` reads. A random tiny stance model saved as a real model folder (no training)
goes through the real loading path (`training.predict.load_predictor`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus.codebook import load_codebook
from corpus.errors import InputError
from corpus.gazetteer import Gazetteer
from corpus.store import CorpusStore
from training.extract import Extractor, candidate_pairs, extract_files, read_articles, statement_row

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "corpus" / "articles" / "article-001.json"
TEXT = ("Sheinbaum said no to U.S. military assistance. Trump backs strikes on cartel targets.\n"
        "Anna Kelly praised information sharing.")


class ConstantPredictor:
    def __init__(self, labels: list[str], probs: list[float]) -> None:
        self.labels, self.probs = labels, probs
        self.rows: list[dict[str, Any]] = []

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        self.rows += rows
        return np.tile(self.probs, (len(rows), 1))


def test_pairs_stay_within_the_window_and_the_row_marks_both_mentions() -> None:
    codebook = load_codebook()
    mentions = Gazetteer(codebook).find(TEXT)
    same = candidate_pairs(TEXT, mentions, window=1)
    assert [(c.actor.text, c.policy.text) for c in same] == [
        ("Sheinbaum", "U.S. military assistance"), ("Trump", "strikes on cartel targets"),
        ("Anna Kelly", "information sharing")]
    assert len(candidate_pairs(TEXT, mentions, window=2)) == 3 + 2 + 2  # neighbouring sentences pair up too
    row = statement_row(TEXT, same[0], codebook)
    ctx = row["context"]
    assert ctx == "Sheinbaum said no to U.S. military assistance."
    assert ctx[row["actor_context_start"]:row["actor_context_end"]] == "Sheinbaum"
    assert ctx[row["policy_context_start"]:row["policy_context_end"]] == "U.S. military assistance"
    assert row["actor_label"] == "Claudia Sheinbaum" and row["policy_label"] == "US troops on Mexican soil"
    with pytest.raises(ValueError):
        candidate_pairs(TEXT, mentions, window=0)


def test_extractor_predicts_each_pair_and_filters_on_confidence() -> None:
    codebook = load_codebook()
    predictor = ConstantPredictor(codebook.stance_names, [0.2, 0.7, 0.1])
    (result,) = Extractor(predictor, codebook).run([("a", TEXT)])
    assert [s.stance for s in result.statements] == ["oppose"] * 3
    row = result.statements[0].to_json(TEXT, codebook)
    assert row["actor_id"] == "claudia_sheinbaum" and row["policy_id"] == "us_troops_in_mexico"
    assert row["confidence"] == 0.7 and row["probabilities"] == {"support": 0.2, "oppose": 0.7, "neutral": 0.1}
    assert TEXT[row["evidence"]["start"]:row["evidence"]["end"]] == row["evidence"]["text"]
    (none,) = Extractor(predictor, codebook, min_confidence=0.8).run([("a", TEXT)])
    assert none.statements == [] and len(none.mentions) == 6
    with pytest.raises(InputError, match="outside the codebook"):
        Extractor(ConstantPredictor(["POS", "NEG"], [0.5, 0.5]), codebook)


def _tiny_stance_model(folder: Path) -> Path:
    """A random tiny stance classifier saved the way training saves one (weights, tokenizer, meta)."""
    from training.transformer import META_FILE, load_model, load_tokenizer

    names = load_codebook().stance_names
    tokenizer = load_tokenizer(str(REPO / "tests" / "fixtures" / "tiny_model"), "markers")
    model = load_model(str(REPO / "tests" / "fixtures" / "tiny_model"), names, tokenizer, random_init=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / META_FILE).write_text(json.dumps({"input_form": "markers", "max_length": 64, "labels": names}))
    return folder


@pytest.fixture(scope="module")
def tiny_stance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_stance_model(tmp_path_factory.mktemp("models") / "stance")


@pytest.mark.slow
def test_extract_files_writes_statements_the_network_reads(tmp_path: Path, tiny_stance: Path) -> None:
    from evaluation.statements import read_statements

    out = tmp_path / "statements.json"
    summary = extract_files([SEED], out, str(tiny_stance))
    rows = json.loads(out.read_text())
    assert summary["statements"] == len(rows) > 10 and summary["tagger"] == "gazetteer"
    text = CorpusStore().read_article("article-001").text
    for row in rows:
        for key in ("actor_mention", "policy_mention", "evidence"):
            assert text[row[key]["start"]:row[key]["end"]] == row[key]["text"]
        assert row["stance"] in load_codebook().stance_names and 0 < row["confidence"] <= 1
    statements = read_statements(out, load_codebook()).statements
    assert len(statements) == len(rows)
    assert ("claudia_sheinbaum", "us_troops_in_mexico") in {(s.actor_id, s.policy_id) for s in statements}


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "notes.docx"
    bad.write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_articles([bad])
    with pytest.raises(InputError, match="given twice"):
        read_articles([SEED, SEED])
    with pytest.raises(InputError, match="must be a .json file"):
        extract_files([SEED], tmp_path / "out.csv", "nowhere")
    with pytest.raises(InputError, match="model path not found"):
        extract_files([SEED], tmp_path / "out.json", str(tmp_path / "no-model"))
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
def test_extract_cli_end_to_end_and_one_line_errors(tmp_path: Path, tiny_stance: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    out = tmp_path / "s.json"
    ok = CliRunner().invoke(app, ["extract", str(SEED), "--model", str(tiny_stance), "--out", str(out),
                                  "--window", "2", "--min-confidence", "0"])
    assert ok.exit_code == 0, ok.output
    assert "1 article(s)" in ok.output and "tagger gazetteer" in ok.output
    assert len(json.loads(out.read_text())) > 10
    bad = CliRunner().invoke(app, ["extract", str(tmp_path / "missing.json"), "--model", str(tiny_stance),
                                   "--out", str(tmp_path / "t.json")])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert bad.output.strip().splitlines()[-1].startswith("error: ") and "missing.json" in bad.output
    assert not (tmp_path / "t.json").exists()
