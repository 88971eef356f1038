# gasforecast — the two commands a newcomer needs are `make demo` and `make test`.
# Each target creates .venv and installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
# Test files run in parallel, each worker with its own local stack on free ports (see docs/local-development.md).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: setup demo test test-unit lint bench system-packages airflow clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## setup: create .venv with the project, its CLI `gasforecast` and the dev tools
setup: $(STAMP)

## demo: the whole system on 127.0.0.1, end to end (Ctrl-C stops it)
demo: $(STAMP)
	$(BIN)/python -m devstack

## system-packages: headless Chromium (page test), shellcheck (deploy scripts), wrk (benchmark), from Debian
system-packages:
	bash scripts/install-system-packages.sh

## airflow: .venv-airflow for the DAG tests (Airflow stays out of the main install)
airflow:
	bash scripts/setup-airflow-venv.sh

## lint: pyflakes-level checks over the whole tree, then the type checker over the core and every entry point
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy functions/ingest/main.py
	$(BIN)/mypy functions/train/main.py

## test: lint, then every test, unit and integration (real emulators, PostgreSQL, MLflow server)
test: $(STAMP) system-packages airflow lint
	$(PYTEST) $(PYTEST_ARGS)

## test-unit: the fast tests that need no service (what Cloud Build runs)
test-unit: $(STAMP) lint
	$(PYTEST) -m "not integration" $(PYTEST_ARGS)

## bench: nested forecast accuracy on every real series (when ../shared/data exists) and serving load figures
bench: $(STAMP) system-packages
	$(BIN)/python bench/forecast_suite.py
	$(BIN)/python bench/serve_load.py

clean:
	rm -rf .run test-output build .pytest_cache .mypy_cache
