"""What is deployed is what is tested: deploy/versions.env defines the Airflow of the Composer
environment and everything else agrees with it; the build's Cloud SDK image is a live, pinned tag.

The gcloud parser checks (test_deploy_gcloud_commands.py) run on whatever CLI is installed here; it
need not be the version of the build's image (Google deletes image tags after a year, while a
developer's or CI machine's CLI may be older), so nothing ties the two together."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from deploy_commands import plan_commands, read_versions


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


# ---- The Cloud SDK image of the build ----------------------------------------------------------
# Google keeps numbered Cloud SDK image tags about a year after their release, then deletes them
# (around 2026-09-01 every tag before 537.0.0 went). The pin must be bumped before that: this check
# runs in the build's own unit-tests step and fails it once the pin is MAX_PIN_AGE old.
MAX_PIN_AGE = timedelta(days=335)  # 11 months, a month's margin before the one-year deletion
OLDEST_LIVE_RELEASE = 537  # the oldest numbered tag Google kept in the 2026-09-01 clean-up
_IMAGE = re.compile(r"^(?:gcr\.io/google\.com/cloudsdktool|[a-z-]+-docker\.pkg\.dev/google\.com\.cloudsdktool)"
                    r"/(?:google-cloud-cli|cloud-sdk)(?::(?P<tag>[\w.-]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")
_PIN_LINE = re.compile(r"^  _CLOUD_SDK_IMAGE: (?P<image>\S+)(?:\s+# released (?P<released>\S+))?\s*$", re.MULTILINE)


def pin_problems(image: str, released: str | None, today: date) -> list[str]:
    """What is wrong with an SDK image pin and the release date recorded beside it (nothing: [])."""
    match = _IMAGE.match(image)
    if match is None:
        return [f"{image} is not a Google Cloud SDK image"]
    problems = []
    tag, digest = match.group("tag"), match.group("digest")
    version = re.fullmatch(r"(\d+)\.\d+\.\d+(?:-[a-z_]+)?", tag or "")
    if version is None and digest is None:
        problems.append(f"{image} is not pinned: use a numbered tag (e.g. 594.0.0-slim) or a digest")
    elif version is not None and int(version.group(1)) < OLDEST_LIVE_RELEASE:
        problems.append(f"{image}: tags before {OLDEST_LIVE_RELEASE}.0.0 no longer exist")
    try:
        day = date.fromisoformat(released or "")
    except ValueError:
        return [*problems, f"record the pin's release date beside it ('# released YYYY-MM-DD'), not {released!r}"]
    if day > today:
        problems.append(f"release date {day} is in the future")
    elif today - day > MAX_PIN_AGE:
        problems.append(f"{image} was released {day}, {(today - day).days} days ago: Google deletes Cloud SDK "
                        f"tags about a year after release; move _CLOUD_SDK_IMAGE in cloudbuild.yaml to a recent "
                        f"release and record its date")
    return problems


@pytest.fixture(scope="module")
def sdk_pin(repo) -> tuple[str, str | None]:
    [pin] = _PIN_LINE.findall((repo / "cloudbuild.yaml").read_text(encoding="utf-8"))
    return pin


def test_the_build_cloud_sdk_image_is_a_live_pinned_tag(sdk_pin):
    image, released = sdk_pin
    assert pin_problems(image, released, datetime.now(UTC).date()) == []


def test_every_gcloud_step_runs_the_one_pinned_image(cloudbuild, sdk_pin, repo):
    image, _ = sdk_pin
    assert cloudbuild["substitutions"]["_CLOUD_SDK_IMAGE"] == image
    uses_gcloud = [s for s in cloudbuild["steps"] if s.get("entrypoint") == "gcloud" or "gcloud " in str(s["args"])]
    assert len(uses_gcloud) >= 6
    assert {s["name"] for s in uses_gcloud} == {"${_CLOUD_SDK_IMAGE}"}
    assert not [s["id"] for s in cloudbuild["steps"] if "cloudsdktool" in s["name"]], "write ${_CLOUD_SDK_IMAGE}"
    assert (repo / "cloudbuild.yaml").read_text(encoding="utf-8").count("cloudsdktool") == 1


@pytest.mark.parametrize(("image", "released", "complaint"), [
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-slim", "2025-12-31", "days ago"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-slim", "2027-01-01", "in the future"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-slim", None, "record the pin's release date"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-slim", "17 Nov 2026", "record the pin's release date"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:slim", "2026-11-17", "not pinned"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli:latest", "2026-11-17", "not pinned"),
    ("gcr.io/google.com/cloudsdktool/google-cloud-cli", "2026-11-17", "not pinned"),
    ("gcr.io/google.com/cloudsdktool/cloud-sdk:528.0.0-slim", "2026-11-17", "no longer exist"),
    ("docker.io/google/cloud-sdk:594.0.0", "2026-11-17", "not a Google Cloud SDK image"),
])
def test_a_stale_floating_or_undated_pin_is_refused(image, released, complaint):
    problems = pin_problems(image, released, date(2026, 12, 7))
    assert any(complaint in problem for problem in problems), problems


def test_a_recent_tag_or_digest_passes_until_eleven_months_after_its_release():
    digest = "gcr.io/google.com/cloudsdktool/google-cloud-cli@sha256:" + "0" * 64
    assert pin_problems(digest, "2026-11-17", date(2026, 12, 7)) == []
    tag = "gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-slim"
    assert pin_problems(tag, "2026-11-17", date(2026, 11, 17) + MAX_PIN_AGE) == []
    assert pin_problems(tag, "2026-11-17", date(2026, 11, 18) + MAX_PIN_AGE) != []


def test_versions_file_is_what_bash_reads(repo, versions):
    done = subprocess.run(["bash", "-c", f'set -a && source "{repo}/deploy/versions.env" && env'],
                          capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    from_bash = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert {name: from_bash.get(name) for name in versions} == versions
