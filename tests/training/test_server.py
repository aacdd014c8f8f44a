"""Training against a real `mlflow server` on 127.0.0.1: the same run, inputs, artifacts and registry as locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import unique
from tests.training.test_train import TINY, assert_tracked, run_of, train_cli


@pytest.mark.slow
@pytest.mark.mlflow_server
def test_train_against_a_real_tracking_server(mlflow_server: str, statements_dataset: Path, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    from training.predict import load_predictor

    registered = unique("served", request)
    for i, config in enumerate(("tfidf_logreg", "minilm")):
        overrides = ["sklearn.min_df=1"] if config == "tfidf_logreg" else TINY
        code, out, err = train_cli(config, overrides, statements_dataset, mlflow_server, tmp_path / config,
                                   registered)
        assert code == 0, err
        assert mlflow_server in out
        # the first version is the champion; the second only if it beats it
        assert_tracked(mlflow_server, run_of(tmp_path / config), config, registered, 1 if i == 0 else 2,
                       "sha256:" + "ab" * 32, champion=i == 0)
    predictor = load_predictor(f"models:/{registered}@champion", mlflow_server)
    proba = predictor.predict_proba([{"context": "Donald Trump backs border security.", "actor_mention": "Donald Trump",
                                      "policy_mention": "border security"}])
    assert proba.shape == (1, 3) and np.isclose(proba.sum(), 1)
