"""docs/gcp-setup.md read as a new user would: the build gets the names chosen in step 1, and
scripts/teardown.sh, which the guide's last section runs, removes what the bootstrap creates, in the
reverse order."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from deploy_commands import (
    BOOTSTRAP_PHASES,
    doc_gcloud_commands,
    doc_variables,
    plan_commands,
    run_bootstrap,
    run_teardown,
)

STEP_ONE = ("PROJECT_ID", "REGION", "ZONE", "UPLOADS_BUCKET", "DATA_BUCKET", "ARTIFACT_BUCKET", "RETRAIN_TOPIC",
            "SCHEDULER", "ALERT_EMAIL")
# Created by the bootstrap but removed with something else (or not a resource of their own).
REMOVED_WITH_PARENT = {
    ("sql", "databases"): "the Cloud SQL instance",
    ("sql", "users"): "the Cloud SQL instance",
    ("beta", "services", "identity"): "the project (Google-managed service agents)",
}


@pytest.fixture(scope="module")
def guide(repo) -> str:
    return (repo / "docs" / "gcp-setup.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def guide_commands(guide) -> list[list[str]]:
    return doc_gcloud_commands(guide, doc_variables(guide))


@pytest.fixture(scope="module")
def guide_plan(guide) -> list[list[str]]:
    """The bootstrap's plans for the names a reader exports in step 1, with either scheduler."""
    names = {name: doc_variables(guide)[name] for name in STEP_ONE}
    plan = []
    for scheduler in ("composer", "cloud-scheduler"):
        done = run_bootstrap("--dry-run", *BOOTSTRAP_PHASES, env={**names, "SCHEDULER": scheduler})
        assert done.returncode == 0, done.stderr
        plan += plan_commands(done.stdout)
    return plan


def _submit_substitutions(commands: list[list[str]]) -> list[dict[str, str]]:
    """The substitutions of each `builds submit` (with either scheduler, and its region fallback)."""
    found = []
    for submit in [argv for argv in commands if "builds" in argv and "submit" in argv]:
        [flag] = [arg for arg in submit if arg.startswith("--substitutions=")]
        found.append(dict(pair.split("=", 1) for pair in flag.removeprefix("--substitutions=").split(",")))
    return found


def test_the_guide_builds_with_the_bootstrap(guide):
    """Step 4 runs the build phase, so the build gets the names the reader exported in step 1."""
    step_four = guide.split("## 4. Build and deploy", 1)[1].split("\n## ", 1)[0]
    assert "scripts/bootstrap.sh build\n" in step_four


def test_the_build_gets_every_chosen_name_and_the_mlflow_address(guide, guide_plan, cloudbuild):
    submits = _submit_substitutions(guide_plan)
    assert len(submits) == 4  # two schedulers, each with the fallback region
    names = doc_variables(guide)
    chosen = {f"_{name}" for name in STEP_ONE} & set(cloudbuild["substitutions"]) - {"_SCHEDULER"}
    assert len(chosen) >= 5, "step 1 should choose names the build takes"
    for passed in submits:
        for substitution in sorted(chosen):
            assert passed.get(substitution) == names[substitution[1:]], substitution
        # The functions and the service must be told where the VM the bootstrap made listens.
        assert passed.get("_MLFLOW_TRACKING_URI", "").startswith("http://")
    assert sorted(passed["_SCHEDULER"] for passed in submits) == ["cloud-scheduler"] * 2 + ["composer"] * 2


def _created(argv: list[str]) -> tuple[tuple[str, ...], str] | None:
    """(resource group, name) of a create command, without flags and the global --project/--quiet.

    Resources that Google names by generated ids (notification channels, alert policies) are known
    by their display name: the --display-name flag, or the displayName of the --policy-from-file.
    """
    words = [a for a in argv if not a.startswith("-")]
    if "create" not in words:
        return None
    at = words.index("create")
    flags = dict(a.split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    if at + 1 < len(words) and words[at + 1] != "pubsub":
        name = words[at + 1]
    elif "--display-name" in flags:
        name = flags["--display-name"]
    elif "--policy-from-file" in flags:
        name = yaml.safe_load(Path(flags["--policy-from-file"]).read_text())["displayName"]
    else:
        name = words[at + 2] if at + 2 < len(words) else ""  # `scheduler jobs create pubsub NAME`
    return tuple(words[:at]), name


def _deleted_at(commands: list[list[str]], group: tuple[str, ...], name: str) -> int | None:
    """Where a command deletes it: by name, or by the id a list filtered on its display name answers
    (the list comes first, the delete names a placeholder or `$(...)`)."""
    for at, (previous, argv) in enumerate(pairwise([[], *commands])):
        words = [a for a in argv if not a.startswith("-")]
        if group == ("storage", "buckets") and words[:2] == ["storage", "rm"] and name in words:
            return at
        if tuple(words[: len(group)]) == group and words[len(group):len(group) + 1] == ["delete"]:
            targets = words[len(group) + 1:]
            if any(t == name or t.startswith(f"{name}@") for t in targets):
                return at
            previous_words = [a for a in previous if not a.startswith("-")]
            looked_up = [a for a in previous if a.startswith("--filter=")]
            if len(targets) == 1 and previous_words[:len(group)] == list(group) and \
                    any(f'displayName="{name}"' in a for a in looked_up):
                return at
    return None


def _deleted(commands: list[list[str]], group: tuple[str, ...], name: str) -> bool:
    return _deleted_at(commands, group, name) is not None


@pytest.fixture(scope="module")
def teardown_plan(guide) -> list[list[str]]:
    """scripts/teardown.sh's plan for the names a reader exports in step 1 (it removes either scheduler's)."""
    names = {name: doc_variables(guide)[name] for name in STEP_ONE}
    done = run_teardown("--dry-run", env=names)
    assert done.returncode == 0, done.stderr
    return plan_commands(done.stdout)


def test_the_guide_tears_down_with_the_script(guide):
    section = guide.split("## Removing everything", 1)[1].split("\n## ", 1)[0]
    assert "scripts/teardown.sh --dry-run" in section and "\nscripts/teardown.sh\n" in section


def test_the_teardown_removes_every_resource_the_bootstrap_creates(guide_plan, teardown_plan):
    created = [c for c in map(_created, guide_plan) if c and c[0] not in REMOVED_WITH_PARENT]
    assert len(created) >= 20
    missing = [f"{' '.join(group)} {name}" for group, name in created if not _deleted(teardown_plan, group, name)]
    assert not missing, "scripts/teardown.sh does not delete: " + ", ".join(missing)


def test_the_teardown_deletes_in_the_reverse_order_of_creation(guide, teardown_plan):
    """What was created later goes first (a subnet before its network, a policy before its channel)."""
    names = {name: doc_variables(guide)[name] for name in STEP_ONE}
    for scheduler in ("composer", "cloud-scheduler"):
        done = run_bootstrap("--dry-run", *BOOTSTRAP_PHASES, env={**names, "SCHEDULER": scheduler})
        created = list(dict.fromkeys(c for c in map(_created, plan_commands(done.stdout))
                                     if c and c[0] not in REMOVED_WITH_PARENT))
        order = [_deleted_at(teardown_plan, group, name) for group, name in created]
        assert None not in order
        late = [f"{' '.join(a[0])} {a[1]} (deleted at {i}) before {' '.join(b[0])} {b[1]} (at {j})"
                for (a, i), (b, j) in pairwise(zip(created, order, strict=True)) if i < j]
        assert not late, late


def test_the_teardown_check_can_fail(guide_plan):
    assert not _deleted([["compute", "networks", "delete", "other-net"]], ("compute", "networks"), "gasforecast-net")
    lookup = ["monitoring", "uptime", "list-configs", '--filter=displayName="other"']
    assert not _deleted([lookup, ["monitoring", "uptime", "delete", "VALUE_FROM_COMMAND"]],
                        ("monitoring", "uptime"), "gasforecast-service-up")
    assert _deleted([[*lookup[:3], '--filter=displayName="gasforecast-service-up"'],
                     ["monitoring", "uptime", "delete", "CHECK_ID"]], ("monitoring", "uptime"),
                    "gasforecast-service-up")
    assert _deleted_at([["compute", "networks", "delete", "b"], ["compute", "networks", "delete", "a"]],
                       ("compute", "networks"), "a") == 1
