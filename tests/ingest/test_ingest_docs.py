"""docs/data-contract.md documents every refusal ingest can report and every plausibility rule, with
the numbers the code uses."""

from __future__ import annotations

from pathlib import Path

from gasforecast.ingestion import plausibility
from gasforecast.ingestion.ingest import MERGE_HINTS, OBJECT_HINTS
from gasforecast.ingestion.revisions import RevisionLimits

DOC = (Path(__file__).resolve().parents[2] / "docs" / "data-contract.md").read_text(encoding="utf-8")


def test_every_object_refusal_is_documented_with_its_fix() -> None:
    for code, hint in OBJECT_HINTS.items():
        assert f"### `{code}`" in DOC
        assert hint in DOC, f"the fix for {code} is not in docs/data-contract.md"


def test_every_plausibility_rule_is_documented_with_the_code_s_numbers() -> None:
    for rule in plausibility.RULE_HINTS:
        assert f"| `{rule}` |" in DOC
    numbers = [f"**{plausibility.RATIO_LIMIT:g} times or more**", f"within {plausibility.RATIO_SIGMAS:g} times",
               f"**{plausibility.JUMP_SIGMAS:g} times the column's recent volatility**",
               f"the previous {plausibility.WINDOW} observations", f"at least {plausibility.MIN_WINDOW} are needed",
               f"more than {plausibility.MAX_GAP_DAYS} days apart", f"{plausibility.VOLATILITY_QUANTILE * 100:g}th percentile",
               f"(up to {plausibility.REFERENCE_OBSERVATIONS})"]
    for number in numbers:
        assert number in DOC, number


def test_the_accept_path_is_documented() -> None:
    assert "gasforecast accept gs://$DATA_BUCKET/held/" in DOC and "ingest.accept_override" in DOC


def test_every_revision_rule_is_documented_with_the_default_limits() -> None:
    from gasforecast.ingestion.revisions import RULE_HINTS as REVISION_HINTS
    from gasforecast.platform.config import Settings

    limits = RevisionLimits.from_settings(Settings())
    for rule, hint in REVISION_HINTS.items():
        assert f"| `{rule}` |" in DOC and hint in DOC, rule
    numbers = [f"**{limits.max_change:.0%}**", f"**{limits.tolerance:.1%}**", f"**{limits.max_cells} values**",
               f"**{limits.max_share:.0%}**", f"**{limits.max_age_days} days**"]
    for number in numbers:
        assert number.replace("%", " %") in DOC, number


def test_every_refusal_against_the_curated_dataset_and_the_growth_limits_are_documented() -> None:
    from gasforecast.platform.config import Settings

    for code, hint in MERGE_HINTS.items():
        assert f"### `{code}`" in DOC and hint in DOC, code
    defaults = Settings()
    assert f"`EARLIEST_DATE` (default **{defaults.earliest_date}**)" in DOC
    assert f"`MAX_CURATED_COLUMNS` (default **{defaults.max_curated_columns}**)" in DOC
    assert "gasforecast retire-column NAME" in DOC and "`columns_ignored`" in DOC
