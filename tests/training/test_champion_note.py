"""The demo's heading line: which model is the dataset's champion and why (validation score against the others)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.training.conftest import unique


@pytest.mark.slow
def test_the_champion_is_named_with_its_score_against_the_other_configs(
        statements_dataset: Path, tracking_uri: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from training.champion import contenders, describe
    from training.config import load_config
    from training.run import train

    name = unique("note", request)
    assert describe(statements_dataset, name, tracking_uri).startswith("no champion yet for this dataset")
    scores = {}
    for config, extra in (("majority", []), ("tfidf_logreg", ["sklearn.min_df=1", "sklearn.c_grid=[1.0]"])):
        cfg, file = load_config(config, [*extra, f"output_dir={tmp_path / config}", f"tracking.registered_model={name}"])
        summary = train(cfg, file, dataset=str(statements_dataset), tracking_uri=tracking_uri, progress=False)
        scores[config] = summary.metrics["validation_macro_f1"]
    champion, found, alias = contenders(statements_dataset, name, tracking_uri)
    best = max(scores, key=lambda c: scores[c])
    other = min(scores, key=lambda c: scores[c])
    assert champion is not None and champion.config == best and len(found) == 2 and alias.startswith("champion-")
    line = describe(statements_dataset, name, tracking_uri)
    assert re.match(rf"the champion is {best} \(version \d+, run \w{{8}}\): validation macro-F1 "
                    rf"{scores[best]:.3f}, against {other} {scores[other]:.3f} on this dataset's lineage", line), line
