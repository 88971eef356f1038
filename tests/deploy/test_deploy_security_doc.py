"""docs/security.md says who can do what: every role the bootstrap grants is in it, and its list of
public surfaces names each thing the deployment exposes."""

from __future__ import annotations

import pytest
from deploy_commands import BOOTSTRAP_PHASES, build_values, cloudbuild_gcloud_commands, plan_commands, run_bootstrap


@pytest.fixture(scope="module")
def security(repo) -> str:
    return (repo / "docs" / "security.md").read_text(encoding="utf-8")


def granted_roles(plan: str) -> set[str]:
    roles = set()
    for argv in plan_commands(plan):
        if "add-iam-policy-binding" in argv:
            [role] = [arg.split("=", 1)[1] for arg in argv if arg.startswith("--role=")]
            roles.add(role.replace("projects/offline-check/roles/", ""))
    return roles


def test_every_role_the_bootstrap_grants_is_documented(security, bootstrap_plan):
    scheduler = run_bootstrap("--dry-run", "--scheduler=cloud-scheduler", *BOOTSTRAP_PHASES,
                              env={"PROJECT_ID": "offline-check"})
    roles = granted_roles(bootstrap_plan) | granted_roles(scheduler.stdout)
    assert len(roles) >= 15 and "gasforecastTriggerSettings" in roles
    undocumented = sorted(role for role in roles if f"`{role}`" not in security)
    assert not undocumented, f"docs/security.md does not list: {undocumented}"


def test_the_check_can_fail(security):
    assert "`roles/pubsub.admin`" not in security
    assert granted_roles("gcloud --project=offline-check --quiet pubsub topics add-iam-policy-binding t "
                         "--member=user:a --role=roles/pubsub.admin") == {"roles/pubsub.admin"}


def test_every_public_surface_is_listed(security, cloudbuild):
    public = security.split("## What is public", 1)[1].split("\n## ", 1)[0]
    values = build_values(cloudbuild)
    exposed = [c for c in cloudbuild_gcloud_commands(cloudbuild, values) if "--allow-unauthenticated" in c.argv]
    assert [c.argv[2] for c in exposed] == [values["_SERVICE_NAME"]]
    for surface in (f"`{values['_SERVICE_NAME']}`", "Airflow web UI", "Identity-Aware Proxy", "`roles/composer.user`",
                    "`roles/iap.tunnelResourceAccessor`"):
        assert surface in public, surface
    who = security.split("## Who can do what", 1)[1].split("\n## ", 1)[0]
    for action in ("retrain topic", "uploads bucket", "`champion`", "Read the registry"):
        assert action in who, action
