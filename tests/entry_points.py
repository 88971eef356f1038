"""Load a Cloud Function's `main.py` as a module, the way functions-framework does, for unit tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"function_{name}_main", REPO / "functions" / name / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
