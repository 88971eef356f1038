"""Names around an upload: refused names, and readable, harmless, deterministic names for its copies."""

from __future__ import annotations

import re

import pytest

from gasforecast.ingestion.upload_names import is_csv_name, safe_stem, stored_name, unsafe_name_reason, upload_id

GENERATION = 1_795_713_506_616_756  # microseconds since the epoch, as GCS and fake-gcs-server issue them


@pytest.mark.parametrize("name,stem", [
    ("prices.csv", "prices"),
    ("my prices (final).CSV", "my_prices_final"),
    ("incoming/prices.csv", "incoming_prices"),
    ("prix élevés.csv", "prix_eleves"),
    ("価格.csv", "upload"),
    ("sub/dir/..hidden.csv", "sub_dir_.hidden"),
    ("notes.txt", "notes.txt"),
])
def test_safe_stem_keeps_a_readable_harmless_name(name, stem) -> None:
    assert safe_stem(name) == stem


def test_safe_stem_is_bounded_and_never_contains_dot_dot() -> None:
    stem = safe_stem("a.." * 400 + ".csv")
    assert len(stem) <= 60 and ".." not in stem and re.fullmatch(r"[A-Za-z0-9._-]+", stem)


def test_stored_name_is_dated_by_generation_and_unique_per_name_and_version() -> None:
    path = stored_name("archive", "prices.csv", GENERATION)
    assert re.fullmatch(rf"archive/2026/11/26/{GENERATION}-prices-[0-9a-f]{{8}}\.csv", path)
    assert path == stored_name("archive", "prices.csv", GENERATION)
    assert path != stored_name("archive", "prices.csv", GENERATION + 1)
    assert path != stored_name("archive", "prices .csv", GENERATION), "same stem, different name"
    assert stored_name("rejected", "x.csv", 7).startswith("rejected/undated/7-x-")


def test_upload_id_is_short_and_distinguishes_versions() -> None:
    assert len(upload_id("x" * 1000 + ".csv", GENERATION)) == 16
    assert upload_id("a.csv", 1) != upload_id("a.csv", 2)


@pytest.mark.parametrize("name,expected", [
    ("a.csv", True), ("A.CSV", True), ("sub/a.csv", True), ("a.txt", False), ("a.csv.tmp", False), ("csv", False),
])
def test_only_objects_named_csv_are_read(name, expected) -> None:
    assert is_csv_name(name) is expected


@pytest.mark.parametrize("name,words", [
    ("../curated/history.csv", "'..'"), ("a/../b.csv", "'..'"), ("a/./b.csv", "'.'"), ("a\\..\\b.csv", "'..'"),
    ("a//b.csv", "empty"), ("/a.csv", "empty"), ("a.csv/", "empty"), ("", "empty"),
    ("a\nb.csv", "U+000A"), ("a\x00.csv", "U+0000"), ("a\x7f.csv", "U+007F"), ("a\u202eb.csv", "U+202E"),
    ("a\u2028b.csv", "U+2028"),
])
def test_names_ingest_refuses_to_touch(name, words) -> None:
    assert words in unsafe_name_reason(name)


@pytest.mark.parametrize("name", ["prices.csv", "sub/dir/..hidden.csv", "a..b.csv", ".hidden.csv", "prix élevés.csv",
                                  "a b (1).csv", "x" * 1000])
def test_odd_but_literal_names_are_safe(name) -> None:
    assert unsafe_name_reason(name) is None
