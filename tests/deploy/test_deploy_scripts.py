"""The shell scripts we ship: syntax, shellcheck, and the MLflow server flags the VM will run."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = ("scripts/bootstrap.sh", "scripts/teardown.sh", "scripts/deploy-lib.sh", "scripts/assemble_function.sh",
           "scripts/mlflow-vm-startup.sh")


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_syntax(repo, script):
    done = subprocess.run(["bash", "-n", str(repo / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_is_clean(repo, script):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
    # -x follows `source`, so a script is checked with the functions and names it sources.
    done = subprocess.run(["shellcheck", "-x", "--severity=style", script], capture_output=True, text=True, cwd=repo)
    assert done.returncode == 0, done.stdout


def unit_exec_start(script: str, binary: str) -> str:
    [line] = [line for line in script.splitlines() if line.startswith(f"ExecStart={binary}")]
    return line.removeprefix("ExecStart=")


def test_mlflow_server_flags_are_accepted_by_the_pinned_mlflow(repo):
    """The unit's command line, with sample values, passes the installed MLflow's option parser
    (an unknown option fails even with --help, which stops before the server starts)."""
    script = (repo / "scripts" / "mlflow-vm-startup.sh").read_text(encoding="utf-8")
    pinned = re.search(r"^MLFLOW_VERSION=(\S+)$", script, re.MULTILINE).group(1)
    import mlflow

    assert mlflow.__version__ == pinned, "the VM must run the MLflow version the project tests with"
    samples = {"VENV": str(Path(sys.executable).parent.parent), "artifact_bucket": "gasforecast-artifacts",
               "port": "5000", "private_ip": "10.10.0.10"}
    line = re.sub(r"\$\{?(\w+)\}?", lambda m: samples[m.group(1)], unit_exec_start(script, "$VENV/bin/mlflow"))
    argv = shlex.split(line)
    assert argv[1] == "server"
    assert "--artifacts-destination" in argv and "gs://gasforecast-artifacts/mlruns" in argv
    assert "--allowed-hosts" in argv
    from click.testing import CliRunner
    from mlflow.cli import cli  # the `mlflow` command's own parser, in-process (two CLI starts took 8 s)

    done = CliRunner().invoke(cli, [*argv[1:], "--help"])
    assert done.exit_code == 0, done.output[-2000:]
    bad = CliRunner().invoke(cli, [*argv[1:], "--no-such-flag", "--help"])
    assert bad.exit_code == 2 and "No such option" in bad.output


def test_database_uri_reaches_mlflow_only_through_its_environment_file(repo):
    """The password never appears on a command line (visible in `ps`): MLflow reads
    MLFLOW_BACKEND_STORE_URI from a root-only EnvironmentFile."""
    script = (repo / "scripts" / "mlflow-vm-startup.sh").read_text(encoding="utf-8")
    assert "--backend-store-uri" not in unit_exec_start(script, "$VENV/bin/mlflow")
    assert "EnvironmentFile=/etc/mlflow/env" in script
    assert "MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://" in script
    assert "--address 127.0.0.1" in unit_exec_start(script, "$PROXY")


def _run_read_secret(repo: Path, tmp_path: Path, failures: int, attempts: str) -> subprocess.CompletedProcess:
    """The start-up script's read_secret, on its own, against a gcloud that is refused `failures`
    times first (and a `sleep` that only records how long it would wait)."""
    script = (repo / "scripts" / "mlflow-vm-startup.sh").read_text(encoding="utf-8")
    settings = re.search(r"^SECRET_ATTEMPTS=.*\n^SECRET_RETRY_SECONDS=.*\n", script, re.MULTILINE).group(0)
    function = re.search(r"^read_secret\(\) \{\n.*?^\}\n", script, re.MULTILINE | re.DOTALL).group(0)
    stand_ins = f"""
gcloud() {{
  echo "$*" >>"$CALLS"
  if (( $(wc -l <"$CALLS") <= {failures} )); then echo "ERROR: PERMISSION_DENIED: secretmanager.versions.access" >&2; return 1; fi
  printf 's3cret'
}}
sleep() {{ echo "slept $1" >&2; }}
"""
    calls = tmp_path / "gcloud-calls"
    calls.write_text("")
    return subprocess.run(["bash", "-c", f"set -euo pipefail\n{stand_ins}{settings}{function}"
                           'password=$(read_secret mlflow-db-password); printf "[%s]" "$password"'],
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "CALLS": str(calls), "SECRET_ATTEMPTS": attempts})


def test_the_vm_retries_its_secret_read_while_the_grant_propagates(repo, tmp_path):
    done = _run_read_secret(repo, tmp_path, failures=3, attempts="9")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[s3cret]"
    assert re.findall(r"slept (\d+)", done.stderr) == ["5", "10", "20"]
    assert "not readable yet (attempt 3 of 9)" in done.stderr


def test_the_secret_read_gives_up_after_its_attempts(repo, tmp_path):
    done = _run_read_secret(repo, tmp_path, failures=99, attempts="4")
    assert done.returncode != 0 and "[" not in done.stdout
    assert re.findall(r"slept (\d+)", done.stderr) == ["5", "10", "20"]
    assert "still unreadable after 4 attempts" in done.stderr


def test_mlflow_pins_match_pyproject(repo):
    script = (repo / "scripts" / "mlflow-vm-startup.sh").read_text(encoding="utf-8")
    pyproject = (repo / "pyproject.toml").read_text(encoding="utf-8")
    for variable, package in (("MLFLOW_VERSION", "mlflow"), ("PSYCOPG2_VERSION", "psycopg2-binary"),
                              ("GOOGLE_CLOUD_STORAGE_VERSION", "google-cloud-storage")):
        version = re.search(rf"^{variable}=(\S+)$", script, re.MULTILINE).group(1)
        assert f'"{package}=={version}"' in pyproject, package


def test_assemble_refuses_to_overwrite_its_sources(repo, tmp_path):
    done = subprocess.run(["bash", str(repo / "scripts" / "assemble_function.sh"), "functions/ingest", "functions/ingest"],
                          capture_output=True, text=True, cwd=repo)
    assert done.returncode == 2 and "refusing" in done.stderr
    assert (repo / "functions" / "ingest" / "main.py").is_file()
    missing = subprocess.run(["bash", str(repo / "scripts" / "assemble_function.sh"), str(tmp_path), str(tmp_path / "out")],
                             capture_output=True, text=True, cwd=repo)
    assert missing.returncode == 1 and "missing" in missing.stderr
