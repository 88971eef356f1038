"""Names of archived and rejected copies: readable, harmless, deterministic per (name, generation)."""

from __future__ import annotations

import re

import pytest

from gasforecast.ingest import is_upload, safe_stem, stored_name, upload_id

GENERATION = 1_795_713_506_616_756  # microseconds since the epoch, as GCS and fake-gcs-server issue them


@pytest.mark.parametrize("name,stem", [
    ("incoming/prices.csv", "prices"),
    ("incoming/my prices (final).CSV", "my_prices_final"),
    ("incoming/../../etc/passwd.csv", "etc_passwd"),
    ("incoming/prix élevés.csv", "prix_eleves"),
    ("incoming/価格.csv", "upload"),
    ("incoming/sub/dir/..hidden.csv", "sub_dir_.hidden"),
])
def test_safe_stem_keeps_a_readable_harmless_name(name, stem) -> None:
    assert safe_stem(name) == stem


def test_safe_stem_is_bounded_and_never_contains_dot_dot() -> None:
    stem = safe_stem("incoming/" + "a.." * 400 + ".csv")
    assert len(stem) <= 60 and ".." not in stem and re.fullmatch(r"[A-Za-z0-9._-]+", stem)


def test_stored_name_is_dated_by_generation_and_unique_per_name_and_version() -> None:
    path = stored_name("archive", "incoming/prices.csv", GENERATION)
    assert re.fullmatch(rf"archive/2026/11/26/{GENERATION}-prices-[0-9a-f]{{8}}\.csv", path)
    assert path == stored_name("archive", "incoming/prices.csv", GENERATION)
    assert path != stored_name("archive", "incoming/prices.csv", GENERATION + 1)
    assert path != stored_name("archive", "incoming/prices .csv", GENERATION), "same stem, different name"
    assert stored_name("rejected", "incoming/x.csv", 7).startswith("rejected/undated/7-x-")


def test_upload_id_is_short_and_distinguishes_versions() -> None:
    assert len(upload_id("incoming/" + "x" * 1000 + ".csv", GENERATION)) == 16
    assert upload_id("incoming/a.csv", 1) != upload_id("incoming/a.csv", 2)


@pytest.mark.parametrize("name,expected", [
    ("incoming/a.csv", True), ("incoming/A.CSV", True), ("incoming/sub/a.csv", True),
    ("archive/a.csv", False), ("incoming/a.txt", False), ("incoming/a.csv.tmp", False), ("a.csv", False),
])
def test_only_csv_files_in_incoming_are_uploads(name, expected) -> None:
    assert is_upload(name) is expected
