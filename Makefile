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

# One line per stage; pip's own "Collecting" lines become a running count (the first run takes about 7-8 minutes
# on 2 cores, mostly torch and the ML stack; later runs skip this unless pyproject.toml changed).
$(STAMP): pyproject.toml
	@echo "== install: setting up $(VENV) (first run: about 7-8 minutes; later runs skip this)"
	@test -x $(PY) || { echo "   creating the virtual environment with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "   resolving and downloading the project's dependencies (pyproject.toml)"
	@start=$$(date +%s); n=0; \
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]' 2>&1 | grep --line-buffered -v 'is ignored' | \
	while IFS= read -r line; do case "$$line" in \
	  Collecting*|"Requirement already satisfied"*) n=$$((n + 1)); \
	    [ $$((n % 25)) -eq 0 ] && echo "   ... $$n packages resolved";; \
	  "Installing collected packages"*) echo "   $$n packages resolved; installing $$(( $$(echo "$$line" | tr -cd , | wc -c) + 1 )) new or changed ones (unpacking wheels: the longest stage)";; \
	  "Successfully installed"*) echo "   installed";; \
	  ERROR*|error*) echo "$$line";; \
	esac; done; \
	echo "   checking the imports"; \
	$(PY) -c "import corpus, datasets, transformers, mlflow, label_studio_sdk" && touch $(STAMP) && \
	echo "== install: done in $$(( $$(date +%s) - start )) s"

install: $(STAMP)

# Headless Chromium for the browser checks (Debian's package; playwright drives it, never downloads one).
browser:
	@command -v chromium >/dev/null || { echo "== browser: installing Chromium with apt-get for the browser tests (once; about a minute)"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: could not install chromium; browser tests will skip"

lint: install
	$(PY) -m ruff check .

test: install browser
	$(PY) -m ruff check .
	$(PY) -m pytest --durations=15

# The main job: every stage on the bundled corpus, and on SEESAW where it is available.
# DEMO_TRANSFORMER_SAMPLES caps the short MiniLM run (the full run is `make bench`).
DEMO_TRANSFORMER_SAMPLES ?= 1500
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/var/mlflow/mlflow.db
demo: install
	@set -euo pipefail; mkdir -p $(OUT) var/mlflow; \
	echo "== corpus: validate the bundled corpus"; $(PY) -m corpus validate; \
	echo "== corpus: build the bundled dataset"; $(PY) -m corpus build --out $(OUT)/dataset-bundled --no-progress; \
	echo "== evaluation: the seed article's discourse network (gold; open network.html to explore it)"; \
	$(PY) -m evaluation network corpus --out $(OUT)/network-seed; \
	SEESAW="$(SEESAW_DIR)"; \
	if [ -z "$$SEESAW" ] || [ ! -d "$$SEESAW" ]; then \
	  echo "== corpus: SEESAW_DIR not set; trying to download SEESAW"; \
	  if $(PY) -m corpus import seesaw var/cache/seesaw/none --download --out $(OUT)/seesaw 2>$(OUT)/seesaw-download.log; \
	  then SEESAW=downloaded; else SEESAW=""; fi; \
	else \
	  echo "== corpus: import SEESAW from $$SEESAW"; $(PY) -m corpus import seesaw "$$SEESAW" --out $(OUT)/seesaw; \
	fi; \
	if [ -z "$$SEESAW" ]; then \
	  echo "note: SEESAW is not available (no SEESAW_DIR, download failed: $$(tail -n1 $(OUT)/seesaw-download.log)); left out."; \
	  echo "note: the bundled corpus ($$(ls corpus/articles | wc -l) article(s)) is too small to split into train/validation/test or to train on: training and evaluation are skipped, not faked."; \
	  echo; echo "Results: $(OUT)/ (dataset-bundled/, network-seed/)"; exit 0; \
	fi; \
	echo "== corpus: build the SEESAW dataset"; $(PY) -m corpus build $(OUT)/seesaw --out $(OUT)/dataset-seesaw --no-progress; \
	D=$(OUT)/dataset-seesaw; \
	echo "== annotation: SEESAW's agreement between annotators (the human ceiling of the evaluation)"; \
	$(PY) -m annotation agreement $(OUT)/seesaw --json $(OUT)/seesaw-agreement.json > $(OUT)/seesaw-agreement.txt; \
	echo "   $(OUT)/seesaw-agreement.txt"; \
	echo "== training: majority baseline"; $(PY) -m training train --config majority --dataset $$D --quiet; \
	echo "== training: TF-IDF + logistic regression"; $(PY) -m training train --config tfidf_logreg --dataset $$D --quiet; \
	echo "== training: MiniLM, short run ($(DEMO_TRANSFORMER_SAMPLES) samples, 1 epoch)"; \
	$(PY) -m training train --config minilm --dataset $$D --quiet --set data.max_train_samples=$(DEMO_TRANSFORMER_SAMPLES) \
	  --set transformer.epochs=1 --set data.max_validation_samples=600; \
	echo "== evaluation: $$($(PY) -m training.champion $$D); scored on SEESAW test"; \
	$(PY) -m evaluation evaluate --model models:/newsstance-stance@champion --dataset $$D --split test \
	  --agreement $(OUT)/seesaw-agreement.json --out $(OUT)/eval-test; \
	echo "== evaluation: SEESAW test discourse network (gold)"; \
	$(PY) -m evaluation network $$D --split test --out $(OUT)/network-seesaw-test; \
	echo; echo "Results under $(OUT)/:"; \
	echo "  datasets:   dataset-bundled/, dataset-seesaw/ (README.md is each dataset card)"; \
	echo "  networks:   network-seed/, network-seesaw-test/ (network.html to explore, PNG, GraphML, CSV)"; \
	echo "  evaluation: eval-test/report.html and report.md"; \
	echo "  runs:       make mlflow-ui  (store: $(MLFLOW_TRACKING_URI); model folders in var/runs/)"

bench: install
	$(PY) -m tests.benchmarks --out BENCHMARKS.md $(BENCH)

label-studio: install
	$(PY) -m annotation serve

mlflow-ui: install
	$(PY) -m training ui

clean:
	rm -rf var/demo .pytest_cache .ruff_cache
