"""The labelling config and the guideline are generated from the codebook and agree with it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from annotation.guidelines import GUIDELINES_PATH, guidelines_html, guidelines_markdown
from annotation.label_config import build_label_config, config_drift
from corpus.codebook import (
    ACTOR_CHOICE_NAME,
    CANONICAL_NAME,
    MENTION_NAME,
    POLICY_CHOICE_NAME,
    TEXT_NAME,
    load_codebook,
)


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def test_label_interface_sees_the_codebook_label_sets(cb):
    config = build_label_config(cb)
    li = LabelInterface(config)
    controls = {c.name: c for c in li.controls}
    assert set(controls[MENTION_NAME].labels) == {s.value for s in cb.span_labels}
    assert set(controls[ACTOR_CHOICE_NAME].labels) == {a.id for a in cb.actors}
    assert set(controls[POLICY_CHOICE_NAME].labels) == {p.id for p in cb.policy_options}
    assert controls[CANONICAL_NAME].tag == "TextArea"
    for art in cb.article_labels:
        assert set(controls[art.id].labels) == set(art.choices)
    assert set(controls) == {MENTION_NAME, ACTOR_CHOICE_NAME, POLICY_CHOICE_NAME, CANONICAL_NAME,
                             *(a.id for a in cb.article_labels)}
    assert all(c.to_name == [TEXT_NAME] for c in controls.values())
    # Relations carry no name, so LabelInterface does not list them: read them from the XML.
    relations = {r.get("value") for r in ET.fromstring(config).iter("Relation")}  # noqa: S314
    assert relations == set(cb.stance_names) | set(cb.qualifier_names)


def test_per_region_choices_show_labels_and_store_ids(cb):
    root = ET.fromstring(build_label_config(cb))  # noqa: S314
    actor = next(c for c in root.iter("Choices") if c.get("name") == ACTOR_CHOICE_NAME)
    assert actor.get("perRegion") == "true"
    first = actor.find("Choice")
    assert (first.get("value"), first.get("alias")) == (cb.actors[0].label, cb.actors[0].id)


def test_config_is_deterministic_and_drift_is_detected(cb):
    config = build_label_config(cb)
    assert config == build_label_config(cb)
    assert config_drift(config, cb) == []
    stale = config.replace('<Relation value="neutral"', '<Relation value="undecided"')
    stale = stale.replace(f'alias="{cb.actors[0].id}"', 'alias="someone_else"')
    problems = config_drift(stale, cb)
    assert any("relations: missing ['neutral']" in p for p in problems)
    assert any(f"control 'actor': missing ['{cb.actors[0].id}']" in p for p in problems)
    assert config_drift("<View>", cb)[0].startswith("the config is not valid XML")


def test_guidelines_file_is_in_step_with_the_codebook(cb):
    assert GUIDELINES_PATH.read_text(encoding="utf-8") == guidelines_markdown(cb), (
        "annotation/GUIDELINES.md is stale: run `python -m annotation guidelines`")


def test_guidelines_cover_every_label(cb):
    md, html = guidelines_markdown(cb), guidelines_html(cb)
    for name in [*cb.stance_names, *cb.qualifier_names, *(a.id for a in cb.actors),
                 *(p.id for p in cb.policy_options), *(a.id for a in cb.article_labels)]:
        assert f"`{name}`" in md or f"### {name}" in md or f"**{name}**" in md, name
        assert name in html
    assert "<script" not in html
