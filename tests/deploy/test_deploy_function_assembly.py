"""Each function folder assembles into a self-contained source that imports and serves on its own.

The assembled directory is started with the interpreter's site machinery off (`python -S`), so the
editable install of the repository cannot leak in: only the assembled directory and the installed
third-party packages are importable, as on Cloud Functions.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from test_deploy_function_requirements import normalise, requirements

FUNCTIONS = {"ingest": "ingest", "train": "train"}  # folder → entry point


def assemble(repo: Path, function: str, out: Path) -> Path:
    target = out / function
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "assemble_function.sh"), str(repo / "functions" / function), str(target)],
        capture_output=True, text=True, cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    return target


def isolated_env(source: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{source}:{sysconfig.get_paths()['purelib']}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
    }


@pytest.fixture(scope="module")
def assembled(repo, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("functions")
    return {name: assemble(repo, name, out) for name in FUNCTIONS}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_assembled_source_holds_entry_point_requirements_and_core(assembled, repo, function):
    source = assembled[function]
    assert (source / "main.py").read_bytes() == (repo / "functions" / function / "main.py").read_bytes()
    assert (source / "requirements.txt").is_file()
    core = sorted(p.relative_to(repo).as_posix() for p in (repo / "gasforecast").rglob("*.py"))
    copied = sorted(p.relative_to(source).as_posix() for p in (source / "gasforecast").rglob("*.py"))
    assert copied == core
    assert not list(source.rglob("__pycache__"))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_entry_point_imports_from_the_assembled_copy_with_only_its_requirements(assembled, repo, function):
    """The modules that importing main loads from the folder import, at module level, only packages
    that the function's requirements install (so ingest never drags in statsmodels or MLflow)."""
    source = assembled[function]
    probe = (
        "import json, sys\n"
        "import main, gasforecast\n"
        "print(json.dumps({'core': gasforecast.__file__, 'loaded': sorted(\n"
        "    m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None))}))\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True,
                          cwd=source, env=isolated_env(source), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert Path(found["core"]).is_relative_to(source)
    ours = [Path(f) for f in found["loaded"] if Path(f).is_relative_to(source)]
    assert source / "main.py" in ours
    owners = importlib.metadata.packages_distributions()
    allowed = closure(set(requirements(repo, function)))
    uncovered = {
        f"{path.relative_to(source)}: import {name}"
        for path in ours
        for name in module_level_imports(path)
        if name not in sys.stdlib_module_names and name not in {"main", "gasforecast"}
        and not {normalise(d) for d in owners.get(name, [name])} & allowed  # namespaces have many owners
    }
    assert not uncovered, f"not installed by functions/{function}/requirements.txt: {sorted(uncovered)}"


def module_level_imports(path: Path) -> set[str]:
    """Top-level package names imported when the module loads (not inside functions)."""
    names: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        # Imports inside functions run only when that function is called.
        todo += [child for child in ast.iter_child_nodes(node)
                 if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    return names


def closure(names: set[str]) -> set[str]:
    """The requirements and everything they install unconditionally (installed metadata)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            required = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in required:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_assembled_function_starts_under_functions_framework(assembled, function):
    source = assembled[function]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-S", "-m", "functions_framework", "--source", str(source / "main.py"),
         "--target", FUNCTIONS[function], "--signature-type", "cloudevent", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=source, env=isolated_env(source), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        answer = wait_for_answer(f"http://127.0.0.1:{port}/", server, timeout=60)
        # A GET is not a CloudEvent: the framework itself answers, so the app and target loaded.
        assert answer.status_code in (400, 405)
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Traceback" not in output, output[-3000:]


def wait_for_answer(url: str, server: subprocess.Popen, timeout: float) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"functions-framework exited: {server.communicate()[0][-3000:]}")
        try:
            with requests.get(url, timeout=2, headers={"Connection": "close"}) as answer:
                return answer
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url} within {timeout} s")
