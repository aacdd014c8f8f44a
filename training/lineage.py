"""A dataset's lineage: which sources (and codebook version, and split settings) it was built from.

Champions compete only within one lineage: two builds of the same sources (say, after another annotation round)
are one lineage and their models compare on validation; two different tables are two lineages, each with its
own champion alias (`champion-<slug>`). The lineage is read from the dataset card's `newsstance` header
(`corpus build` writes it); a dataset without a card falls back to its content digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CHAMPION_PREFIX = "champion-"
_SPLIT_KEYS = ("seed", "split_ratios", "split_by")


@dataclass(frozen=True)
class Lineage:
    """What a dataset was built from; `key` identifies the lineage, `slug` names it for people and aliases."""

    key: str  # 12 hex digits over sources, codebook version and split settings
    slug: str  # readable: the source folders' names, then the key's first 8 digits
    sources: tuple[str, ...]  # "kind:name" per source (the folder's name, not its contents or location)
    codebook_version: str
    split: str  # the split settings, e.g. "seed=13 split_ratios=[0.8, 0.1, 0.1]"
    digest: str  # this build's content digest (differs between builds of one lineage)

    @property
    def alias(self) -> str:
        """The registry alias of this lineage's champion."""
        return CHAMPION_PREFIX + self.slug

    def describe(self) -> str:
        """One line for messages and reports."""
        sources = ", ".join(self.sources) or "unknown sources"
        split = self.split or "no split info"
        return f"{self.slug} ({sources}; codebook {self.codebook_version or 'unknown'}; {split})"

    def tags(self) -> dict[str, str]:
        """Run and model-version tags recording this lineage."""
        return {"newsstance.dataset_lineage": self.key, "newsstance.dataset_name": self.slug,
                "newsstance.dataset_sources": json.dumps(list(self.sources)),
                "newsstance.codebook_version": self.codebook_version, "newsstance.dataset_split": self.split,
                "newsstance.dataset_digest": self.digest}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sources": list(self.sources), "alias": self.alias}


def from_tags(tags: dict[str, str]) -> Lineage | None:
    """The lineage recorded in run or model-version tags; None when they hold none (a run from before lineage)."""
    key = tags.get("newsstance.dataset_lineage")
    if not key:
        return None
    try:
        sources = tuple(json.loads(tags.get("newsstance.dataset_sources", "[]")))
    except ValueError:
        sources = ()
    return Lineage(key, tags.get("newsstance.dataset_name", key), sources, tags.get("newsstance.codebook_version", ""),
                   tags.get("newsstance.dataset_split", ""), tags.get("newsstance.dataset_digest", ""))


def _card_header(root: Path) -> dict[str, Any]:
    from corpus.errors import InputError
    from corpus.yamlio import load_yaml

    card = root / "README.md"
    if not card.is_file():
        return {}
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return {}
    try:
        meta = load_yaml(text.split("\n---", 1)[0].removeprefix("---"), card)
    except InputError:
        return {}
    inner = meta.get("newsstance") if isinstance(meta, dict) else None
    return inner if isinstance(inner, dict) else {}


def _digest(root: Path) -> str:
    try:
        value = json.loads((root / "digest.json").read_text(encoding="utf-8")).get("digest")
    except (OSError, ValueError, AttributeError):
        return ""
    return str(value or "")


def _origins(root: Path) -> list[str]:
    """The distinct `origin` values of the dataset's statements (from its Parquet files; [] without them)."""
    files = sorted((root / "parquet" / "statements").glob("*.parquet"))
    if not files:
        return []
    import pyarrow.parquet as pq

    found: set[str] = set()
    for file in files:
        try:
            column = pq.read_table(file, columns=["origin"]).column("origin")
        except (OSError, KeyError, ValueError):  # an older build without the column: folders alone
            continue
        found.update(str(v) for v in column.unique().to_pylist() if v)
    return sorted(found)


def slugify(text: str) -> str:
    """Lower-case letters, digits and dashes (what a registry alias allows), at most 40 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def dataset_lineage(dataset: str | Path) -> Lineage:
    """The lineage of a built dataset (DATASET, DATASET/statements or DATASET/candidates)."""
    root = Path(dataset)
    if root.name in ("statements", "candidates") and not (root / root.name).is_dir():
        root = root.parent
    header = _card_header(root)
    digest = str(header.get("digest") or _digest(root))
    raw = header.get("sources") if isinstance(header.get("sources"), list) else []
    folders = sorted({f"{s.get('kind', 'source')}:{Path(str(s.get('path', ''))).name}" for s in raw
                      if isinstance(s, dict) and s.get("path")})
    # where the rows came from (an importer's "table:<file>", "seesaw"): two tables imported into folders of one
    # name are still two lineages
    sources = tuple(folders + [f"origin:{o}" for o in _origins(root)]) if folders else ()
    codebook = str(header.get("codebook_version") or "")
    split = " ".join(f"{k}={header[k]}" for k in _SPLIT_KEYS if k in header)
    if sources:
        basis = json.dumps({"sources": sources, "codebook": codebook, "split": split}, sort_keys=True)
        name = slugify("-".join(s.split(":", 1)[1] for s in folders)) or "dataset"
    else:  # no card: only this very build is known, so the lineage is the content itself
        basis = digest or str(root.resolve())
        name = slugify(root.name) or "dataset"
    key = hashlib.sha256(basis.encode()).hexdigest()[:12]
    return Lineage(key, f"{name}-{key[:8]}", sources, codebook, split, digest)
