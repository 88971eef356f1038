"""Pull the gcloud command lines out of cloudbuild.yaml, the bootstrap plan and the docs (and run
the bootstrap to get its plan); read deploy/versions.env.

Cloud Build substitutes `$NAME`/`${NAME}` in step arguments and turns `$$` into `$`; with the default
MUST_MATCH option an unknown name fails the build. `substitute` follows those rules so the tests see
exactly the argv each step would run.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Every phase, the build and the post-build one (alerting) included.
BOOTSTRAP_PHASES = ("apis", "network", "storage", "pubsub", "identities", "sql", "mlflow", "schedule", "build",
                    "alerting")

# The bootstrap renders alert policies into MONITORING_DIR; the tests' renderings go here (not into
# build/), and stay until the process ends because the plan's --policy-from-file paths point at them.
RENDERED = Path(tempfile.mkdtemp(prefix="gasforecast-monitoring-"))
atexit.register(shutil.rmtree, RENDERED, ignore_errors=True)


def run_bootstrap(*args: str, env: dict[str, str] | None = None, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess:
    """Run scripts/bootstrap.sh with a clean environment (only PATH and what the test passes)."""
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "bootstrap.sh"), *args],
        capture_output=True,
        text=True,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "MONITORING_DIR": str(RENDERED), **(env or {})},
        timeout=180,  # a second when idle; the machine running the suite may be busy
    )


def run_teardown(*args: str, env: dict[str, str] | None = None, path: str = "/usr/bin:/bin",
                 stdin: str = "") -> subprocess.CompletedProcess:
    """Run scripts/teardown.sh with a clean environment (only PATH and what the test passes)."""
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "teardown.sh"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **(env or {})},
        timeout=180,
    )


# Answers the look-ups the script makes; a describe/list answers per FAKE_STATE (empty or full).
# Commands matching the glob FAKE_FAIL_MATCH (default: grants) fail FAKE_FAILURES times with
# FAKE_ERROR first (IAM or Cloud Monitoring not caught up yet, a region refused).
FAKE_GCLOUD = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_LOG"
if [[ " $* " == ${FAKE_FAIL_MATCH:-*" add-iam-policy-binding "*} && ${FAKE_FAILURES:-0} -gt 0 ]]; then
  failed=$(cat "$FAKE_LOG.failed" 2>/dev/null || echo 0)
  if ((failed < FAKE_FAILURES)); then
    echo $((failed + 1)) >"$FAKE_LOG.failed"
    echo "$FAKE_ERROR" >&2; exit 1
  fi
fi
case "$*" in
  *"value(projectNumber)"*) echo 123456789012; exit 0 ;;
  *"storage service-agent"*) echo service-123456789012@gs-project-accounts.iam.gserviceaccount.com; exit 0 ;;
  *"secrets versions access"*) echo stored-password; exit 0 ;;
  *"value(eventTrigger.trigger)"*) echo "projects/p/locations/europe-west2/triggers/${5}-trigger"; exit 0 ;;
  *"value(transport.pubsub.subscription)"*) echo "projects/p/subscriptions/eventarc-${6%-trigger}-sub"; exit 0 ;;
  *"value(config.dagGcsPrefix)"*) echo gs://europe-west2-gasforecast-composer-bucket/dags; exit 0 ;;
  *"value(status.url)"*) echo https://gasforecast-service-abc123-nw.a.run.app; exit 0 ;;
  *"value(networkInterfaces[0].networkIP)"*) echo 10.10.0.23; exit 0 ;;
  *"value(machineType.basename())"*) echo "${FAKE_MACHINE_TYPE:-e2-small}"; exit 0 ;;
  *"value(settings.tier)"*) echo "${FAKE_SQL_TIER:-db-f1-micro}"; exit 0 ;;
  *"iam roles describe"*) [[ -z ${FAKE_ROLE_DELETED:-} ]] || { printf 'projects/p/roles/r\tTrue\n'; exit 0; } ;;
  *"get-iam-policy"*) printf '%s\n' "${FAKE_BINDINGS:-}"; [[ -z ${FAKE_MORE_BINDINGS:-} ]] || printf '%s\n' "$(<"$FAKE_MORE_BINDINGS")"; exit 0 ;;
  *"channels create"*) echo projects/p/notificationChannels/4242; exit 0 ;;
  *"uptime create"*) echo "projects/p/uptimeCheckConfigs/${6}-id"; exit 0 ;;
  *"--data-file=-"*) cat >"$FAKE_LOG.secret"; exit 0 ;;
  *"--flags-file=-"*) cat >"$FAKE_LOG.flags"; exit 0 ;;
esac
if [[ " $* " =~ \ (describe|list|list-configs)\  ]]; then
  if [[ $FAKE_STATE == full ]]; then echo exists; exit 0; fi
  [[ " $* " == *" describe "* ]] || exit 0
  echo "ERROR: NOT_FOUND" >&2; exit 1
fi
exit 0
"""


def install_fake_gcloud(bin_dir: Path) -> Path:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "gcloud"
    script.write_text(FAKE_GCLOUD)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_with_fake(fake_gcloud: Path, state: str, *args: str, script: str = "bootstrap.sh", stdin: str = "",
                  **env: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run a script against the stand-in gcloud in `fake_gcloud`, with the project empty or full;
    return the run and every gcloud argv it made."""
    log = fake_gcloud.parent / "gcloud.log"
    log.write_text("")
    settings = {"PROJECT_ID": "offline-check", "FAKE_STATE": state, "FAKE_LOG": str(log), "GRANT_RETRY_SECONDS": "0",
                "METRIC_RETRY_SECONDS": "0", "MONITORING_DIR": str(fake_gcloud.parent / "monitoring"),
                "ALERT_EMAIL": "ops@example.com", **env}
    path = f"{fake_gcloud}:/usr/bin:/bin"
    if script == "teardown.sh":
        done = run_teardown(*args, env=settings, path=path, stdin=stdin)
    else:
        done = run_bootstrap(*args, env=settings, path=path)
    calls = [shlex.split(line) for line in log.read_text().splitlines()]
    return done, calls


def read_versions() -> dict[str, str]:
    """deploy/versions.env: `NAME=value` lines, `${NAME}` of an earlier line expanded (as bash would)."""
    values: dict[str, str] = {}
    for line in (REPO / "deploy" / "versions.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], value)
    return values


# Cloud Build's built-in substitutions, with sample values of the right shape.
BUILTIN_SUBSTITUTIONS = {
    "PROJECT_ID": "offline-check",
    "PROJECT_NUMBER": "123456789012",
    "BUILD_ID": "8d5f0a52-3c1e-4b7a-9e43-1d2c3b4a5f60",
    "LOCATION": "europe-west2",
    "COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
    "SHORT_SHA": "0123456",
    "REVISION_ID": "0123456789abcdef0123456789abcdef01234567",
    "REPO_NAME": "gasforecast",
    "REPO_FULL_NAME": "example/gasforecast",
    "BRANCH_NAME": "main",
    "TAG_NAME": "",
    "REF_NAME": "main",
    "TRIGGER_NAME": "",
    "TRIGGER_BUILD_CONFIG_PATH": "cloudbuild.yaml",
    "SERVICE_ACCOUNT_EMAIL": "gasforecast-build@offline-check.iam.gserviceaccount.com",
    "SERVICE_ACCOUNT": "projects/offline-check/serviceAccounts/gasforecast-build@offline-check.iam.gserviceaccount.com",
}

_SUBSTITUTION = re.compile(r"\$(\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


class UnknownSubstitution(KeyError):
    """A `$NAME` that Cloud Build would not know (the build would fail, or bash would see it)."""


def substitution_names(text: str) -> set[str]:
    """Every `$NAME`/`${NAME}` Cloud Build would substitute in `text` (`$$` escapes excluded)."""
    return {m.group("braced") or m.group("bare") for m in _SUBSTITUTION.finditer(text) if m.group(1) != "$"}


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(1) == "$":
            return "$"
        name = match.group("braced") or match.group("bare")
        if name not in values:
            raise UnknownSubstitution(name)
        return values[name]

    return _SUBSTITUTION.sub(replace, text)


def build_values(config: dict, **overrides: str) -> dict[str, str]:
    return {**BUILTIN_SUBSTITUTIONS, **{k: str(v) for k, v in config["substitutions"].items()}, **overrides}


@dataclass(frozen=True)
class BuildCommand:
    step_id: str
    argv: list[str]  # without the leading "gcloud"


def cloudbuild_gcloud_commands(config: dict, values: dict[str, str]) -> list[BuildCommand]:
    """The gcloud invocations of the build, substituted: steps whose entrypoint is gcloud, and the
    gcloud calls a bash step would make with these values."""
    commands = []
    for step in config["steps"]:
        if step.get("entrypoint") == "gcloud":
            argv = [substitute(str(arg), values) for arg in step["args"]]
            commands.append(BuildCommand(step["id"], argv))
        elif step.get("entrypoint") == "bash" and "cloudsdktool" in substitute(step["name"], values):
            commands += [BuildCommand(step["id"], argv) for argv in bash_step_gcloud_calls(step, values)]
    return commands


# The stand-in `gcloud` of bash steps appends its argv to $GCLOUD_CALLS and answers the look-ups a
# step makes as Google Cloud would: a function's Eventarc trigger, a trigger's Pub/Sub subscription.
_GCLOUD_STUB = r"""gcloud() {
  { printf '%s\0' "$@"; printf '\n'; } >>"$GCLOUD_CALLS"
  case "$*" in
    *"value(eventTrigger.trigger)"*) echo "projects/p/locations/r/triggers/$3-trigger" ;;
    *"value(transport.pubsub.subscription)"*) echo "projects/p/subscriptions/eventarc-r-${4%-trigger}-sub" ;;
  esac
}
"""


def bash_step_gcloud_calls(step: dict, values: dict[str, str]) -> list[list[str]]:
    """Run a bash step's script, substituted, with a stand-in `gcloud` that records its argv."""
    script = substitute(step["args"][-1], values)
    with tempfile.NamedTemporaryFile("r", prefix="gcloud-calls-") as calls:
        done = subprocess.run(["bash", "-c", _GCLOUD_STUB + script], capture_output=True, text=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin", "GCLOUD_CALLS": calls.name})
        assert done.returncode == 0, f"step {step['id']}: {done.stderr}"
        recorded = calls.read()
    return [line.split("\0")[:-1] for line in recorded.split("\n") if "\0" in line]


_PLAN_PREFIX = re.compile(r"^(?:# (?:check|lookup|if [^:]*): |\+ )")


def plan_commands(plan: str) -> list[list[str]]:
    """The gcloud commands in a bootstrap plan: actions, the checks and look-ups it would make, and
    the actions it would take only if a check found something or a command was refused."""
    commands = []
    for line in plan.splitlines():
        line = _PLAN_PREFIX.sub("", line, count=1)
        if line.startswith("gcloud "):
            argv = shlex.split(line)
            commands.append(argv[1:])
    return commands


_FENCE = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.DOTALL)
# Up to two levels of nested parentheses, e.g. $(gcloud ... --format="value(a.segment(2))").
_COMMAND_SUBSTITUTION = re.compile(r"\$\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)")
_SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


_ASSIGNMENT = re.compile(r"^(?:export )?([A-Z_][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def doc_variables(markdown: str, known: dict[str, str] | None = None) -> dict[str, str]:
    """Variables the page's bash blocks set (`export NAME=value` or `NAME=value`), expanded in order.

    A variable a doc uses but never sets (here or in `known`) makes the check fail with KeyError:
    the reader would not know what to put there either.
    """
    values = dict(known or {})
    for block in _FENCE.findall(markdown):
        for name, raw in _ASSIGNMENT.findall(block):
            raw = _COMMAND_SUBSTITUTION.sub("VALUE_FROM_COMMAND", raw.split(" #")[0].strip()).strip('"')
            values[name] = _SHELL_VARIABLE.sub(lambda m: values[m.group(1)], raw)
    return values


def doc_gcloud_commands(markdown: str, variables: dict[str, str]) -> list[list[str]]:
    """gcloud command lines in fenced bash blocks, continuation lines joined, `$VARS` expanded.

    A `$(...)` command substitution stands for a value gcloud reads elsewhere, so it becomes a token.
    """
    variables = doc_variables(markdown, variables)
    commands = []
    for block in _FENCE.findall(markdown):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            inner = [m.group(1) for m in _COMMAND_SUBSTITUTION.finditer(line)]  # `$(gcloud ...)` counts too
            line = _COMMAND_SUBSTITUTION.sub("VALUE_FROM_COMMAND", line)
            for segment in [*inner, *line.split(" | ")]:  # and so does `printf ... | gcloud ...`
                if segment.startswith("gcloud "):
                    segment = _SHELL_VARIABLE.sub(lambda m: variables[m.group(1)], segment.split(" > ")[0])
                    commands.append(shlex.split(segment, comments=True)[1:])
    return commands
