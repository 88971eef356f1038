"""docs/configuration.md lists exactly the variables of gasforecast.platform.config, with the real defaults."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from gasforecast.platform.config import Settings, env_names, load_settings

_ROW = re.compile(r"^\| `([A-Z_][A-Z0-9_]*)` \| `([^`]*)` \|", re.MULTILINE)


@pytest.fixture(scope="module")
def documented(repo) -> dict[str, str]:
    """Variable → default of the application settings table."""
    text = (repo / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text.split("## Application settings", 1)[1].split("\n## ", 1)[0]
    rows = _ROW.findall(section)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable is listed twice"
    return dict(rows)


def test_every_setting_is_documented_and_nothing_else(documented):
    assert set(documented) == set(env_names().values())


def test_documented_defaults_are_the_real_defaults(documented):
    """Reading each documented default back through load_settings gives the field's default."""
    by_variable = {variable: field for field, variable in env_names().items()}
    defaults = Settings()
    for variable, text in documented.items():
        field = by_variable[variable]
        assert text.strip(), f"{variable}: no default given"  # empty would silently read as the default
        parsed = getattr(load_settings({variable: text}), field)
        assert parsed == getattr(defaults, field), f"{variable}: doc says {text!r}"


def test_every_settings_field_has_a_variable():
    assert {f.name for f in fields(Settings)} == set(env_names())
