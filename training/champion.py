"""Which registered model is a dataset's champion, and why: its validation score against the other versions
trained on the same dataset lineage (`python -m training.champion DATASET`, used by `make demo`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from training.tracking import SCORE_TAG


@dataclass(frozen=True)
class Contender:
    """One registered version of the lineage: its config, version, run and validation macro-F1."""

    config: str
    version: str
    run_id: str
    score: float


def contenders(dataset: str | Path, name: str = "newsstance-stance", tracking_uri: str | None = None
               ) -> tuple[Contender | None, list[Contender], str]:
    """(the champion, every version of the dataset's lineage best first, the champion alias)."""
    import mlflow

    from training import tracking
    from training.lineage import dataset_lineage

    lineage = dataset_lineage(dataset)
    tracking.configure(tracking.resolve_tracking_uri(tracking_uri))
    client = mlflow.MlflowClient()
    found = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        tags = mv.tags or {}
        if tags.get("newsstance.dataset_lineage") != lineage.key or SCORE_TAG not in tags:
            continue
        found.append(Contender(tags.get("config", "?"), str(mv.version), mv.run_id or "", float(tags[SCORE_TAG])))
    found.sort(key=lambda c: (-c.score, int(c.version) if c.version.isdigit() else 0))
    try:
        current = str(client.get_model_version_by_alias(name, lineage.alias).version)
    except mlflow.exceptions.MlflowException:
        current = None
    champion = next((c for c in found if c.version == current), None)
    return champion, found, lineage.alias


def describe(dataset: str | Path, name: str = "newsstance-stance", tracking_uri: str | None = None) -> str:
    """One line: the champion's config, version and run, and its validation macro-F1 beside the others'."""
    champion, found, alias = contenders(dataset, name, tracking_uri)
    if champion is None:
        return f"no champion yet for this dataset ({name}@{alias})"
    best_other: dict[str, Contender] = {}
    for c in found:
        if c.version != champion.version and (c.config not in best_other or c.score > best_other[c.config].score):
            best_other[c.config] = c
    others = ", ".join(f"{c.config} {c.score:.3f}" for c in sorted(best_other.values(), key=lambda c: -c.score))
    return (f"the champion is {champion.config} (version {champion.version}, run {champion.run_id[:8]}): "
            f"validation macro-F1 {champion.score:.3f}" + (f", against {others}" if others else ", the only one")
            + f" on this dataset's lineage ({name}@{alias})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m training.champion DATASET")
    print(describe(sys.argv[1]))
