"""Check gcloud command lines with the installed Google Cloud SDK, never contacting a server.

`parse_all` asks the SDK's own argument parser about many commands in one process (fast, precise
messages); `run_all` runs the real CLI per command, a few at a time, and tells "argument parsing
failed" (exit code 2) from "stopped later for lack of credentials" — the cross-check that the
parser verdict is the CLI's verdict. Both run inside `gcloud_offline_driver.py`'s network guard.

Why each variable in `offline_env` is there: gcloud probes `metadata.google.internal` without a
proxy when it has no credentials (measured: four lookups per command); `check_gce_metadata=false`
and `GCE_METADATA_ROOT` on loopback stop that. The proxy on 127.0.0.1:9 catches any other HTTP call,
and an empty config directory means no account, so no command gets as far as an API request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

DRIVER = Path(__file__).with_name("gcloud_offline_driver.py")
BLOCKED_MARKER = "OFFLINE-GUARD-BLOCKED"
NO_CREDENTIALS_HINTS = ("You do not currently have an active account selected", "gcloud auth login")


@dataclass(frozen=True)
class Sdk:
    python: str
    lib: str


def find_sdk() -> Sdk | None:
    """The installed SDK's lib directory and the Python `gcloud` itself would use."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = Path(os.path.realpath(gcloud)).parent.parent
    lib = root / "lib"
    if not (lib / "googlecloudsdk" / "gcloud_main.py").is_file():
        return None
    bundled = root / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = os.environ.get("CLOUDSDK_PYTHON") or (str(bundled) if bundled.is_file() else shutil.which("python3"))
    return Sdk(python=python, lib=str(lib))


def offline_env(config_dir: str) -> dict[str, str]:
    """A minimal environment in which gcloud has no account and every network path ends on loopback."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": config_dir,
        "LANG": "C.UTF-8",
        "CLOUDSDK_CONFIG": config_dir,
        "CLOUDSDK_CORE_PROJECT": "offline-check",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
        "CLOUDSDK_PROXY_TYPE": "http",
        "CLOUDSDK_PROXY_ADDRESS": "127.0.0.1",
        "CLOUDSDK_PROXY_PORT": "9",
        "GCE_METADATA_ROOT": "127.0.0.1:9",
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "NO_GCE_CHECK": "true",
    }


@dataclass(frozen=True)
class ParseResult:
    argv: list[str]
    ok: bool
    command: str | None
    error: str | None
    seconds: float


@dataclass(frozen=True)
class ParseReport:
    results: list[ParseResult]
    load_seconds: float
    blocked: list[str]


def parse_all(sdk: Sdk, commands: list[list[str]], timeout: float = 120.0) -> ParseReport:
    """Parse every command (argv without the leading `gcloud`) in one SDK process."""
    done = _run_driver(sdk, "parse", commands, timeout)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    results = [
        ParseResult(row["argv"], row["ok"], row.get("command"), row.get("error"), row["seconds"]) for row in rows
    ]
    blocked = _blocked(done.stderr) + [line for row in rows for line in row["blocked"]]
    return ParseReport(results, header["loaded_seconds"], blocked)


def _run_driver(sdk: Sdk, mode: str, requests: list, timeout: float) -> subprocess.CompletedProcess:
    """One SDK process in `mode` ("parse" or "decode") over JSON-line requests, with an empty config."""
    with tempfile.TemporaryDirectory(prefix="gcloud-offline-") as config_dir:
        done = subprocess.run(
            [sdk.python, str(DRIVER), mode, sdk.lib],
            input="".join(json.dumps(request) + "\n" for request in requests),
            capture_output=True,
            text=True,
            env=offline_env(config_dir),
            timeout=timeout,
        )
    if done.returncode != 0:
        raise RuntimeError(f"gcloud {mode} driver failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


@dataclass(frozen=True)
class DecodeRequest:
    """A YAML/JSON file and the API message it must decode into (e.g. monitoring v3 AlertPolicy)."""
    path: str
    api: str
    version: str
    message: str
    key: str | None = None  # decode this top-level key's value instead of the whole file


def decode_all(sdk: Sdk, requests: list[DecodeRequest], timeout: float = 120.0) -> dict[str, str | None]:
    """Decode every file with the SDK's strict message decoder: path -> None when it decodes, else why not."""
    done = _run_driver(sdk, "decode", [request.__dict__ for request in requests], timeout)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {row["path"]: (None if row["ok"] else row["error"]) for row in rows}


@dataclass(frozen=True)
class RunResult:
    argv: list[str]
    returncode: int
    stderr: str
    seconds: float

    @property
    def parse_failed(self) -> bool:
        return self.returncode == 2

    @property
    def stopped_for_credentials(self) -> bool:
        return self.returncode == 1 and any(hint in self.stderr for hint in NO_CREDENTIALS_HINTS)

    @property
    def blocked(self) -> list[str]:
        return _blocked(self.stderr)


def run_one(sdk: Sdk, argv: list[str], timeout: float = 60.0, unset: tuple[str, ...] = ()) -> RunResult:
    """Run the real gcloud with these arguments, without an account, behind the network guard.

    `unset` drops variables from `offline_env` (to show what the guard catches without them).
    """
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gcloud-offline-") as config_dir:
        env = {k: v for k, v in offline_env(config_dir).items() if k not in unset}
        done = subprocess.run(
            [sdk.python, str(DRIVER), "run", sdk.lib, *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    return RunResult(argv, done.returncode, done.stderr, round(time.monotonic() - began, 3))


def run_all(sdk: Sdk, commands: list[list[str]], workers: int = 2) -> list[RunResult]:
    """Run each command as its own gcloud process, `workers` at a time (gcloud start-up is CPU-bound)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda argv: run_one(sdk, argv), commands))


def _blocked(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(BLOCKED_MARKER)]

