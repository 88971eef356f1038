"""What is deployed is what is tested: deploy/versions.env defines the Airflow of the Composer
environment and the Google Cloud CLI of the build, and everything else agrees with it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_commands import plan_commands, read_versions

SDK_IMAGE = "gcr.io/google.com/cloudsdktool/cloud-sdk"


@pytest.fixture(scope="module")
def versions() -> dict[str, str]:
    return read_versions()


def airflow_pin(repo: Path) -> str:
    [pin] = re.findall(r"^apache-airflow==(\S+)$", (repo / "requirements-airflow.txt").read_text(), re.MULTILINE)
    return pin


def test_composer_runs_the_airflow_the_dag_tests_use(versions, bootstrap_plan, repo):
    [create] = [argv for argv in plan_commands(bootstrap_plan) if argv[2:5] == ["composer", "environments", "create"]]
    [image] = [arg.split("=", 1)[1] for arg in create if arg.startswith("--image-version=")]
    assert image == versions["COMPOSER_IMAGE_VERSION"] == f"composer-3-airflow-{versions['AIRFLOW_VERSION']}"
    assert airflow_pin(repo) == versions["AIRFLOW_VERSION"]


def test_the_composer_image_cannot_be_overridden_apart_from_the_tests(repo):
    """A COMPOSER_IMAGE_VERSION in the environment would deploy an untested Airflow: it is ignored."""
    from deploy_commands import run_bootstrap

    done = run_bootstrap("--dry-run", "schedule", env={"PROJECT_ID": "p", "COMPOSER_IMAGE_VERSION": "composer-3-airflow-2.10.5"})
    assert done.returncode == 0, done.stderr
    assert "composer-3-airflow-2.10.5" not in done.stdout


def test_the_airflow_venv_refuses_requirements_that_differ_from_the_pin(repo, tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(repo / "scripts" / "setup-airflow-venv.sh", tmp_path / "scripts")
    (tmp_path / "deploy").mkdir()
    shutil.copy(repo / "deploy" / "versions.env", tmp_path / "deploy")
    requirements = (repo / "requirements-airflow.txt").read_text()
    (tmp_path / "requirements-airflow.txt").write_text(requirements.replace("\napache-airflow==", "\napache-airflow==0.0."))
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "setup-airflow-venv.sh"), str(tmp_path / "venv")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "does not pin apache-airflow==" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_every_gcloud_step_of_the_build_uses_the_pinned_cli(cloudbuild, versions):
    images = {s["name"] for s in cloudbuild["steps"] if "cloudsdktool" in s["name"]}
    assert images == {f"{SDK_IMAGE}:{versions['CLOUD_SDK_VERSION']}-slim"}
    gcloud_steps = [s for s in cloudbuild["steps"] if s.get("entrypoint") == "gcloud" or "gcloud " in str(s["args"])]
    assert all("cloudsdktool" in s["name"] for s in gcloud_steps)


def test_the_installed_cli_is_the_pinned_one(sdk, versions):
    """The parser checks in this directory vouch for the CLI the build runs only if they are the same."""
    installed = (Path(sdk.lib).parent / "VERSION").read_text().strip()
    assert installed == versions["CLOUD_SDK_VERSION"], (
        f"gcloud {installed} is installed but deploy/versions.env pins {versions['CLOUD_SDK_VERSION']}: "
        "install that version, or move the pin (and cloudbuild.yaml's image tags) to this one")


def test_versions_file_is_what_bash_reads(repo, versions):
    done = subprocess.run(["bash", "-c", f'set -a && source "{repo}/deploy/versions.env" && env'],
                          capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    from_bash = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert {name: from_bash.get(name) for name in versions} == versions
