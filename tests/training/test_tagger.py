"""The span tagger: its mentions reconciled with the gazetteer's (the matcher itself: tests/corpus/test_gazetteer.py),
BIO decoding and span scores, the config, and a tiny token classifier trained from a mentions dataset, tracked in a
temporary MLflow store, loaded back."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.codebook import load_codebook
from corpus.errors import InputError
from corpus.gazetteer import Gazetteer, Mention
from corpus.sentences import tokenize
from training.tagger import (
    bio_spans,
    find_mentions,
    load_tagger_config,
    merge_mentions,
    resolve_pronouns,
    span_scores,
)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(load_codebook())


def test_pronouns_take_the_preceding_person(gazetteer: Gazetteer) -> None:
    text = "Sheinbaum spoke. Then she said no to the presence of the United States Army on our territory."
    she = text.index("she")
    tagged = [Mention(she, she + 3, "she", "Actor", None, 0.9, "tagger")]
    mentions = find_mentions(text, gazetteer, tagged=tagged)
    assert [(m.text, m.canonical, m.source) for m in mentions] == [
        ("Sheinbaum", "claudia_sheinbaum", "gazetteer"), ("she", "claudia_sheinbaum", "tagger"),
        ("the presence of the United States Army on our territory", "us_troops_in_mexico", "gazetteer")]
    assert resolve_pronouns([tagged[0]], gazetteer.codebook)[0].canonical is None  # no person before it


def test_merge_prefers_exact_aliases_unless_the_tagger_span_contains_one(gazetteer: Gazetteer) -> None:
    text = "The Trump administration and the Mexican government's forces met; she left. Kelly stayed."

    def at(needle: str, canonical: str | None) -> Mention:
        s = text.index(needle)
        return Mention(s, s + len(needle), needle, "Actor", canonical, 0.7, "tagger")
    tagged = [at("Trump", "donald_trump"), at("the Mexican government's forces", "mexican_government"), at("she", None)]
    merged = [(m.text, m.canonical, m.source) for m in merge_mentions(tagged, gazetteer.find(text))]
    assert merged == [("The Trump administration", "trump_administration", "gazetteer"),  # alias beats a part of it
                      ("the Mexican government's forces", "mexican_government", "tagger"),  # longer and normalised
                      ("she", None, "tagger"),  # the tagger's own find
                      ("Kelly", "anna_kelly", "gazetteer")]  # what the tagger missed


def test_bio_decoding_and_span_scores() -> None:
    tags = ["B-Actor", "I-Actor", "O", "I-Policy", "I-Policy", "B-Policy", "O", "B-Actor"]
    assert bio_spans(tags) == [(0, 2, "Actor"), (3, 5, "Policy"), (5, 6, "Policy"), (7, 8, "Actor")]
    gold = [["B-Actor", "I-Actor", "O", "B-Policy"]]
    pred = [["B-Actor", "I-Actor", "O", "O"]]
    scores = span_scores(gold, pred)
    assert scores["span_precision"] == 1.0 and scores["span_recall"] == 0.5
    assert scores["span_f1_Actor"] == 1.0 and scores["span_f1_Policy"] == 0.0


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\ntransformer: {model: x, epochz: 2}\n")
    with pytest.raises(InputError, match=r"transformer.epochz: unknown key"):
        load_tagger_config(bad)
    with pytest.raises(InputError, match=r"transformer.learning_rate"):
        load_tagger_config("tagger_tiny", ["transformer.learning_rate=-1"])
    cfg, _ = load_tagger_config("tagger", ["transformer.epochs=1"])
    assert cfg.kind == "tagger" and cfg.transformer.epochs == 1.0 and cfg.transformer.learning_rate == 1e-4
    with pytest.raises(InputError, match=r"transformer.group_by_length: unknown key"):  # a stance-only field
        load_tagger_config("tagger_tiny", ["transformer.group_by_length=false"])


def test_the_model_section_shares_the_stance_models_fields() -> None:
    from training.config import TransformerConfig
    from training.tagger import TaggerModel

    for name, field in TaggerModel.model_fields.items():
        stance = TransformerConfig.model_fields[name]
        assert (field.annotation, field.metadata) == (stance.annotation, stance.metadata), name
        if name != "epochs":  # the one field of its own: another default, no early stopping to mention
            assert (field.default, field.description) == (stance.default, stance.description), name
    assert TaggerModel(model="x").epochs == 3.0


def _mentions_dataset(root: Path) -> Path:
    """A tiny mentions config: a few tagged sentences, the build's own features, saved like a build."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    sentences = [("Sheinbaum rejected US troops .", ["B-Actor", "O", "B-Policy", "I-Policy", "O"]),
                 ("Trump wants strikes .", ["B-Actor", "O", "B-Policy", "O"]),
                 ("The weather was fine .", ["O"] * 5)] * 4
    names = ["O", "B-Actor", "I-Actor", "B-Policy", "I-Policy"]
    rows: dict[str, list] = {"id": [], "text": [], "tokens": [], "token_starts": [], "token_ends": [], "tags": []}
    for n, (text, tags) in enumerate(sentences):
        tokens, starts, ends = tokenize(text)
        rows["id"].append(f"a/{n}")
        rows["text"].append(text)
        rows["tokens"].append(tokens)
        rows["token_starts"].append(starts)
        rows["token_ends"].append(ends)
        rows["tags"].append([names.index(t) for t in tags])
    features = Features({"id": Value("string"), "text": Value("string"), "tokens": List(Value("string")),
                         "token_starts": List(Value("int32")), "token_ends": List(Value("int32")),
                         "tags": List(ClassLabel(names=names))})
    ds = Dataset.from_dict(rows, features=features)
    DatasetDict({"train": ds, "validation": ds.select(range(3)), "test": ds.select(range(2))}).save_to_disk(
        str(root / "mentions"))
    return root


@pytest.mark.slow
def test_train_tiny_tagger_tracked_registered_and_loaded(tmp_path: Path) -> None:
    import mlflow

    from training.tagger import load_tagger, train_tagger

    dataset = _mentions_dataset(tmp_path / "dataset")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg, file = load_tagger_config("tagger_tiny", [f"output_dir={tmp_path / 'out'}", "transformer.epochs=2"])
    run = train_tagger(cfg, file, dataset=str(dataset), tracking_uri=uri)
    assert run.registered == "newsstance-tagger-tiny/1"
    assert 0.0 <= run.metrics["span_f1"] <= 1.0
    client = mlflow.MlflowClient(uri)
    data = client.get_run(run.run_id).data
    assert data.params["transformer.model"] == "tests/fixtures/tiny_model" and data.params["kind"] == "tagger"
    assert "validation_span_f1" in data.metrics and "eval_span_f1" in data.metrics
    assert str(client.get_model_version_by_alias("newsstance-tagger-tiny", "champion").version) == "1"
    assert client.get_run(run.run_id).inputs.dataset_inputs[0].dataset.name.endswith("/mentions")
    tagger = load_tagger("models:/newsstance-tagger-tiny@champion", uri)
    text = "Sheinbaum rejected US troops.\n\nTrump wants strikes."
    for m in tagger.predict(text):
        assert text[m.start:m.end] == m.text and m.label in ("Actor", "Policy") and 0 < m.score <= 1
    with pytest.raises(InputError, match="not found"):
        load_tagger(tmp_path / "nothing-here")
