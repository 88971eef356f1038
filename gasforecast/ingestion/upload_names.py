"""Names around an upload: which object names ingest refuses, and where its copies and reports go.

Real Cloud Storage treats an object name literally, but a local emulator with a filesystem backend
(or any tool that maps names to paths) resolves `..`: `x/../curated/history.csv` would be the
curated dataset. Ingest never reads, writes or deletes an object under a name with `.`/`..` or
empty segments or control characters; it only reports it. Copies and reports live under
deterministic, harmless names, so any redelivery of the same upload version finds its receipt.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime

SAFE_STEM_LENGTH = 60
_YEAR_2000, _YEAR_2100 = 946_684_800, 4_102_444_800  # epoch seconds
_SEGMENT_SEPARATORS = re.compile(r"[/\\]")


def upload_id(object_name: str, generation: int) -> str:
    """A short, fixed-length id for one version of one upload (names can be 1 KB of unicode)."""
    return hashlib.sha256(f"{object_name}#{generation}".encode()).hexdigest()[:16]


def unsafe_name_reason(object_name: str) -> str | None:
    """Why ingest refuses to touch an object of this name, or None when the name is safe."""
    for character in object_name:
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            return f"the name contains the control or invisible character U+{ord(character):04X}"
    segments = _SEGMENT_SEPARATORS.split(object_name)
    if any(segment in (".", "..") for segment in segments):
        return "the name has a '.' or '..' path segment"
    if any(segment == "" for segment in segments):
        return "the name has an empty path segment (leading, trailing or doubled '/')"
    return None


def series_folder(object_name: str) -> str | None:
    """The series an upload names by its first folder (`<series>/<file>.csv`); None at the bucket's root
    (the default series). Whether it is a safe, declared id is the caller's question."""
    folder, separator, _ = object_name.partition("/")
    return folder if separator else None


def is_csv_name(object_name: str) -> bool:
    return object_name.lower().endswith(".csv")


def safe_stem(object_name: str) -> str:
    """A readable, harmless file stem: ASCII letters, digits, `._-`, no `..`, bounded length."""
    stem = object_name[:-4] if is_csv_name(object_name) else object_name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._-")
    return cleaned[:SAFE_STEM_LENGTH].rstrip("._-") or "upload"


def stored_name(prefix: str, object_name: str, generation: int) -> str:
    """Where a copy of this upload version lives: deterministic, so any redelivery finds its receipt.

    GCS generations are microseconds since the epoch, so the date folder is the upload date; a
    generation that is not a plausible timestamp (years 2000-2100) goes to `undated/`.
    """
    seconds = generation / 1_000_000
    plausible = _YEAR_2000 < seconds < _YEAR_2100
    day = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y/%m/%d") if plausible else "undated"
    digest = hashlib.sha256(object_name.encode()).hexdigest()[:8]
    return f"{prefix}/{day}/{generation}-{safe_stem(object_name)}-{digest}.csv"


def report_name(stored: str) -> str:
    return f"{stored}.report.json"
