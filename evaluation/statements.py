"""Stance statements (actor, policy option, stance) from any source a discourse network is drawn from.

SOURCE is one of: a corpus folder (`corpus/`, an importer's OUT: `annotations/*.json` tasks), a Label
Studio JSON export or a single task file, a dataset folder (`DATASET/statements`), or a JSON / JSONL /
CSV / Parquet file of statement rows (`training extract` output, `evaluation evaluate` predictions).
Task files go through the dataset conversion (`corpus.convert`), so a network counts exactly the
statements a dataset build would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.codebook import Codebook
from corpus.errors import InputError

log = logging.getLogger(__name__)
STANCE_KEYS = ("stance", "predicted", "prediction", "pred", "label")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Statement:
    """One coded (or predicted) position of an actor toward a policy option."""

    actor_id: str
    policy_id: str
    stance: str
    actor_label: str = ""
    policy_label: str = ""
    actor_type: str = UNKNOWN
    article_id: str = ""
    confidence: float | None = None
    context: str = ""  # the evidence: the sentence(s) the statement was coded in, where the source has them


@dataclass
class StatementSource:
    """Statements read from one SOURCE, what kind of source it was, and notes on anything left out."""

    path: str
    kind: str
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_statements(source: str | Path, codebook: Codebook, split: str | None = None) -> StatementSource:
    """Read statements from SOURCE (see the module docstring); InputError if SOURCE is none of those."""
    path = Path(source)
    if not path.exists():
        raise InputError(path, "not found")
    if path.is_dir():
        from evaluation.data import dataset_root

        path = dataset_root(path)
        if (path / "statements").is_dir():
            return _from_dataset(path, codebook, split)
        if (path / "annotations").is_dir() or list(path.glob("*.json")):
            return _from_tasks(path, codebook)
        raise InputError(path, "folder holds neither a dataset (statements/) nor annotations (annotations/*.json)")
    return _from_file(path, codebook)


def _from_file(path: Path, codebook: Codebook) -> StatementSource:
    from evaluation.predictions import read_rows

    rows = read_rows(path)
    if not rows:
        raise InputError(path, "holds no rows")
    if all(isinstance(r.get("data"), dict) for r in rows):
        return _convert_tasks([(f"{path}[{i}]", r) for i, r in enumerate(rows)], codebook, str(path), "tasks")
    from corpus.convert import Scheme

    out = StatementSource(str(path), "rows")
    names, scheme = codebook.stance_names, Scheme.from_codebook(codebook)
    for n, row in enumerate(rows, 1):
        out.statements.append(statement_from_row(row, codebook, names, f"{path}:{n}", scheme))
    return out


def statement_from_row(row: dict[str, Any], codebook: Codebook, names: list[str], where: str,
                       scheme: Any = None) -> Statement:
    """A statement row: `actor_id`|`actor`, `policy_id`|`policy`|`target`, a stance; labels and type optional."""
    # ids first; a name where no codebook id was found (e.g. `training extract` on an unknown mention)
    actor = _first(row, ("actor_id", "actor", "actor_label"))
    policy = _first(row, ("policy_id", "policy", "target", "policy_label"))
    if actor is None or policy is None:
        raise InputError(where, "a statement needs an actor (actor_id | actor) and a policy option "
                                "(policy_id | policy | target)")
    key = next((k for k in STANCE_KEYS if row.get(k) not in (None, "")), None)
    if key is None:
        raise InputError(where, f"no stance ({' | '.join(STANCE_KEYS)})")
    stance = row[key]
    if isinstance(stance, int) and not isinstance(stance, bool) and 0 <= stance < len(names):
        stance = names[stance]
    if stance not in names:
        raise InputError(where, f"stance {stance!r} is not in the codebook {names}")
    actor_id, actor_label, actor_type = _resolve(str(actor), True, codebook, scheme)
    policy_id, policy_label, _ = _resolve(str(policy), False, codebook, scheme)
    conf = row.get("confidence")
    try:
        conf = float(conf) if conf not in (None, "") else None
    except (TypeError, ValueError):
        raise InputError(where, f"confidence {conf!r} is not a number") from None
    return Statement(
        actor_id=actor_id, policy_id=policy_id, stance=str(stance),
        actor_label=str(row.get("actor_label") or actor_label),
        policy_label=str(row.get("policy_label") or policy_label),
        actor_type=str(row.get("actor_type") or actor_type),
        article_id=str(row.get("article_id") or ""), confidence=conf,
        context=str(row.get("context") or row.get("sentence") or ""),
    )


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((row[k] for k in keys if row.get(k) not in (None, "")), None)


def _resolve(name: str, is_actor: bool, codebook: Codebook, scheme: Any = None) -> tuple[str, str, str]:
    """(id, label, actor type) for a codebook id or label; other names are kept as given."""
    from corpus.convert import Scheme, resolve_name

    if is_actor and codebook.actor(name):
        a = codebook.actor(name)
        return a.id, a.label, a.type
    if not is_actor and codebook.policy(name):
        return name, codebook.policy(name).label, UNKNOWN
    if name.startswith("x:"):  # already an external id from the dataset conversion
        return name, name[2:], UNKNOWN
    return resolve_name(name, is_actor, scheme or Scheme.from_codebook(codebook))


def _from_dataset(path: Path, codebook: Codebook, split: str | None) -> StatementSource:
    from datasets import load_from_disk

    try:
        dd = load_from_disk(str(path / "statements"))
    except (FileNotFoundError, ValueError) as e:
        raise InputError(path / "statements", f"not a saved Hugging Face dataset ({e})") from None
    splits = [split] if split else list(dd.keys())
    missing = [s for s in splits if s not in dd]
    if missing:
        raise InputError(path, f"no split {missing[0]!r}; the dataset has {', '.join(dd.keys())}")
    from corpus.convert import Scheme

    out = StatementSource(str(path), "dataset")
    scheme = Scheme.from_codebook(codebook)
    for s in splits:
        ds = dd[s]
        names = list(getattr(ds.features.get("stance"), "names", None) or codebook.stance_names)
        for n, row in enumerate(ds.to_list()):
            if isinstance(row.get("stance"), int):
                row["stance"] = names[row["stance"]]
            out.statements.append(statement_from_row(row, codebook, codebook.stance_names, f"{path}[{s}] row {n}",
                                                     scheme))
    return out


def _from_tasks(path: Path, codebook: Codebook) -> StatementSource:
    from corpus.store import CorpusStore

    store = CorpusStore(path) if (path / "annotations").is_dir() else None
    files = store.task_files() if store else sorted(path.glob("*.json"))
    reader = store or CorpusStore(path)
    tasks = [(str(f), reader.read_task(f)) for f in files]
    if not tasks:
        raise InputError(path, "no annotation files")
    return _convert_tasks(tasks, codebook, str(path), "corpus")


def _convert_tasks(tasks: list[tuple[str, dict[str, Any]]], codebook: Codebook, source: str,
                   kind: str) -> StatementSource:
    """Gold statements of Label Studio tasks through `corpus.convert.convert_task` (its choice of annotation)."""
    from corpus.convert import Document, Scheme, convert_task

    scheme = Scheme.from_codebook(codebook)
    out = StatementSource(source, kind)
    rejected: dict[str, int] = {}
    for where, task in tasks:
        data = task.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise InputError(where, "task has no data.text")
        article_id = str(data.get("article_id") or f"task-{task.get('id', where)}")
        doc = Document(article_id, data["text"], {k: v for k, v in data.items() if k != "text"})
        conv = convert_task(task, doc, scheme, source=where)
        for rej in conv.rejections:
            if rej.get("relations"):
                rejected[rej["reason"]] = rejected.get(rej["reason"], 0) + rej["relations"]
        for row in conv.statements:
            out.statements.append(Statement(
                actor_id=row["actor_id"], policy_id=row["policy_id"], stance=row["stance"],
                actor_label=row["actor_label"], policy_label=row["policy_label"],
                actor_type=row.get("actor_type") or UNKNOWN, article_id=article_id,
                context=row.get("context") or ""))
    superseded = rejected.pop("superseded", 0)
    if superseded:
        out.notes.append(f"{superseded} relations in other annotators' annotations not drawn: each task's gold "
                         "(ground-truth or adjudicated) annotation is")
    for reason, count in sorted(rejected.items()):
        out.notes.append(f"{count} statements left out: {reason} (`corpus build` lists them in rejections.jsonl)")
    return out
