#!/usr/bin/env bash
# Create .venv-airflow with the pinned Airflow + Google provider (requirements-airflow.txt), the
# Airflow version of the Composer environment (AIRFLOW_VERSION in deploy/versions.env).
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

# The Airflow tested here must be the one Composer runs: deploy/versions.env defines it once.
# shellcheck source=/dev/null  # (deploy/versions.env: plain NAME=value lines)
source "$repo_root/deploy/versions.env"
if ! grep -qx "apache-airflow==$AIRFLOW_VERSION" "$requirements"; then
    echo "setup-airflow-venv: $requirements does not pin apache-airflow==$AIRFLOW_VERSION" \
        "(AIRFLOW_VERSION in deploy/versions.env); change both together" >&2
    exit 1
fi

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
