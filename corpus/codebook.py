"""The codebook: typed, validated view of `corpus/codebook.yaml`, the one source of the annotation scheme."""

from __future__ import annotations

import re
from collections import Counter
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from corpus.errors import InputError
from corpus.yamlio import read_yaml

DEFAULT_CODEBOOK = Path(__file__).with_name("codebook.yaml")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# Label Studio control names used throughout; the labelling config and the converter share them.
TEXT_NAME = "text"
MENTION_NAME = "mention"
ACTOR_CHOICE_NAME = "actor"
POLICY_CHOICE_NAME = "policy"
CANONICAL_NAME = "canonical"
ACTOR_LABEL = "Actor"
POLICY_LABEL = "Policy"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpanLabel(_Strict):
    value: str
    definition: str


class Entry(_Strict):
    """Anything with a stable id, a human label and a definition."""

    id: str
    label: str
    definition: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r} must be lower_snake_case (a-z, 0-9, _), starting with a letter")
        return v


class Actor(Entry):
    type: str
    aliases: list[str] = Field(default_factory=list)


class PolicyOption(Entry):
    examples: list[str] = Field(default_factory=list)


class StanceLabel(Entry):
    decision_rules: list[str] = Field(default_factory=list)


class ArticleLabel(Entry):
    choices: list[str]


class Codebook(_Strict):
    """The whole scheme; ids are unique within each list and cross-references resolve."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    version: str
    name: str
    description: str = ""
    span_labels: list[SpanLabel]
    actor_types: list[Entry]
    actors: list[Actor]
    policy_options: list[PolicyOption]
    stance_labels: list[StanceLabel]
    # The label of a candidate (actor, target) pair that carries no stance: what detectors learn and predict
    # besides the stance labels. Never a relation label annotators draw; absent means no detection.
    no_stance: Entry | None = None
    stance_qualifiers: list[Entry] = Field(default_factory=list)
    article_labels: list[ArticleLabel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
        for field in ("actor_types", "actors", "policy_options", "stance_labels", "stance_qualifiers",
                      "article_labels"):
            dupes = [i for i, n in Counter(e.id for e in getattr(self, field)).items() if n > 1]
            if dupes:
                raise ValueError(f"{field}: duplicate id {dupes[0]!r}")
        values = [s.value for s in self.span_labels]
        if sorted(values) != sorted({ACTOR_LABEL, POLICY_LABEL}):
            raise ValueError(f"span_labels must be exactly {ACTOR_LABEL!r} and {POLICY_LABEL!r}, got {values}")
        types = {t.id for t in self.actor_types}
        for a in self.actors:
            if a.type not in types:
                raise ValueError(f"actors: {a.id!r} has type {a.type!r}, not one of the actor_types")
        clash = {s.id for s in self.stance_labels} & {q.id for q in self.stance_qualifiers}
        if clash:
            raise ValueError(f"stance_qualifiers: {sorted(clash)[0]!r} is also a stance label")
        if self.no_stance is not None and self.no_stance.id in {s.id for s in self.stance_labels}:
            raise ValueError(f"no_stance: {self.no_stance.id!r} is also a stance label")
        if len(self.stance_labels) < 2:
            raise ValueError("stance_labels: at least two labels are needed")
        self._unambiguous()
        return self

    def _unambiguous(self) -> None:
        """No surface form (label, alias, example) may normalise, as the gazetteer compares them, to two ids."""
        from corpus.gazetteer import surface_key  # the gazetteer's own key; imported late (it imports this module)

        forms: list[tuple[str, str, str, str]] = [("actors", "label", a.label, a.id) for a in self.actors]
        forms += [("actors", "alias", x, a.id) for a in self.actors for x in a.aliases]
        forms += [("policy_options", "label", p.label, p.id) for p in self.policy_options]
        forms += [("policy_options", "example", x, p.id) for p in self.policy_options for x in p.examples]
        seen: dict[tuple[str, str], tuple[str, str, str]] = {}
        for field, kind, surface, entry_id in forms:
            key = (field, surface_key(surface))
            if not key[1]:
                continue
            first = seen.setdefault(key, (kind, surface, entry_id))
            if first[2] != entry_id:
                raise ValueError(f"{field}: {kind} {surface!r} of {entry_id!r} and {first[0]} {first[1]!r} of "
                                 f"{first[2]!r} normalise to the same name ({key[1]!r}); one name, two ids")

    # Derived views: every consumer reads labels from here, never from its own list.
    @property
    def stance_names(self) -> list[str]:
        """Stance labels in codebook order: the ClassLabel names and the models' id2label."""
        return [s.id for s in self.stance_labels]

    @property
    def detection_names(self) -> list[str]:
        """The stance labels plus `no_stance` last: a detector's id2label (ValueError when the codebook has none)."""
        if self.no_stance is None:
            raise ValueError("the codebook declares no `no_stance` label, so no detector can be trained on it")
        return [*self.stance_names, self.no_stance.id]

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.stance_names)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.stance_names))

    @property
    def qualifier_names(self) -> list[str]:
        return [q.id for q in self.stance_qualifiers]

    def actor(self, actor_id: str) -> Actor | None:
        return next((a for a in self.actors if a.id == actor_id), None)

    def policy(self, policy_id: str) -> PolicyOption | None:
        return next((p for p in self.policy_options if p.id == policy_id), None)

    def alias_table(self) -> list[tuple[str, str, str]]:
        """(surface form, span label, canonical id), longest surface first: the gazetteer."""
        rows = [(alias, ACTOR_LABEL, a.id) for a in self.actors for alias in {a.label, *a.aliases}]
        rows += [(ex, POLICY_LABEL, p.id) for p in self.policy_options for ex in {p.label, *p.examples}]
        return sorted(set(rows), key=lambda r: (-len(r[0]), r[0], r[2]))


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load and validate a codebook YAML file (the bundled one by default)."""
    path = Path(path) if path else DEFAULT_CODEBOOK
    raw = read_yaml(path, "codebook file not found")
    if not isinstance(raw, dict):
        raise InputError(path, "a codebook must be a YAML mapping")
    try:
        return Codebook.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(path, f"{loc}: {msg}" if loc else msg) from None
