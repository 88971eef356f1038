#!/usr/bin/env bash
# Create .venv-airflow with the pinned Airflow + Google provider (requirements-airflow.txt).
#
# Airflow is a test-only dependency (the DAG checks in tests/dag/ run under it); keeping it in its
# own venv keeps it out of the function and service installs. Idempotent: a venv whose recorded
# requirements hash matches is left alone. About 90 s and 2.1 GB on a fresh machine.
#
# Usage: scripts/setup-airflow-venv.sh [VENV_DIR]   (default: .venv-airflow in the repo root)
# Env:   PYTHON (default python3.11)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.venv-airflow}"
requirements="$repo_root/requirements-airflow.txt"
python="${PYTHON:-python3.11}"
stamp="$venv/.requirements.sha256"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "setup-airflow-venv: $venv is up to date"
    exit 0
fi

started=$SECONDS
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
rm -f "$stamp"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet --requirement "$requirements"
"$venv/bin/python" -m pip check
echo "$wanted" > "$stamp"
echo "setup-airflow-venv: installed $venv in $((SECONDS - started)) s ($(du -sh "$venv" | cut -f1))"
