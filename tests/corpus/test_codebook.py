"""The codebook loads, validates, and rejects malformed files with one clear line."""

from pathlib import Path

import pytest
import yaml

from corpus.codebook import DEFAULT_CODEBOOK, load_codebook
from corpus.errors import InputError


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "codebook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_CODEBOOK.read_text(encoding="utf-8"))


def test_bundled_codebook_has_the_scheme():
    cb = load_codebook()
    assert {"support", "oppose", "neutral"} <= set(cb.stance_names)
    assert cb.label2id == {name: i for i, name in enumerate(cb.stance_names)}
    assert cb.id2label[cb.label2id["oppose"]] == "oppose"
    assert "conditional" in cb.qualifier_names
    ids = {a.id for a in cb.actors}
    assert {"claudia_sheinbaum", "donald_trump", "anna_kelly", "heritage_foundation", "trump_administration"} <= ids
    sheinbaum = cb.actor("claudia_sheinbaum")
    assert {"Sheinbaum", "Mexican President Claudia Sheinbaum", "the Mexican president"} <= set(sheinbaum.aliases)
    assert {"us_troops_in_mexico", "intelligence_sharing", "extradition"} <= {p.id for p in cb.policy_options}
    for option in cb.policy_options:
        assert option.definition and option.examples, option.id
    for label in cb.stance_labels:
        assert label.definition and label.decision_rules, label.id
    assert cb.article_labels


def test_alias_table_is_longest_first():
    rows = load_codebook().alias_table()
    lengths = [len(r[0]) for r in rows]
    assert lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["actors"].append(dict(d["actors"][0])), "actors: duplicate id 'claudia_sheinbaum'"),
        (lambda d: d["policy_options"].append(dict(d["policy_options"][0])), "policy_options: duplicate id"),
        (lambda d: d["stance_labels"].append(dict(d["stance_labels"][0])), "stance_labels: duplicate id"),
        (lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
        (lambda d: d["actors"][0].update(type="alien"), "has type 'alien'"),
        (lambda d: d["actors"][0].update(id="Bad Id"), "lower_snake_case"),
        (lambda d: d.pop("stance_labels"), "stance_labels: Field required"),
        (lambda d: d["span_labels"].pop(), "span_labels must be exactly"),
    ],
)
def test_malformed_codebook_is_one_clear_error(tmp_path, mutate, message):
    data = _raw()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_codebook(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_codebook_not_yaml(tmp_path):
    path = tmp_path / "cb.yaml"
    path.write_text("version: [1, 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_codebook(path)


def test_codebook_missing(tmp_path):
    with pytest.raises(InputError, match="codebook file not found"):
        load_codebook(tmp_path / "nope.yaml")
