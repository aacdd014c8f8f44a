"""Article -> statements: candidate pairs within a sentence window, a detector's statement-or-none decision (or
a stance model's stance for every pair), one statement per (actor, target, sentence), the gold-entities setting
over a dataset's candidates, and the JSON that `python -m evaluation network` reads. A random tiny stance model
saved as a real model folder (no training) goes through the real loading path (`training.predict.load_predictor`).
"""

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
    document = json.loads(out.read_text())
    rows = document["statements"]
    assert summary["statements"] == len(rows) > 10 and summary["tagger"] == "gazetteer"
    assert (document["setting"], document["model_kind"], document["threshold"]) == ("found-entities", "stance", None)
    (article,) = document["articles"]
    assert article["article_id"] == "article-001" and article["statements"] == len(rows)
    assert article["candidates"] == article["detected"] >= len(rows)  # a stance model keeps every pair
    keys = [(r["actor_id"], r["policy_id"], r["evidence"]["start"]) for r in rows]
    assert len(keys) == len(set(keys))  # one statement per actor, target and sentence
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
    assert len(json.loads(out.read_text())["statements"]) > 10
    bad = CliRunner().invoke(app, ["extract", str(tmp_path / "missing.json"), "--model", str(tiny_stance),
                                   "--out", str(tmp_path / "t.json")])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert bad.output.strip().splitlines()[-1].startswith("error: ") and "missing.json" in bad.output
    assert not (tmp_path / "t.json").exists()


class KeywordDetector:
    """A detector over support/oppose/neutral/none: a pair is a statement when its context says 'backs' (support)
    or 'rejects' (oppose) right after the actor; other pairs are none. P(statement) 0.9 or 0.1."""

    def __init__(self, threshold: float | None = 0.5, none_label: str = "none") -> None:
        self.labels = load_codebook().detection_names
        self.none_label, self.threshold = none_label, threshold
        self.rows: list[dict[str, Any]] = []

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        self.rows += rows
        out = []
        for row in rows:
            ctx = row["context"]
            after = ctx[row["actor_context_end"]:] if row.get("actor_context_end") is not None else ctx
            word = after.split()[0] if after.split() else ""
            if word in ("backs", "rejects"):
                stance = [0.8, 0.1, 0.1] if word == "backs" else [0.1, 0.8, 0.1]
                p = 0.9 if row["actor_mention"] != "Sheinbaum" else 0.8  # the surname is a little less sure
                out.append([x * p for x in stance] + [1 - p])
            else:
                out.append([0.03, 0.04, 0.03, 0.9])
        return np.asarray(out)


DETECT = ("Trump backs strikes on cartel targets, and Trump said strikes on cartel targets work.\n"
          "Sheinbaum rejects U.S. military assistance. Claudia Sheinbaum met Trump about information sharing.")


def test_a_detector_keeps_only_detected_pairs_one_statement_per_actor_target_and_sentence() -> None:
    codebook = load_codebook()
    detector = KeywordDetector()
    extractor = Extractor(detector, codebook)
    assert extractor.kind == "detector" and extractor.threshold == 0.5
    (result,) = extractor.run([("a", DETECT)])
    # pairs: Trump x2 * strikes x2 (one sentence), Sheinbaum * assistance, Claudia Sheinbaum/Trump * sharing
    assert len(result.pairs) == 4 + 1 + 2
    assert result.detected == 2 + 1  # "Trump backs ..." pairs with both strike mentions; "Sheinbaum rejects"
    got = [(s.candidate.actor.canonical, s.candidate.policy.canonical, s.stance, s.mention_pairs)
           for s in result.statements]
    assert got == [("donald_trump", "unilateral_strikes", "support", 2),
                   ("claudia_sheinbaum", "us_troops_in_mexico", "oppose", 1)]
    first = result.statements[0]
    assert first.p_statement == pytest.approx(0.9) and first.confidence == pytest.approx(0.9 * 0.8)
    row = first.to_json(DETECT, codebook)
    assert row["p_statement"] == 0.9 and row["mention_pairs"] == 2 and row["probabilities"]["none"] == 0.1
    assert row["actor_mention"]["text"] == "Trump" and row["actor_mention"]["start"] == 0  # the most confident pair
    assert all(not p.is_statement for p in result.pairs if p.candidate.policy.canonical == "information_sharing")
    # the threshold is the model's: raised above 0.8, the surname's statement goes too
    (strict,) = Extractor(KeywordDetector(threshold=0.85), codebook).run([("a", DETECT)])
    assert [s.candidate.actor.canonical for s in strict.statements] == ["donald_trump"]
    # a detector saved without a threshold decides at 0.5 (and the queue measures against 0.5)
    assert Extractor(KeywordDetector(threshold=None), codebook).threshold == 0.5
    # --min-confidence filters the detected statements on their confidence (0.72 and 0.64)
    (confident,) = Extractor(detector, codebook, min_confidence=0.7).run([("a", DETECT)])
    assert [s.stance for s in confident.statements] == ["support"]


def test_rows_carry_the_articles_title_and_preceding_sentences() -> None:
    codebook = load_codebook()
    detector = KeywordDetector()
    article = CorpusStore().read_article("article-001")
    Extractor(detector, codebook).extract([article])
    late = [r for r in detector.rows if r["context_start"] > 200]
    assert late and all(r["title"] == article.title and r["preceding"] for r in late)
    assert all(article.text[r["context_start"]:].startswith(r["context"]) for r in detector.rows)


def test_a_detector_of_another_codebook_is_refused() -> None:
    with pytest.raises(InputError, match="another codebook version"):
        Extractor(KeywordDetector(none_label="no_relation"), load_codebook())


def _gold_dataset(root: Path, with_candidates: bool = True) -> Path:
    """DATASET/articles and DATASET/candidates of one test article: a placed pair with a statement, a placed pair
    without, and a pair of sides outside the codebook given by name only (no offsets)."""
    from datasets import Dataset, DatasetDict

    text = "Gold news\n\nTrump backs border security. Trump visited Texas while others debated tariffs."
    names = load_codebook().detection_names
    DatasetDict({"test": Dataset.from_list([{"id": "g1", "title": "Gold news", "text": text, "split": "test"},
                                            {"id": "g2", "title": "Empty", "text": "Nothing here.",
                                             "split": "test"}])}).save_to_disk(str(root / "articles"))
    s1 = text.index("Trump backs")
    c1 = "Trump backs border security."
    s2 = text.index("Trump visited")
    c2 = "Trump visited Texas while others debated tariffs."

    def row(i: int, ctx: str, start: int, actor: tuple[str, str], policy: tuple[str, str], stance: str,
            placed: bool) -> dict[str, Any]:
        a0, p0 = ctx.find(actor[1]), ctx.find(policy[1])
        return {"id": f"g1/c{i}", "article_id": "g1", "actor_id": actor[0], "actor_label": actor[1],
                "actor_type": "person", "policy_id": policy[0], "policy_label": policy[1],
                "actor_mention": actor[1], "policy_mention": policy[1], "context": ctx, "context_start": start,
                "actor_start": start + a0 if placed else None, "actor_end": start + a0 + len(actor[1]) if placed
                else None, "policy_start": start + p0 if placed else None,
                "policy_end": start + p0 + len(policy[1]) if placed else None,
                "actor_context_start": a0 if placed else None,
                "actor_context_end": a0 + len(actor[1]) if placed else None,
                "policy_context_start": p0 if placed else None,
                "policy_context_end": p0 + len(policy[1]) if placed else None,
                "stance": names.index(stance), "qualifiers": [], "candidate_source": "gold" if stance != "none" else "span-pair"}

    rows = [row(0, c1, s1, ("donald_trump", "Trump"), ("border_security", "border security"), "support", True),
            row(1, c2, s2, ("donald_trump", "Trump"), ("x:tariffs", "tariffs"), "none", True),
            row(2, c1, s1, ("x:author", "(author)"), ("border_security", "border security"), "oppose", False)]
    if with_candidates:
        DatasetDict({"test": Dataset.from_list(rows)}).save_to_disk(str(root / "candidates"))
    return root


def test_gold_entities_predict_only_pairs_and_stances_from_the_datasets_candidates(tmp_path: Path) -> None:
    from training.extract import gold_entities_of

    dataset = _gold_dataset(tmp_path / "ds")
    items, rows = gold_entities_of(dataset, "test")
    assert [a for a, _, _ in items] == ["g1", "g2"] and len(rows["g1"]) == 3 and "g2" not in rows
    codebook = load_codebook()
    detector = KeywordDetector()
    r1, r2 = Extractor(detector, codebook).run_gold(items, rows)
    assert all("stance" not in r and "candidate_source" not in r for r in detector.rows)  # never the label
    assert (len(r1.pairs), r1.detected, len(r2.pairs), r2.statements) == (3, 1, 0, [])
    (st,) = r1.statements
    out = st.to_json(r1.text, codebook)
    assert (out["actor_id"], out["policy_id"], out["stance"]) == ("donald_trump", "border_security", "support")
    assert r1.text[out["evidence"]["start"]:out["evidence"]["end"]] == "Trump backs border security."
    assert out["actor_mention"]["source"] == "gold"
    # a side given by name only: no offsets, ids and labels from the row
    (unplaced,) = [p for p in r1.pairs if p.candidate.actor.start is None]
    assert unplaced.candidate.row["actor_id"] == "x:author"
    with pytest.raises(InputError, match="not in the test split"):
        gold_entities_of(dataset, "test", ["g1", "nowhere"])
    with pytest.raises(InputError, match="missing split 'validation'"):
        gold_entities_of(dataset, "validation")
    with pytest.raises(InputError, match="built before candidates existed.*rebuild it with"):
        gold_entities_of(_gold_dataset(tmp_path / "old", with_candidates=False), "test")


@pytest.mark.slow
def test_extract_cli_gold_entities_writes_the_setting(tmp_path: Path, tiny_stance: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    dataset = _gold_dataset(tmp_path / "ds")
    out = tmp_path / "gold.json"
    ok = CliRunner().invoke(app, ["extract", "--gold-entities", str(dataset), "--split", "test",
                                  "--model", str(tiny_stance), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "2 article(s)" in ok.output and "3 pairs" in ok.output and "gold-entities" in ok.output
    document = json.loads(out.read_text())
    assert (document["setting"], document["dataset"], document["split"], document["tagger"]) == (
        "gold-entities", str(dataset), "test", None)
    assert [a["article_id"] for a in document["articles"]] == ["g1", "g2"]
    assert len(document["statements"]) == 3  # a stance model: every gold pair a statement
    assert {r["setting"] for r in document["statements"]} == {"gold-entities"}
    bad = CliRunner().invoke(app, ["extract", "--gold-entities", str(tmp_path / "ds"), "--split", "test",
                                   "--model", str(tiny_stance), "--out", str(tmp_path / "x.json"),
                                   "--tagger", "t"])
    assert bad.exit_code != 0 and bad.output.strip().splitlines()[-1].startswith("error: --tagger")
    assert not (tmp_path / "x.json").exists()


def test_unresolved_sides_get_the_builds_external_id() -> None:
    from corpus.gazetteer import Mention

    text = "Ana Cruz backs the infrastructure plan."
    mentions = [Mention(0, 8, "Ana Cruz", "Actor", None, 0.9, "tagger"),
                Mention(19, 38, "infrastructure plan", "Policy", None, 0.9, "tagger")]
    codebook = load_codebook()
    assert candidate_pairs(text, mentions) == []  # unresolved pairs are left out by default
    (cand,) = candidate_pairs(text, mentions, keep_unresolved=True)
    from training.extract import Statement

    row = Statement("a", cand, "support", 0.9, {}).to_json(text, codebook)
    assert (row["actor_id"], row["actor_label"], row["policy_id"]) == ("x:ana-cruz", "Ana Cruz",
                                                                        "x:infrastructure-plan")


def test_either_side_pairs_every_two_mentions_of_different_names() -> None:
    """SEESAW-like corpora: a person is the holder in one statement and the target in the next."""
    from corpus.gazetteer import Mention

    text = "Obama criticised Congress, and Congress blamed Obama."
    mentions = [Mention(0, 5, "Obama", "Actor", None), Mention(17, 25, "Congress", "Policy", None),
                Mention(31, 39, "Congress", "Actor", None), Mention(47, 52, "Obama", "Policy", None)]
    plain = candidate_pairs(text, mentions, keep_unresolved=True)
    assert [(c.actor.text, c.policy.text) for c in plain] == [("Obama", "Congress"), ("Obama", "Obama"),
                                                              ("Congress", "Congress"), ("Congress", "Obama")]
    either = candidate_pairs(text, mentions, keep_unresolved=True, either_side=True)
    pairs = sorted({(c.actor.text, c.policy.text) for c in either})
    assert pairs == [("Congress", "Obama"), ("Obama", "Congress")]  # never a name with itself
    assert len(either) == 8  # each ordered pair of the four mentions with different names


NAMES_TEXT = ("Senate Majority Leader Mitch McConnell rejected the Affordable Care Act. "
              "Democrats said McConnell was wrong about Obamacare.")


def test_names_and_learned_names_name_sides_outside_the_codebook() -> None:
    """--names: proper names are mentions, each named by its longest form; --learned-names: surfaces a train
    split's coders named ("Democrats" -> "Democratic Party") are found and named; --top-entities keeps the
    most mentioned entities only."""
    from corpus.names import LearnedNames

    codebook = load_codebook()
    predictor = ConstantPredictor(codebook.stance_names, [0.1, 0.8, 0.1])
    learned = LearnedNames({"democrats": "Democratic Party", "obamacare": "Affordable Care Act"},
                           {"democrats": "Democrats", "obamacare": "Obamacare"})
    plain = Extractor(predictor, codebook, keep_unresolved=True, either_side=True).run([("a", NAMES_TEXT)])[0]
    assert plain.statements == []  # the gazetteer knows none of these names
    (result,) = Extractor(predictor, codebook, keep_unresolved=True, either_side=True, names=True,
                          learned=learned).run([("a", NAMES_TEXT)])
    pairs = {(s.to_json(NAMES_TEXT, codebook)["actor_label"], s.to_json(NAMES_TEXT, codebook)["policy_label"])
             for s in result.statements}
    assert ("Mitch McConnell", "Affordable Care Act") in pairs  # first sentence
    assert ("Democratic Party", "Mitch McConnell") in pairs  # "McConnell" linked, "Democrats" learned
    row = next(s.to_json(NAMES_TEXT, codebook) for s in result.statements
               if s.candidate.actor.text == "McConnell" and s.candidate.policy.text == "Obamacare")
    assert row["actor_id"] == "x:mitch-mcconnell" and row["actor_mention"]["name"] == "Mitch McConnell"
    assert row["policy_mention"]["source"] == "learned"
    (top,) = Extractor(predictor, codebook, keep_unresolved=True, either_side=True, names=True, learned=learned,
                       top_entities=2).run([("a", NAMES_TEXT)])
    kept = {m.name or m.text for m in top.mentions}
    assert kept == {"Mitch McConnell", "Affordable Care Act"}  # twice each; "Democrats" once
    with pytest.raises(InputError, match="--top-entities"):
        Extractor(predictor, codebook, top_entities=0)


def test_learned_names_come_from_a_dataset_split(tmp_path: Path) -> None:
    from corpus.build import BuildOptions, build_dataset
    from corpus.names import LearnedNames

    out = tmp_path / "ds"
    build_dataset(BuildOptions(out=out))  # the bundled corpus
    learned = LearnedNames.from_dataset(out, "train", min_count=1)
    assert len(learned) > 0 and all(n not in ("(author)", "(unlisted)") for n in learned.names.values())
    with pytest.raises(InputError, match="no statements/nope split"):
        LearnedNames.from_dataset(out, "nope")


def test_names_options_are_refused_with_gold_entities(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--names"):
        extract_files([], tmp_path / "o.json", "unused", gold_entities=tmp_path, names=True)
    with pytest.raises(InputError, match="--author"):
        extract_files([], tmp_path / "o.json", "unused", gold_entities=tmp_path, author=True)
    with pytest.raises(InputError, match="--top-entities"):
        extract_files([], tmp_path / "o.json", "unused", gold_entities=tmp_path, top_entities=5)


def test_the_author_holds_a_candidate_toward_each_target_as_a_build_has_it() -> None:
    from corpus.convert import Scheme, resolve_name
    from corpus.importers.statements import AUTHOR

    codebook = load_codebook()
    mentions = Gazetteer(codebook).find(TEXT)
    pairs = candidate_pairs(TEXT, mentions, window=1, author=True)
    by_author = [c for c in pairs if c.actor.text == AUTHOR]
    assert [c.policy.text for c in by_author] == ["U.S. military assistance", "strikes on cartel targets",
                                                  "information sharing"]
    row = statement_row(TEXT, by_author[0], codebook)
    assert row["actor_context_start"] is None and row["actor_label"] == AUTHOR
    assert row["context"] == "Sheinbaum said no to U.S. military assistance."
    predictor = ConstantPredictor(codebook.stance_names, [0.1, 0.8, 0.1])
    (result,) = Extractor(predictor, codebook, author=True).run([("a", TEXT)])
    author_rows = [s.to_json(TEXT, codebook) for s in result.statements if s.candidate.actor.text == AUTHOR]
    assert len(author_rows) == 3
    assert author_rows[0]["actor_id"] == resolve_name(AUTHOR, True, Scheme.from_codebook(codebook))[0]
    assert author_rows[0]["actor_mention"]["start"] is None


def test_one_entity_under_two_surfaces_is_never_paired_with_itself() -> None:
    codebook = load_codebook()
    predictor = ConstantPredictor(codebook.stance_names, [0.1, 0.8, 0.1])
    text = "Barack Obama said that Obama would veto the Keystone Pipeline."
    (result,) = Extractor(predictor, codebook, keep_unresolved=True, either_side=True, names=True).run([("a", text)])
    pairs = {(s.to_json(text, codebook)["actor_label"], s.to_json(text, codebook)["policy_label"])
             for s in result.statements}
    assert pairs == {("Barack Obama", "Keystone Pipeline"), ("Keystone Pipeline", "Barack Obama")}
