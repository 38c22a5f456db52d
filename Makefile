# Every target does its own set-up: `make test` and `make demo` work on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The lowest versions every package's metadata allows (`--resolution lowest-direct`): the suite runs
# there too, so the lower bounds in packages/*/pyproject.toml are true.
LOWEST := .venv-lowest
# Use uv from PATH when there is one; otherwise install it into the venv first.
UV     := $(shell command -v uv || echo $(BIN)/uv)

.DEFAULT_GOAL := help
.PHONY: help install test test-lowest chaos lint format demo bench bench-quick bench-peers docs snapshots clean

help:  ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml uv.lock packages/*/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --all-packages --all-extras --frozen --inexact --python $(BIN)/python
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv with every package and the dev tools

test: $(STAMP)  ## Run the whole test suite
	$(BIN)/python -m pytest

test-lowest: $(STAMP)  ## Run the whole suite against the lowest dependency versions allowed
	@test -x $(LOWEST)/bin/python || $(UV) venv --quiet --python $(BIN)/python $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct \
		-e 'packages/storage-core[s3,testing]' -e 'packages/diary[s3,arrow,pandas,plot]' \
		-e packages/buildlog --group dev
	$(LOWEST)/bin/python -m pytest -p no:cacheprovider

chaos: $(STAMP)  ## Reliability suites with 50 SIGKILL trials per scenario (tests/reliability)
	CHAOS_TRIALS=50 $(BIN)/python -m pytest tests/reliability --timeout=3600

lint: $(STAMP)  ## Run ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)  ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(STAMP)  ## Run a small end-to-end job and print what it stored
	$(BIN)/python scripts/demo.py

bench: $(STAMP)  ## Benchmarks against raw baselines, full sizes (~10 min); writes bench/results/latest.json
	$(BIN)/python -m bench

bench-quick: $(STAMP)  ## Benchmarks at small sizes (under a minute)
	$(BIN)/python -m bench --quick

bench-peers: $(STAMP)  ## diary against MLflow (in .venv-mlflow), workload by workload; writes bench/results/peers.json
	$(BIN)/python -m bench.peers

docs: $(STAMP)  ## Regenerate the CLI reference in docs/cli.md
	$(BIN)/python scripts/gen_cli_docs.py

snapshots: $(STAMP)  ## Rewrite diary's schema snapshots from its migrations (after adding one)
	$(BIN)/python -m storage_core.schema.snapshot diary.schema:schema_environment

clean:  ## Remove the virtual environment and caches
	rm -rf $(VENV) $(LOWEST) .venv-mlflow .pytest_cache .mypy_cache .ruff_cache .hypothesis .demo
