"""Shared test set-up: real servers (Label Studio, MLflow) are session fixtures in their own plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures.labelstudio_server", "tests.fixtures.mlflow_server"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEESAW_DIR = Path(os.environ.get("SEESAW_DIR", SHARED / "datasets" / "seesaw" / "SEESAW"))
SEED_FILE = SHARED / "seed" / "article-001.txt"


@pytest.fixture(scope="session")
def seesaw_dir() -> Path:
    """The SEESAW release, read by path; tests that need it skip, saying so, where it is absent."""
    if not (SEESAW_DIR / "annotations").is_dir():
        pytest.skip(f"SEESAW not found at {SEESAW_DIR} (needs ../shared or SEESAW_DIR)")
    return SEESAW_DIR


@pytest.fixture(scope="session")
def seed_file() -> Path:
    if not SEED_FILE.is_file():
        pytest.skip(f"seed article not found at {SEED_FILE} (needs ../shared)")
    return SEED_FILE
