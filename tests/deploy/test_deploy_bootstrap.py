"""scripts/bootstrap.sh: the dry run prints the plan without calling gcloud; a real run is idempotent.

Real runs use a stand-in `gcloud` on PATH that records its arguments and answers describes as if the
project were empty or already fully set up; no real gcloud is involved.
"""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest

from deploy_commands import BOOTSTRAP_PHASES, plan_commands, run_bootstrap

ALL_BUT_DEAD_LETTER = [p for p in BOOTSTRAP_PHASES if p != "dead-letter"]

# Answers the look-ups the script makes; a describe/list answers per FAKE_STATE (empty or full).
FAKE_GCLOUD = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_LOG"
case "$*" in
  *"value(projectNumber)"*) echo 123456789012; exit 0 ;;
  *"storage service-agent"*) echo service-123456789012@gs-project-accounts.iam.gserviceaccount.com; exit 0 ;;
  *"secrets versions access"*) echo stored-password; exit 0 ;;
  *"value(eventTrigger.trigger)"*) echo projects/p/locations/europe-west2/triggers/gasforecast-train-123; exit 0 ;;
  *"value(transport.pubsub.subscription)"*) echo projects/p/subscriptions/eventarc-europe-west2-train-sub-1; exit 0 ;;
  *"value(config.dagGcsPrefix)"*) echo gs://europe-west2-gasforecast-composer-bucket/dags; exit 0 ;;
  *"--data-file=-"*) cat >"$FAKE_LOG.secret"; exit 0 ;;
esac
if [[ " $* " == *" describe "* || " $* " == *" list "* ]]; then
  if [[ $FAKE_STATE == full ]]; then echo exists; exit 0; fi
  [[ " $* " == *" list "* ]] && exit 0
  echo "ERROR: NOT_FOUND" >&2; exit 1
fi
exit 0
"""


@pytest.fixture()
def fake_gcloud(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gcloud"
    script.write_text(FAKE_GCLOUD)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_with_fake(fake_gcloud: Path, state: str, *args: str):
    log = fake_gcloud.parent / "gcloud.log"
    log.write_text("")
    done = run_bootstrap(
        *args,
        env={"PROJECT_ID": "offline-check", "FAKE_STATE": state, "FAKE_LOG": str(log)},
        path=f"{fake_gcloud}:/usr/bin:/bin",
    )
    calls = [shlex.split(line) for line in log.read_text().splitlines()]
    return done, calls


def is_create(argv: list[str]) -> bool:
    """A command that makes a new resource (IAM bindings and updates are idempotent by nature)."""
    verbs = set(argv)
    return bool(verbs & {"create", "connect"}) and "identity" not in verbs


def test_dry_run_prints_the_plan_and_never_calls_gcloud(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "--dry-run", *BOOTSTRAP_PHASES)
    assert done.returncode == 0, done.stderr
    assert calls == []
    assert done.stdout.rstrip().endswith("# dry run: nothing was changed")
    assert len(plan_commands(done.stdout)) >= 60


def test_every_create_in_the_plan_is_guarded_by_a_check(bootstrap_plan):
    lines = [line for line in bootstrap_plan.splitlines() if line.startswith(("gcloud ", "# check: "))]
    for previous, line in zip(lines, lines[1:]):
        if line.startswith("gcloud ") and is_create(shlex.split(line)):
            assert previous.startswith("# check: "), f"unguarded: {line}"


def test_plan_creates_what_the_pipeline_needs(bootstrap_plan):
    plan = bootstrap_plan
    for expected in (
        "services enable",
        "storage buckets create gs://gasforecast-data",
        "storage buckets update gs://gasforecast-data --versioning",
        "storage buckets create gs://gasforecast-artifacts",
        "pubsub topics create retrain-requests",
        "pubsub topics create retrain-requests-dead-letter",
        "pubsub subscriptions create retrain-requests-dead-letter-sub --topic=retrain-requests-dead-letter",
        "sql instances create gasforecast-mlflow-db --database-version=POSTGRES_16",
        "compute instances create gasforecast-mlflow",
        "compute networks vpc-access connectors create gasforecast-connector",
        "composer environments create gasforecast-composer",
        "pubsub subscriptions update TRAIN_SUBSCRIPTION",
        "--dead-letter-topic=retrain-requests-dead-letter --max-delivery-attempts=5",
    ):
        assert expected in plan, expected
    # Dead-lettering needs Pub/Sub's service agent to publish to the dead-letter topic and to
    # subscribe on the source subscription; storage triggers need the GCS agent to publish.
    assert "pubsub topics add-iam-policy-binding retrain-requests-dead-letter --member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub" in plan
    assert "pubsub subscriptions add-iam-policy-binding TRAIN_SUBSCRIPTION --member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber" in plan
    assert "--member=serviceAccount:GCS_SERVICE_AGENT --role=roles/pubsub.publisher" in plan


def test_mlflow_is_private(bootstrap_plan):
    [vm] = [line for line in bootstrap_plan.splitlines() if "compute instances create" in line]
    assert "--no-address" in vm
    [sql] = [line for line in bootstrap_plan.splitlines() if "sql instances create" in line]
    assert "--no-assign-ip" in sql
    [firewall] = [line for line in bootstrap_plan.splitlines() if "allow-mlflow-from-connector --network" in line]
    assert "--source-ranges=10.8.0.0/28" in firewall and "--rules=tcp:5000" in firewall


def test_no_role_is_granted_project_wide_that_a_resource_binding_could_carry(bootstrap_plan):
    project_roles = {
        (argv[argv.index("add-iam-policy-binding") + 2], argv[argv.index("add-iam-policy-binding") + 3])
        for argv in (shlex.split(line) for line in bootstrap_plan.splitlines() if line.startswith("gcloud "))
        if argv[3:5] == ["projects", "add-iam-policy-binding"]
    }
    roles = {role.split("=", 1)[1] for _, role in project_roles}
    assert not roles & {"roles/storage.objectAdmin", "roles/storage.admin", "roles/pubsub.admin", "roles/owner",
                        "roles/editor", "roles/secretmanager.secretAccessor"}


def test_first_run_creates_everything(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", *ALL_BUT_DEAD_LETTER)
    assert done.returncode == 0, done.stderr
    created = [argv for argv in calls if is_create(argv)]
    plan_creates = [argv for argv in plan_commands(run_bootstrap("--dry-run", *ALL_BUT_DEAD_LETTER,
                                                                 env={"PROJECT_ID": "offline-check"}).stdout)
                    if is_create(argv)]
    assert len(created) == len(plan_creates) >= 25


def test_second_run_creates_nothing(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", *ALL_BUT_DEAD_LETTER)
    assert done.returncode == 0, done.stderr
    assert [argv for argv in calls if is_create(argv)] == []
    # The VM's startup script and settings are refreshed instead of recreating it.
    assert any("add-metadata" in argv for argv in calls)


def test_database_password_is_generated_stored_and_never_printed(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "sql")
    assert done.returncode == 0, done.stderr
    password = (fake_gcloud.parent / "gcloud.log.secret").read_text()
    assert len(password) >= 24 and password.isalnum()
    [user] = [argv for argv in calls if argv[2:5] == ["sql", "users", "create"]]
    assert f"--password={password}" in user
    assert password not in done.stdout + done.stderr
    assert "--password=FROM_SECRET" in done.stdout


def test_dead_letter_phase_finds_the_eventarc_subscription(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "dead-letter")
    assert done.returncode == 0, done.stderr
    [update] = [argv for argv in calls if argv[2:5] == ["pubsub", "subscriptions", "update"]]
    assert update[5] == "eventarc-europe-west2-train-sub-1"
    [describe] = [argv for argv in calls if argv[2:5] == ["eventarc", "triggers", "describe"]]
    assert describe[5] == "gasforecast-train-123"


def test_unknown_argument_is_refused():
    done = run_bootstrap("--dry-run", "everything")
    assert done.returncode == 2
    assert "unknown argument" in done.stderr


def test_names_follow_the_environment():
    done = run_bootstrap("--dry-run", "storage", "pubsub",
                         env={"PROJECT_ID": "p1", "DATA_BUCKET": "p1-data", "RETRAIN_TOPIC": "retrain-x"})
    assert "storage buckets create gs://p1-data" in done.stdout
    assert "pubsub topics create retrain-x-dead-letter" in done.stdout
    assert "gasforecast-data" not in done.stdout
