"""functions/*/requirements.txt pin exactly what pyproject.toml pins: one source of truth."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    """name → version for `name==version` lines; anything else is an error (no ranges, no extras)."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("gasforecast"):
            continue
        match = _PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        found[normalise(match.group(1))] = match.group(2)
    return found


@pytest.fixture(scope="module")
def project(repo: Path) -> dict:
    return tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def pyproject_pins(project) -> dict[str, str]:
    every = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        every += group
    return pins(every)


def requirements(repo: Path, function: str) -> dict[str, str]:
    return pins((repo / "functions" / function / "requirements.txt").read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("function", ["ingest", "train"])
def test_function_pins_equal_pyproject_pins(repo, pyproject_pins, function):
    wanted = requirements(repo, function)
    differing = {name: (version, pyproject_pins.get(name)) for name, version in wanted.items()
                 if pyproject_pins.get(name) != version}
    assert not differing, f"requirements.txt vs pyproject.toml: {differing}"


@pytest.mark.parametrize("function", ["ingest", "train"])
def test_function_installs_the_core_and_the_functions_runtime(repo, project, function):
    wanted = requirements(repo, function)
    needed = pins(project["dependencies"]) | pins(project["optional-dependencies"]["functions"])
    assert needed.items() <= wanted.items()


def test_train_adds_exactly_the_train_extra(repo, project):
    ingest, train = requirements(repo, "ingest"), requirements(repo, "train")
    extra = pins(project["optional-dependencies"]["train"])
    assert train == ingest | extra
    assert not extra.keys() & ingest.keys(), "ingest must not carry statsmodels, MLflow or plotting"
