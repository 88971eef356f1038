# gasforecast — the two commands a newcomer needs are `make demo` and `make test`.
# Each target creates .venv and installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYPROJECT_HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
DEMO_STAMP := $(VENV)/.installed-demo-$(PYPROJECT_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(PYPROJECT_HASH)
PYTEST_ARGS ?=
# Test files run in parallel, each worker with its own local stack on free ports (see docs/local-development.md).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: setup demo test test-unit lint bench system-packages airflow clean

# pip's output goes to .venv/pip-install.log; scripts/pip_progress.py prints a line per stage instead.
# $(1): the extra to install, $(2): what it is called in the progress line.
define pip_install
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/python -m pip install --upgrade pip 2>&1 \
		| $(BIN)/python scripts/pip_progress.py "upgrading pip" $(VENV)/pip-install.log
	@set -o pipefail; $(BIN)/python -m pip install -e '.[$(1)]' 2>&1 \
		| $(BIN)/python scripts/pip_progress.py "$(2)" $(VENV)/pip-install.log
endef

# The demo's runtime only (project, functions-framework, Flask, gunicorn, MLflow server, GCS emulator).
$(DEMO_STAMP): pyproject.toml
	$(call pip_install,demo,installing what the demo runs)
	@rm -f $(VENV)/.installed-demo-* && touch $(DEMO_STAMP)

# The demo's runtime plus tests, lint and the browser driver; it includes the demo's stamp.
$(DEV_STAMP): pyproject.toml
	$(call pip_install,dev,installing the demo's runtime and the test tools)
	@rm -f $(VENV)/.installed-* && touch $(DEMO_STAMP) $(DEV_STAMP)

## setup: create .venv with the project, its CLI `gasforecast` and the dev tools
setup: $(DEV_STAMP)

## demo: the whole system on 127.0.0.1, end to end (Ctrl-C stops it)
demo: $(DEMO_STAMP)
	$(BIN)/python -m devstack

## system-packages: headless Chromium (page test), shellcheck (deploy scripts), wrk (benchmark), from Debian
system-packages:
	bash scripts/install-system-packages.sh

## airflow: .venv-airflow for the DAG tests (Airflow stays out of the main install)
airflow:
	bash scripts/setup-airflow-venv.sh

## lint: ruff (pyflakes, import order, bugbear, pyupgrade, simplify) over the whole tree, then mypy (every function annotated) over the core and every entry point
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy functions/ingest/main.py
	$(BIN)/mypy functions/train/main.py

## test: lint, then every test, unit and integration (real emulators, PostgreSQL, MLflow server)
test: $(DEV_STAMP) system-packages airflow lint
	$(PYTEST) $(PYTEST_ARGS)

## test-unit: the fast tests that need no service (what Cloud Build runs)
test-unit: $(DEV_STAMP) lint
	$(PYTEST) -m "not integration" $(PYTEST_ARGS)

## bench: nested forecast accuracy on every real series (when ../shared/data exists) and serving load figures
bench: $(DEV_STAMP) system-packages
	$(BIN)/python bench/forecast_suite.py
	$(BIN)/python bench/serve_load.py

clean:
	rm -rf .run test-output build .pytest_cache .mypy_cache
