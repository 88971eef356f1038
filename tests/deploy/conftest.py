"""Fixtures for the offline deployment checks: the repository, cloudbuild.yaml, the bootstrap plan,
and the installed Google Cloud SDK (tests that need it skip when it is not installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from deploy_commands import BOOTSTRAP_PHASES, REPO, install_fake_gcloud, run_bootstrap  # noqa: E402
from gcloud_offline import Sdk, find_sdk  # noqa: E402


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cloudbuild() -> dict:
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bootstrap_plan() -> str:
    """The dry-run plan of every phase, including the post-build dead-letter phase."""
    done = run_bootstrap("--dry-run", *BOOTSTRAP_PHASES, env={"PROJECT_ID": "offline-check"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def sdk() -> Sdk:
    found = find_sdk()
    if found is None:
        pytest.skip("the Google Cloud SDK (gcloud) is not installed")
    return found


@pytest.fixture()
def fake_gcloud(tmp_path: Path) -> Path:
    """A directory holding the stand-in `gcloud` (deploy_commands.FAKE_GCLOUD), for PATH."""
    return install_fake_gcloud(tmp_path / "bin")
