"""The container definition, checked offline (there is no Docker engine here): it must build what runs."""

from __future__ import annotations

import fnmatch
import gc
import importlib
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    pairs = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    return pairs[last_from:]


def _dockerignore_keeps(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    kept = True
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern):
            kept = negate
    return kept


def test_every_instruction_is_known_and_stages_use_the_slim_python_base():
    known = {"FROM", "RUN", "COPY", "ENV", "WORKDIR", "USER", "EXPOSE", "CMD", "ARG", "LABEL", "ENTRYPOINT"}
    pairs = _instructions()
    assert pairs[0][0] == "FROM" and {keyword for keyword, _ in pairs} <= known
    bases = [args.split()[0] for keyword, args in pairs if keyword == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases)


def test_runs_as_a_non_root_user():
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_copied_sources_exist_and_are_not_excluded_from_the_build_context():
    sources = []
    for keyword, args in _instructions():
        if keyword == "COPY" and "--from=" not in args:
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert _dockerignore_keeps(source), f"{source} is excluded by .dockerignore"
    assert not _dockerignore_keeps("tests") and not _dockerignore_keeps(".venv")


def test_installs_only_the_serve_extra_without_fitting_or_orchestration_libraries():
    runs = " ".join(args for keyword, args in _instructions() if keyword == "RUN")
    assert 'pip install ".[serve]"' in runs
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serve = " ".join(project["optional-dependencies"]["serve"] + project["dependencies"]).lower()
    assert "gunicorn" in serve and "flask" in serve
    assert not any(heavy in serve for heavy in ("statsmodels", "airflow", "mlflow"))


def test_cmd_starts_gunicorn_with_its_config_and_an_app_factory_that_exists():
    cmd = [json.loads(args) for keyword, args in _final_stage() if keyword == "CMD"][-1]
    assert cmd[0] == "gunicorn"
    config = cmd[cmd.index("--config") + 1]
    assert (ROOT / config).is_file() and _dockerignore_keeps(config)
    module_name, _, target = cmd[-1].partition(":")
    factory = getattr(importlib.import_module(module_name), target.removesuffix("()"))
    assert callable(factory)


@pytest.mark.parametrize("variable, expected", [("PORT", "0.0.0.0:9999"), ("WEB_CONCURRENCY", 3), ("GUNICORN_THREADS", 5)])
def test_gunicorn_settings_follow_the_cloud_run_environment(monkeypatch, variable, expected):
    monkeypatch.setenv(variable, str(expected).rsplit(":", 1)[-1])
    namespace: dict = {}
    exec((ROOT / "service" / "gunicorn.conf.py").read_text(), namespace)
    setting = {"PORT": "bind", "WEB_CONCURRENCY": "workers", "GUNICORN_THREADS": "threads"}[variable]
    assert namespace[setting] == expected
    assert namespace["worker_class"] == "gthread" and namespace["preload_app"] is False


def test_each_worker_freezes_its_start_up_objects_out_of_the_garbage_collector():
    """Full collections walking the start-up heap (30-70 ms with the GIL held) landed in every p99."""
    namespace: dict = {}
    exec((ROOT / "service" / "gunicorn.conf.py").read_text(), namespace)
    gc.unfreeze()
    try:
        namespace["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
