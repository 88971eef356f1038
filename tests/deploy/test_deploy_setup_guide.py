"""docs/gcp-setup.md read as a new user would: the build gets the names chosen in step 1, and the
teardown removes what the bootstrap creates."""

from __future__ import annotations

import pytest

from deploy_commands import BOOTSTRAP_PHASES, doc_gcloud_commands, doc_variables, plan_commands, run_bootstrap

STEP_ONE = ("PROJECT_ID", "REGION", "ZONE", "DATA_BUCKET", "ARTIFACT_BUCKET", "RETRAIN_TOPIC")
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
    """The bootstrap's plan for the names a reader exports in step 1."""
    names = doc_variables(guide)
    done = run_bootstrap("--dry-run", *BOOTSTRAP_PHASES, env={name: names[name] for name in STEP_ONE})
    assert done.returncode == 0, done.stderr
    return plan_commands(done.stdout)


def _submit_substitutions(commands: list[list[str]]) -> dict[str, str]:
    [submit] = [argv for argv in commands if argv[:2] == ["builds", "submit"]]
    [flag] = [arg for arg in submit if arg.startswith("--substitutions=")]
    return dict(pair.split("=", 1) for pair in flag.removeprefix("--substitutions=").split(","))


def test_the_build_gets_every_chosen_name_and_the_mlflow_address(guide, guide_commands, cloudbuild):
    passed = _submit_substitutions(guide_commands)
    names = doc_variables(guide)
    chosen = {f"_{name}" for name in STEP_ONE} & set(cloudbuild["substitutions"])
    assert chosen, "step 1 should choose names the build takes"
    for substitution in sorted(chosen):
        assert passed.get(substitution) == names[substitution[1:]], substitution
    # The functions and the service must be told where the VM the bootstrap made listens.
    assert passed.get("_MLFLOW_TRACKING_URI", "").startswith("http://")


def _created(argv: list[str]) -> tuple[tuple[str, ...], str] | None:
    """(resource group, name) of a create command, without flags and the global --project/--quiet."""
    words = [a for a in argv if not a.startswith("-")]
    if "create" not in words:
        return None
    at = words.index("create")
    return tuple(words[:at]), (words[at + 1] if at + 1 < len(words) else "")


def _deleted(commands: list[list[str]], group: tuple[str, ...], name: str) -> bool:
    for argv in commands:
        words = [a for a in argv if not a.startswith("-")]
        if group == ("storage", "buckets") and words[:2] == ["storage", "rm"] and name in words:
            return True
        if tuple(words[: len(group)]) == group and words[len(group):len(group) + 1] == ["delete"]:
            targets = words[len(group) + 1:]
            if any(t == name or t.startswith(f"{name}@") for t in targets):
                return True
    return False


def test_the_teardown_removes_every_resource_the_bootstrap_creates(guide_plan, guide_commands):
    teardown = guide_commands[[a[:2] for a in guide_commands].index(["projects", "delete"]) + 1:]
    created = [c for c in map(_created, guide_plan) if c and c[0] not in REMOVED_WITH_PARENT]
    assert len(created) >= 20
    missing = [f"{' '.join(group)} {name}" for group, name in created if not _deleted(teardown, group, name)]
    assert not missing, "docs/gcp-setup.md 'Removing everything' does not delete: " + ", ".join(missing)


def test_the_teardown_check_can_fail(guide_plan):
    assert not _deleted([["compute", "networks", "delete", "other-net"]], ("compute", "networks"), "gasforecast-net")
