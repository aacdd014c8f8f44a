"""The Label Studio labelling config, generated from the codebook (never edited by hand).

Control names come from `corpus.codebook`: spans are `<Labels name="mention">` (Actor / Policy); each span
is normalised with a per-region `<Choices name="actor">` or `<Choices name="policy">` (codebook ids, shown
as their human labels) or, for names outside the codebook, a per-region `<TextArea name="canonical">`;
stance relations carry the codebook's stance labels plus its qualifiers; each article label is a
`<Choices>` named by its id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from corpus.codebook import (
    ACTOR_CHOICE_NAME,
    ACTOR_LABEL,
    CANONICAL_NAME,
    MENTION_NAME,
    POLICY_CHOICE_NAME,
    POLICY_LABEL,
    TEXT_NAME,
    Actor,
    Codebook,
    PolicyOption,
)

# Colours only help the eye; they carry no meaning.
_SPAN_COLOURS = {ACTOR_LABEL: "#2f80ed", POLICY_LABEL: "#f2994a"}
_STANCE_COLOURS = ["#27ae60", "#eb5757", "#828282", "#9b51e0", "#56ccf2", "#f2c94c"]


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})


def _hint(entry: Actor | PolicyOption) -> str | None:
    """The tooltip of a choice: its definition, else (actors) its type and aliases."""
    if entry.definition.strip():
        return entry.definition.strip()
    if isinstance(entry, Actor):
        return f"{entry.type}; also: {', '.join(entry.aliases)}" if entry.aliases else entry.type
    return None


def build_label_config(codebook: Codebook) -> str:
    """The labelling config XML for `codebook` (deterministic: same codebook, same string)."""
    view = ET.Element("View")
    _sub(view, "Header", value=f"{codebook.name} (codebook {codebook.version})", size="5")

    labels = _sub(view, "Labels", name=MENTION_NAME, toName=TEXT_NAME, showInline="true")
    for span in codebook.span_labels:
        _sub(labels, "Label", value=span.value, background=_SPAN_COLOURS.get(span.value, "#bdbdbd"),
             hint=span.definition.strip())

    _sub(view, "Text", name=TEXT_NAME, value=f"${TEXT_NAME}")

    relations = _sub(view, "Relations", choice="multiple")
    for i, name in enumerate([*codebook.stance_names, *codebook.qualifier_names]):
        _sub(relations, "Relation", value=name, background=_STANCE_COLOURS[i % len(_STANCE_COLOURS)])

    # Per-region normalisation: the canonical actor / policy option of the selected span.
    for control, label, entries in (
        (ACTOR_CHOICE_NAME, ACTOR_LABEL, codebook.actors),
        (POLICY_CHOICE_NAME, POLICY_LABEL, codebook.policy_options),
    ):
        box = _sub(view, "View", visibleWhen="region-selected", whenTagName=MENTION_NAME,
                   whenLabelValue=label)
        _sub(box, "Header", value=f"Canonical {label.lower()} of the selected span", size="6")
        choices = _sub(box, "Choices", name=control, toName=TEXT_NAME, perRegion="true", choice="single",
                       showInline="false")
        for entry in entries:
            _sub(choices, "Choice", value=entry.label, alias=entry.id, hint=_hint(entry))

    box = _sub(view, "View", visibleWhen="region-selected", whenTagName=MENTION_NAME)
    _sub(box, "Header", value="Name outside the codebook (only if no choice above fits)", size="6")
    _sub(box, "TextArea", name=CANONICAL_NAME, toName=TEXT_NAME, perRegion="true", editable="true",
         maxSubmissions="1", rows="1", placeholder="canonical name")

    for art in codebook.article_labels:
        _sub(view, "Header", value=art.label, size="6")
        choices = _sub(view, "Choices", name=art.id, toName=TEXT_NAME, choice="single", showInline="true",
                       hint=art.definition.strip() or None)
        for choice in art.choices:
            _sub(choices, "Choice", value=choice)

    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


@dataclass(frozen=True)
class ConfigLabels:
    """The label sets a labelling config defines, by control name (relations under `relations`)."""

    controls: dict[str, frozenset[str]]
    relations: frozenset[str]


def config_labels(config_xml: str) -> ConfigLabels:
    """Read the label sets of a labelling config: Labels/Choices values (alias first) and Relation values."""
    root = ET.fromstring(config_xml)  # noqa: S314 - our own config or the server's copy of it
    controls: dict[str, set[str]] = {}
    for parent in root.iter():
        if parent.tag in ("Labels", "Choices") and parent.get("name"):
            values = controls.setdefault(parent.get("name", ""), set())
            for child in parent.iter():
                if child.tag in ("Label", "Choice"):
                    values.add(child.get("alias") or child.get("value") or "")
        elif parent.tag == "TextArea" and parent.get("name"):
            controls.setdefault(parent.get("name", ""), set())
    relations = {r.get("value") or "" for r in root.iter("Relation")}
    return ConfigLabels({k: frozenset(v) for k, v in controls.items()}, frozenset(relations))


def expected_labels(codebook: Codebook) -> ConfigLabels:
    """The label sets the codebook prescribes."""
    controls = {
        MENTION_NAME: frozenset(s.value for s in codebook.span_labels),
        ACTOR_CHOICE_NAME: frozenset(a.id for a in codebook.actors),
        POLICY_CHOICE_NAME: frozenset(p.id for p in codebook.policy_options),
        CANONICAL_NAME: frozenset(),
        **{a.id: frozenset(a.choices) for a in codebook.article_labels},
    }
    return ConfigLabels(controls, frozenset([*codebook.stance_names, *codebook.qualifier_names]))


def config_drift(config_xml: str, codebook: Codebook) -> list[str]:
    """How a (server's) labelling config differs from the codebook's; empty when they agree."""
    try:
        have = config_labels(config_xml)
    except ET.ParseError as e:
        return [f"the config is not valid XML ({e})"]
    want = expected_labels(codebook)
    problems = []
    for name in sorted(set(want.controls) | set(have.controls)):
        if name not in have.controls:
            problems.append(f"control {name!r} is missing")
        elif name not in want.controls:
            problems.append(f"control {name!r} is not in the codebook")
        elif have.controls[name] != want.controls[name]:
            missing = sorted(want.controls[name] - have.controls[name])
            extra = sorted(have.controls[name] - want.controls[name])
            problems.append(f"control {name!r}: missing {missing}, not in the codebook {extra}")
    if have.relations != want.relations:
        problems.append(f"relations: missing {sorted(want.relations - have.relations)}, "
                        f"not in the codebook {sorted(have.relations - want.relations)}")
    return problems
