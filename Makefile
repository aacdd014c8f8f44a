# newsstance: `make demo` runs the main job, `make test` the tests. Both set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= var/demo
SEESAW_DIR ?= $(wildcard ../shared/datasets/seesaw/SEESAW)
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint bench label-studio mlflow-ui browser clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	@$(PY) -c "import corpus, datasets, transformers, mlflow, label_studio_sdk" && touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the browser checks (Debian's package; playwright drives it, never downloads one).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "note: could not install chromium; browser tests will skip"

lint: install
	$(PY) -m ruff check .

test: install browser
	$(PY) -m ruff check .
	$(PY) -m pytest

# The main job: every stage on the bundled corpus, and on SEESAW where it is available.
demo: install
	@set -euo pipefail; mkdir -p $(OUT); \
	echo "== corpus: validate the bundled corpus"; $(PY) -m corpus validate; \
	echo "== corpus: build the bundled dataset"; $(PY) -m corpus build --out $(OUT)/dataset-bundled; \
	if [ -n "$(SEESAW_DIR)" ] && [ -d "$(SEESAW_DIR)" ]; then \
	  echo "== corpus: import SEESAW from $(SEESAW_DIR)"; \
	  $(PY) -m corpus import seesaw "$(SEESAW_DIR)" --out $(OUT)/seesaw; \
	  echo "== corpus: build the SEESAW dataset"; $(PY) -m corpus build $(OUT)/seesaw --out $(OUT)/dataset-seesaw; \
	  DATA=$(OUT)/dataset-seesaw; \
	else \
	  echo "note: SEESAW not found (set SEESAW_DIR, or run 'python -m corpus import seesaw DIR --download'); demo runs on the bundled corpus only"; \
	  DATA=$(OUT)/dataset-bundled; \
	fi; \
	echo; echo "Results: $(OUT)/ (datasets: $$DATA)"

bench: install
	$(PY) -m tests.benchmarks --out BENCHMARKS.md $(BENCH)

label-studio: install
	$(PY) -m annotation serve

mlflow-ui: install
	$(PY) -m training ui

clean:
	rm -rf var/demo .pytest_cache .ruff_cache
