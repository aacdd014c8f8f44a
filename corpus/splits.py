"""Grouped, stratified, deterministic train/validation/test splits, persisted as a manifest.

The unit of assignment is a group: the article's story or event group where the source gives one, else the
article itself, so no story leaks between splits. A split given by the source (SEESAW's own) is kept.
Other groups are assigned greedily, largest first, each to the split whose stance counts fall furthest
behind its target share (stratification on stance); ties are broken by a seeded shuffle. The manifest
records every group's split, so a rebuild reproduces it and new groups never move old ones.

`--split-by target` (`assign_target_splits`) holds out whole targets instead: the unit is the canonical target
(`policy_label`) of the statements and candidates, the source's splits are set aside, and every row goes to its
target's split, so no target is in two splits (`check_targets_disjoint`); an article goes to the split holding
most of its rows. A corpus with too few targets to fill the splits is refused, never split by hand-waving.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import InputError

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
MANIFEST_VERSION = 1
SPLIT_BY = ("group", "target")
TARGET_PREFIX = "target:"  # manifest group names of held-out targets (split-by target)
ARTICLE_PREFIX = "article:"  # an article's own pseudo-group there (articles go where most of their rows are)
_ARTICLES_KEY = "__articles__"  # a pseudo-label so groups without statements spread too


@dataclass
class Group:
    """What the splitter knows of one group: its articles, the split the source gave, its stance counts."""

    name: str
    articles: list[str] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)  # article id -> split given by the source
    stances: Counter = field(default_factory=Counter)


@dataclass
class Manifest:
    """Which split each group is in, and each article's group; the record that makes splits reproducible."""

    seed: int
    ratios: tuple[float, float, float] = DEFAULT_RATIOS
    groups: dict[str, str] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)
    split_by: str = "group"

    def split_of(self, article_id: str) -> str:
        return self.groups[self.articles[article_id]]

    def split_of_target(self, target: str) -> str:
        """The split of a held-out target (split-by target)."""
        return self.groups[TARGET_PREFIX + target]

    def to_json(self) -> dict[str, Any]:
        out = {"version": MANIFEST_VERSION, "seed": self.seed, "ratios": list(self.ratios),
               "groups": dict(sorted(self.groups.items())), "articles": dict(sorted(self.articles.items()))}
        return out if self.split_by == "group" else {**out, "split_by": self.split_by}

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Manifest:
        if not isinstance(raw, dict) or not isinstance(raw.get("groups"), dict) \
                or not isinstance(raw.get("articles"), dict):
            raise InputError(where, "a split manifest must be a JSON object with 'groups' and 'articles' objects")
        if raw.get("version") != MANIFEST_VERSION:
            raise InputError(where, f"split manifest version {raw.get('version')!r}; expected {MANIFEST_VERSION}")
        bad = [g for g, s in raw["groups"].items() if s not in SPLITS]
        if bad:
            raise InputError(where, f"group {bad[0]!r} has split {raw['groups'][bad[0]]!r}, not one of {SPLITS}")
        orphan = [a for a, g in raw["articles"].items() if g not in raw["groups"]]
        if orphan:
            raise InputError(where, f"article {orphan[0]!r} names group {raw['articles'][orphan[0]]!r}, "
                                    "which has no split")
        split_by = raw.get("split_by", "group")
        if split_by not in SPLIT_BY:
            raise InputError(where, f"split_by {split_by!r} is not one of {', '.join(SPLIT_BY)}")
        return cls(seed=int(raw.get("seed", 0)), ratios=_ratios(raw.get("ratios", DEFAULT_RATIOS), where),
                   groups=dict(raw["groups"]), articles=dict(raw["articles"]), split_by=split_by)


def _ratios(value: Any, where: str) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        ratios = ()
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6 or ratios[0] <= 0:
        raise InputError(where, f"split ratios {value!r} must be three non-negative shares of train, validation "
                                "and test summing to 1, train above 0")
    return ratios  # type: ignore[return-value]


def parse_ratios(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1); InputError naming the option otherwise."""
    return _ratios(text.split(","), "--ratios")


def load_manifest(path: Path) -> Manifest | None:
    """The manifest at `path`, or None if there is none yet."""
    from corpus.store import read_json

    return Manifest.from_json(read_json(path), str(path)) if path.is_file() else None


def assign_splits(groups: list[Group], seed: int, ratios: tuple[float, float, float] = DEFAULT_RATIOS,
                  previous: Manifest | None = None, where: str = "splits") -> Manifest:
    """Give every group one split: the source's, else the previous manifest's, else a stratified new one.

    Raises InputError when a group straddles splits (its articles were given different splits, or an article
    changed to a group in another split) or when the source's split contradicts the manifest's.
    """
    manifest = Manifest(seed=previous.seed if previous else seed,
                        ratios=previous.ratios if previous else ratios)
    if previous:  # keep groups that are gone from this build too, so they are never reused elsewhere
        manifest.groups.update(previous.groups)
        manifest.articles.update(previous.articles)
    fresh: list[Group] = []
    for group in groups:
        given = set(group.given.values())
        if len(given) > 1:
            by_split = {s: sorted(a for a, g in group.given.items() if g == s) for s in sorted(given)}
            raise InputError(where, f"group {group.name!r} straddles splits: "
                             + "; ".join(f"{s}: {', '.join(a[:3])}" for s, a in by_split.items()))
        known = previous.groups.get(group.name) if previous else None
        if given:
            split = given.pop()
            if known and known != split:
                raise InputError(where, f"group {group.name!r} is in {known} in the manifest but the source "
                                        f"puts it in {split}")
            manifest.groups[group.name] = split
        elif known:
            manifest.groups[group.name] = known
        else:
            fresh.append(group)
    _stratify(fresh, groups, manifest, random.Random(manifest.seed))  # a reused manifest keeps its seed
    for group in groups:
        for article_id in group.articles:
            old = previous.articles.get(article_id) if previous else None
            if old is not None and old != group.name and manifest.groups.get(old) != manifest.groups[group.name]:
                raise InputError(where, f"article {article_id!r} moved from group {old!r} "
                                        f"({manifest.groups.get(old)}) to {group.name!r} "
                                        f"({manifest.groups[group.name]}): it would change split")
            manifest.articles[article_id] = group.name
    return manifest


def _stratify(fresh: list[Group], groups: list[Group], manifest: Manifest, rng: random.Random) -> None:
    """Assign `fresh` groups greedily so each split's stance counts approach its share of the total."""
    def weights(g: Group) -> Counter:
        return g.stances + Counter({_ARTICLES_KEY: len(g.articles)})

    totals: Counter = Counter()
    for g in groups:
        totals.update(weights(g))
    current = {s: Counter() for s in SPLITS}
    for g in groups:
        if g.name in manifest.groups:
            current[manifest.groups[g.name]].update(weights(g))
    order = sorted(fresh, key=lambda g: g.name)
    rng.shuffle(order)
    order.sort(key=lambda g: -sum(g.stances.values()) - len(g.articles))  # stable: shuffle breaks ties
    targets = dict(zip(SPLITS, manifest.ratios, strict=True))
    for g in order:
        w = weights(g)

        def need(split: str, w: Counter = w) -> float:
            # relative shortfall of this split on the group's labels, weighted by the group's counts
            share = targets[split]
            if share <= 0:
                return float("-inf")
            return sum(n * (share * totals[k] - current[split][k]) / (share * totals[k]) for k, n in w.items())

        best = max(SPLITS, key=need)  # max keeps the first of equals: train, then validation, then test
        manifest.groups[g.name] = best
        current[best].update(w)


def check_no_straddle(article_groups: dict[str, str], manifest: Manifest, where: str = "splits") -> None:
    """Fail if any group's articles sit in more than one split (the guarantee the build relies on)."""
    seen: dict[str, str] = {}
    for article_id, group in article_groups.items():
        split = manifest.groups[manifest.articles[article_id]]
        if seen.setdefault(group, split) != split:
            raise InputError(where, f"group {group!r} straddles {seen[group]} and {split} "
                                    f"(article {article_id!r})")


def assign_target_splits(targets: dict[str, Counter], article_rows: dict[str, list[str]], seed: int,
                         ratios: tuple[float, float, float] = DEFAULT_RATIOS, previous: Manifest | None = None,
                         where: str = "--split-by target") -> Manifest:
    """Hold out whole targets: each target (name -> its label counts, `none` included) gets one split, stratified
    as groups are; each article (id -> the targets of its rows, one entry per row) goes where most of its rows
    went (ties: train, validation, test). A previous split-by-target manifest keeps its targets' splits.

    Raises InputError when there are fewer targets with statements than splits to fill, or when a split with
    a share above 0 would get no statement.
    """
    wanted = [s for s, r in zip(SPLITS, ratios, strict=True) if r > 0]
    stated = sorted(t for t, c in targets.items() if any(k != "none" and n for k, n in c.items()))
    if len(stated) < len(wanted):
        raise InputError(where, f"{len(stated)} target(s) with statements, too few to fill {', '.join(wanted)} "
                                "without putting one target in two splits; build without --split-by target")
    if previous is not None and previous.split_by != "target":
        raise InputError(where, "the split manifest was made by story or article (split_by group); give a new "
                                "--manifest or another --out for a target split")
    groups = [Group(TARGET_PREFIX + t, [], stances=Counter(c)) for t, c in sorted(targets.items())]
    old = Manifest(previous.seed, previous.ratios, {g: s for g, s in previous.groups.items()
                                                   if g.startswith(TARGET_PREFIX)}) if previous else None
    manifest = assign_splits(groups, seed, ratios, old, where)
    manifest.split_by = "target"
    empty = [s for s in wanted if not any(manifest.groups[TARGET_PREFIX + t] == s for t in stated)]
    if empty:
        raise InputError(where, f"{' and '.join(empty)} would get no statement: {len(stated)} target(s) cannot fill "
                                f"the shares {'/'.join(f'{r:g}' for r in ratios)} without splitting one")
    for article, row_targets in sorted(article_rows.items()):
        votes = Counter(manifest.groups[TARGET_PREFIX + t] for t in row_targets)
        split = max(SPLITS, key=lambda s: votes[s]) if votes else SPLITS[0]
        manifest.groups[ARTICLE_PREFIX + article] = split
        manifest.articles[article] = ARTICLE_PREFIX + article
    return manifest


def check_targets_disjoint(rows_by_split: dict[str, Iterable[dict[str, Any]]], where: str = "--split-by target",
                           seen: dict[str, str] | None = None) -> None:
    """Fail if any target (policy_label) has rows in more than one split (the guarantee of a target split);
    `seen` (target -> split) carries the check across calls, a split or a config at a time."""
    seen = {} if seen is None else seen
    for split, rows in rows_by_split.items():
        for row in rows:
            target = row["policy_label"]
            if seen.setdefault(target, split) != split:
                raise InputError(where, f"target {target!r} is in {seen[target]} and {split} (row {row['id']!r})")


def manifest_text(manifest: Manifest) -> str:
    return json.dumps(manifest.to_json(), ensure_ascii=False, indent=1) + "\n"
