"""Cloud Storage access: one facade per bucket, with the error kinds the handlers need.

Works against GCS and against the local emulator (`STORAGE_EMULATOR_HOST`, anonymous credentials).
Calls fail fast (bounded retry) so that a handler can raise `TransientError` and let the platform
redeliver, instead of hanging inside a function's timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.cloud import storage

from gasforecast.platform.errors import TransientError

# Retry transient HTTP errors for at most 20 s, then let the event be redelivered.
_RETRY = Retry(
    predicate=lambda exc: isinstance(
        exc,
        (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests, gexc.BadGateway,
         requests.ConnectionError, requests.Timeout),
    ),
    initial=0.2,
    maximum=2.0,
    timeout=20.0,
)
_TIMEOUT = (5, 60)  # connect, read (seconds)
_TRANSIENT = (
    gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests, gexc.BadGateway,
    gexc.RetryError, requests.ConnectionError, requests.Timeout,
)


class PreconditionFailed(Exception):
    """The object's generation was not the one the write expected (someone else wrote first)."""


@dataclass(frozen=True)
class StoredObject:
    name: str
    data: bytes
    generation: int
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


class ObjectStore(Protocol):
    """What the pipeline needs from a bucket: `Bucket` on GCS or its emulator, an in-memory fake in
    the fast unit tests (tests/fakes.py), both with GCS' generation preconditions."""

    name: str

    def uri(self, object_name: str) -> str: ...

    def read(self, object_name: str, generation: int | None = None) -> StoredObject | None: ...

    def generation(self, object_name: str) -> int | None: ...

    def write(self, object_name: str, data: bytes, *, content_type: str = ...,
              if_generation_match: int | None = None, metadata: dict[str, str] | None = None) -> int: ...

    def delete(self, object_name: str, *, if_generation_match: int | None = None) -> bool: ...

    def list_names(self, prefix: str) -> list[str]: ...

    def list_folders(self, prefix: str) -> list[str]:
        """The "folders" right under `prefix` (`prefix` + name + "/"), without listing what they hold."""
        ...


def make_client(project: str) -> storage.Client:
    """A storage client; anonymous against the emulator so no credential lookup leaves the host."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


class Bucket:
    """The few object operations the pipeline uses, with GCS errors mapped to ours."""

    def __init__(self, client: storage.Client, name: str) -> None:
        self.name = name
        self._bucket = client.bucket(name)

    def uri(self, object_name: str) -> str:
        return f"gs://{self.name}/{object_name}"

    def read(self, object_name: str, generation: int | None = None) -> StoredObject | None:
        """The object's bytes, generation and metadata, or None when it does not exist.

        The metadata lookup comes first and the download is pinned to the generation it found, so
        bytes and metadata always describe the same version.
        """
        try:
            blob = self._bucket.get_blob(object_name, generation=generation, retry=_RETRY, timeout=_TIMEOUT)
            if blob is None:
                return None
            data = blob.download_as_bytes(retry=_RETRY, timeout=_TIMEOUT)
        except gexc.NotFound:
            return None
        except _TRANSIENT as exc:
            raise TransientError(f"reading {self.uri(object_name)}: {exc}") from exc
        return StoredObject(
            name=object_name,
            data=data,
            generation=int(blob.generation),
            metadata=dict(blob.metadata or {}),
            content_type=blob.content_type,
        )

    def generation(self, object_name: str) -> int | None:
        """The live generation of an object, or None when it does not exist."""
        try:
            blob = self._bucket.get_blob(object_name, retry=_RETRY, timeout=_TIMEOUT)
        except _TRANSIENT as exc:
            raise TransientError(f"stat {self.uri(object_name)}: {exc}") from exc
        return None if blob is None else int(blob.generation)

    def write(
        self,
        object_name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_generation_match: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> int:
        """Write an object and return its new generation.

        `if_generation_match=0` creates only if absent; a generation number replaces only that
        version. A mismatch raises `PreconditionFailed`.
        """
        blob = self._bucket.blob(object_name)
        if metadata:
            blob.metadata = metadata
        try:
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=if_generation_match,
                retry=_RETRY,
                timeout=_TIMEOUT,
            )
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(f"{self.uri(object_name)} changed: {exc}") from exc
        except _TRANSIENT as exc:
            raise TransientError(f"writing {self.uri(object_name)}: {exc}") from exc
        return int(blob.generation)

    def delete(self, object_name: str, *, if_generation_match: int | None = None) -> bool:
        """Delete an object; False when it was already gone or had been replaced."""
        try:
            self._bucket.blob(object_name).delete(
                if_generation_match=if_generation_match, retry=_RETRY, timeout=_TIMEOUT
            )
        except (gexc.NotFound, gexc.PreconditionFailed):
            return False
        except _TRANSIENT as exc:
            raise TransientError(f"deleting {self.uri(object_name)}: {exc}") from exc
        return True

    def list_names(self, prefix: str) -> list[str]:
        try:
            return [b.name for b in self._bucket.client.list_blobs(self.name, prefix=prefix, retry=_RETRY, timeout=_TIMEOUT)]
        except _TRANSIENT as exc:
            raise TransientError(f"listing {self.uri(prefix)}: {exc}") from exc

    def list_folders(self, prefix: str) -> list[str]:
        try:
            listing = self._bucket.client.list_blobs(self.name, prefix=prefix, delimiter="/", retry=_RETRY,
                                                     timeout=_TIMEOUT)
            for _ in listing.pages:  # the prefixes are collected page by page
                pass
            return sorted(listing.prefixes)
        except _TRANSIENT as exc:
            raise TransientError(f"listing {self.uri(prefix)}: {exc}") from exc


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """Split `gs://bucket/path` into (bucket, path)."""
    if not uri.startswith("gs://") or "/" not in uri[5:]:
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    bucket, _, name = uri[5:].partition("/")
    return bucket, name
