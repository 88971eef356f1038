"""scripts/bootstrap.sh: the dry run prints the plan without calling gcloud; a real run is idempotent.

Real runs use a stand-in `gcloud` on PATH that records its arguments and answers describes as if the
project were empty or already fully set up; no real gcloud is involved.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest
from deploy_commands import BOOTSTRAP_PHASES, plan_commands, run_bootstrap, run_with_fake

from gasforecast.platform.messaging import RetrainRequest, parse_retrain_request

POST_BUILD = ("build", "alerting")
BEFORE_BUILD = [p for p in BOOTSTRAP_PHASES if p not in POST_BUILD]

def is_create(argv: list[str]) -> bool:
    """A command that makes a new resource (IAM bindings and updates are idempotent by nature)."""
    verbs = set(argv)
    return bool(verbs & {"create", "connect"}) and "identity" not in verbs


def plan_lines(plan: str, *words: str) -> list[list[str]]:
    """The plan's commands (checks and look-ups included) that contain every one of these words."""
    return [argv for argv in plan_commands(plan) if all(word in argv for word in words)]


def flag(argv: list[str], name: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in argv if arg.startswith(f"{name}=")]
    return value


def test_dry_run_prints_the_plan_and_never_calls_gcloud(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "--dry-run", *BOOTSTRAP_PHASES)
    assert done.returncode == 0, done.stderr
    assert calls == []
    assert done.stdout.rstrip().endswith("# dry run: nothing was changed")
    assert len(plan_commands(done.stdout)) >= 60


def test_every_create_in_the_plan_is_guarded_by_a_check(bootstrap_plan):
    lines = [line for line in bootstrap_plan.splitlines() if line.startswith(("gcloud ", "# check: "))]
    for previous, line in pairwise(lines):
        if line.startswith("gcloud ") and is_create(shlex.split(line)):
            assert previous.startswith("# check: "), f"unguarded: {line}"


def test_plan_creates_what_the_pipeline_needs(bootstrap_plan):
    plan = bootstrap_plan
    for expected in (
        "services enable",
        "storage buckets create gs://gasforecast-uploads",
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
    ):
        assert expected in plan, expected
    # Dead-lettering needs Pub/Sub's service agent to publish to the dead-letter topic and to
    # acknowledge on the source subscription, which Eventarc (re)creates at deploy time: project-wide.
    # Storage triggers need the GCS agent to publish.
    assert "pubsub topics add-iam-policy-binding retrain-requests-dead-letter --member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub" in plan
    assert "projects add-iam-policy-binding offline-check --member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber" in plan
    assert "--member=serviceAccount:GCS_SERVICE_AGENT --role=roles/pubsub.publisher" in plan


def test_mlflow_is_private(bootstrap_plan):
    [vm] = [line for line in bootstrap_plan.splitlines() if "compute instances create" in line]
    assert "--no-address" in vm
    [sql] = [line for line in bootstrap_plan.splitlines() if "sql instances create" in line]
    assert "--no-assign-ip" in sql
    [firewall] = [line for line in bootstrap_plan.splitlines() if "allow-mlflow-from-connector --network" in line]
    assert "--source-ranges=10.8.0.0/28" in firewall and "--rules=tcp:5000" in firewall
    # One path per caller: the train function's connector, and operators through IAP; nothing else.
    rules = [line for line in bootstrap_plan.splitlines() if "compute firewall-rules create" in line]
    assert len(rules) == 2 and all("--target-tags=mlflow-server" in rule for rule in rules)


def test_no_role_is_granted_project_wide_that_a_resource_binding_could_carry(bootstrap_plan):
    project_roles = {
        (argv[argv.index("add-iam-policy-binding") + 2], argv[argv.index("add-iam-policy-binding") + 3])
        for argv in (shlex.split(line) for line in bootstrap_plan.splitlines() if line.startswith("gcloud "))
        if argv[3:5] == ["projects", "add-iam-policy-binding"]
    }
    roles = {role.split("=", 1)[1] for _, role in project_roles}
    assert not roles & {"roles/storage.objectAdmin", "roles/storage.admin", "roles/pubsub.admin", "roles/owner",
                        "roles/editor", "roles/secretmanager.secretAccessor"}


# ---- The build's right to set the trigger subscriptions ----------------------------------------

def test_the_build_may_set_trigger_subscriptions_and_nothing_more(bootstrap_plan):
    """cloudbuild.yaml's trigger-subscriptions step reads each function's trigger and updates its
    subscription: a custom role with exactly those permissions, granted to the build account."""
    [create] = plan_lines(bootstrap_plan, "iam", "roles", "create", "gasforecastTriggerSettings")
    assert flag(create, "--permissions").split(",") == [
        "eventarc.triggers.get", "pubsub.subscriptions.get", "pubsub.subscriptions.update"]
    [grant] = plan_lines(bootstrap_plan, "projects", "add-iam-policy-binding",
                         "--role=projects/offline-check/roles/gasforecastTriggerSettings")
    assert flag(grant, "--member") == "serviceAccount:gasforecast-build@offline-check.iam.gserviceaccount.com"


def test_the_build_account_has_the_documented_deploy_roles_and_no_project_wide_builder(bootstrap_plan):
    """Google's roles for deploying Cloud Run and functions with a user-specified build account, each
    on the narrowest resource: nothing project-wide that writes buckets or publishes to topics."""
    build = "serviceAccount:gasforecast-build@offline-check.iam.gserviceaccount.com"
    grants = {(argv[2], argv[argv.index("add-iam-policy-binding") + 1], flag(argv, "--role")): argv for argv in plan_lines(bootstrap_plan, "add-iam-policy-binding")
              if f"--member={build}" in argv}
    project = sorted(role for (kind, _, role) in grants if kind == "projects")
    assert project == ["projects/offline-check/roles/gasforecastTriggerSettings", "roles/cloudfunctions.developer",
                       "roles/composer.user", "roles/logging.logWriter", "roles/run.admin", "roles/storage.objectViewer"]
    sources = grants[("projects", "offline-check", "roles/storage.objectViewer")]
    assert flag(sources, "--condition").endswith(
        'resource.name == "projects/_/buckets/gcf-v2-sources-PROJECT_NUMBER-europe-west2" '
        '|| resource.name.startsWith("projects/_/buckets/gcf-v2-sources-PROJECT_NUMBER-europe-west2/")')
    assert ("artifacts", "gasforecast", "roles/artifactregistry.writer") in grants
    assert ("storage", "gs://offline-check_cloudbuild", "roles/storage.objectViewer") in grants
    [submit] = plan_lines(bootstrap_plan, "builds", "submit", "--region=europe-west2")
    assert flag(submit, "--gcs-source-staging-dir") == "gs://offline-check_cloudbuild/source"


def test_a_rerun_removes_the_project_wide_builder_role_of_earlier_versions(fake_gcloud):
    build = "serviceAccount:gasforecast-build@offline-check.iam.gserviceaccount.com"
    done, calls = run_with_fake(fake_gcloud, "full", "identities", FAKE_BINDINGS=f"roles/cloudbuild.builds.builder,{build}")
    assert done.returncode == 0, done.stderr
    [removed] = [argv for argv in calls if argv[2:4] == ["projects", "remove-iam-policy-binding"]]
    assert flag(removed, "--member") == build and flag(removed, "--role") == "roles/cloudbuild.builds.builder"
    done, calls = run_with_fake(fake_gcloud, "full", "identities")
    assert not [argv for argv in calls if argv[2:4] == ["projects", "remove-iam-policy-binding"]]


def test_a_rerun_sets_the_roles_permissions_again(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "identities")
    assert done.returncode == 0, done.stderr
    [update] = [argv for argv in calls if argv[2:5] == ["iam", "roles", "update"]]
    assert update[5] == "gasforecastTriggerSettings" and "--permissions=eventarc.triggers.get," in " ".join(update)
    assert not [argv for argv in calls if argv[2:5] == ["iam", "roles", "undelete"]]


def test_a_role_deleted_by_a_teardown_is_undeleted_not_created(fake_gcloud):
    """Google keeps a deleted custom role's id for 37 days: creating it again would be refused."""
    done, calls = run_with_fake(fake_gcloud, "empty", "identities", FAKE_ROLE_DELETED="1")
    assert done.returncode == 0, done.stderr
    role_calls = [argv[4] for argv in calls if argv[2:4] == ["iam", "roles"]]
    assert role_calls == ["describe", "undelete", "update"]


# ---- Buckets, lifecycle, least privilege -------------------------------------------------------

def test_uploads_and_data_buckets_get_their_lifecycle_rules(bootstrap_plan, repo):
    [uploads] = plan_lines(bootstrap_plan, "update", "gs://gasforecast-uploads")
    [data] = plan_lines(bootstrap_plan, "update", "gs://gasforecast-data")
    assert Path(flag(uploads, "--lifecycle-file")) == repo / "deploy" / "storage" / "uploads-bucket-lifecycle.json"
    assert Path(flag(data, "--lifecycle-file")) == repo / "deploy" / "storage" / "data-bucket-lifecycle.json"
    assert "--versioning" in data and "--versioning" not in uploads


def _conditions(plan: str, bucket: str, member: str) -> dict[str, set[str]]:
    """role -> the object-name prefixes its conditional binding on the bucket admits."""
    found: dict[str, set[str]] = {}
    for argv in plan_lines(plan, "add-iam-policy-binding", f"gs://{bucket}", f"--member=serviceAccount:{member}"):
        role = flag(argv, "--role")
        expression = flag(argv, "--condition").split(";expression=", 1)[1] if "--condition" in " ".join(argv) else ""
        objects = set(re.findall(rf'resource\.name\.startsWith\("projects/_/buckets/{bucket}/objects/([^"]*)"\)', expression))
        listed = set(re.findall(r'objectListPrefix", ""\)\.startsWith\("([^"]*)"\)', expression))
        assert objects == listed, "listing is allowed exactly where reading is"
        assert expression.count("||") == max(2 * len(objects) - 1, 0), "nothing but those prefixes"
        found[role] = objects
    return found


def test_train_reads_curated_and_writes_locks_forecasts_and_serving_only(bootstrap_plan):
    train = "gasforecast-train@offline-check.iam.gserviceaccount.com"
    assert _conditions(bootstrap_plan, "gasforecast-data", train) == {
        "roles/storage.objectViewer": {"curated/", "series/"},  # series/: the definitions (issue 22)
        "roles/storage.objectUser": {"locks/", "forecasts/", "serving/"},
    }
    assert _conditions(bootstrap_plan, "gasforecast-uploads", train) == {}


def test_the_service_may_read_the_serving_prefix_and_nothing_else(bootstrap_plan):
    service = "gasforecast-service@offline-check.iam.gserviceaccount.com"
    assert _conditions(bootstrap_plan, "gasforecast-data", service) == {"roles/storage.objectViewer": {"serving/"}}
    granted = [argv for argv in plan_lines(bootstrap_plan, "add-iam-policy-binding") if f"--member=serviceAccount:{service}" in argv]
    assert len(granted) == 1, "one read-only grant, on one prefix"


def test_ingest_reads_uploads_and_writes_its_data_prefixes_only(bootstrap_plan):
    ingest = "gasforecast-ingest@offline-check.iam.gserviceaccount.com"
    assert _conditions(bootstrap_plan, "gasforecast-uploads", ingest) == {"roles/storage.objectUser": set()}
    assert _conditions(bootstrap_plan, "gasforecast-data", ingest) == {
        "roles/storage.objectUser": {"curated/", "archive/", "rejected/", "held/"},
        "roles/storage.objectViewer": {"series/"},  # the series definitions, read-only (issue 22)
    }


def test_a_rerun_removes_the_whole_bucket_grants_of_earlier_versions(fake_gcloud):
    """The policy listing is long (real gcloud writes it in several chunks): a check that stopped
    reading at its first match would kill gcloud with SIGPIPE, and under pipefail skip the revoke."""
    grants = "\n".join(f"roles/storage.objectAdmin,serviceAccount:gasforecast-{part}@offline-check.iam.gserviceaccount.com,"
                       for part in ("train", "ingest"))
    others = fake_gcloud.parent / "other-bindings.csv"
    others.write_text("".join(f"roles/storage.objectViewer,user:analyst-{n}@example.com,\n" for n in range(50_000)))
    done, calls = run_with_fake(fake_gcloud, "full", "identities", FAKE_BINDINGS=grants, FAKE_MORE_BINDINGS=str(others))
    assert done.returncode == 0, done.stderr
    removed = [flag(argv, "--member") for argv in calls if "remove-iam-policy-binding" in argv]
    assert sorted(removed) == [f"serviceAccount:gasforecast-{part}@offline-check.iam.gserviceaccount.com"
                               for part in ("ingest", "train")]
    # A conditional binding of the same role is not a legacy one.
    conditional = grants.replace(".com,", ".com,train reads curated")
    done, calls = run_with_fake(fake_gcloud, "full", "identities", FAKE_BINDINGS=conditional, FAKE_MORE_BINDINGS=str(others))
    assert done.returncode == 0, done.stderr
    assert not [argv for argv in calls if "remove-iam-policy-binding" in argv]


def test_a_changed_condition_replaces_the_bindings_under_the_old_one(fake_gcloud):
    """A re-run after the prefixes of a grant changed (train gained serving/) leaves no binding under
    the old condition: the member's bindings of that role go, then the current one is granted."""
    train = "serviceAccount:gasforecast-train@offline-check.iam.gserviceaccount.com"
    old = f"roles/storage.objectUser,{train},train writes locks and forecasts"
    done, calls = run_with_fake(fake_gcloud, "full", "identities", FAKE_BINDINGS=old)
    assert done.returncode == 0, done.stderr
    [removed] = [i for i, argv in enumerate(calls) if "remove-iam-policy-binding" in argv]
    assert calls[removed][5] == "gs://gasforecast-data" and "--all" in calls[removed]
    assert (flag(calls[removed], "--member"), flag(calls[removed], "--role")) == (train, "roles/storage.objectUser")
    [granted] = [i for i, argv in enumerate(calls) if "add-iam-policy-binding" in argv and f"--member={train}" in argv
                 and "--role=roles/storage.objectUser" in argv]
    assert removed < granted and "serving/" in " ".join(calls[granted])
    current = old.replace("locks and forecasts", "(locks/ forecasts/ serving/)")
    done, calls = run_with_fake(fake_gcloud, "full", "identities", FAKE_BINDINGS=current)
    assert done.returncode == 0, done.stderr
    assert not [argv for argv in calls if "remove-iam-policy-binding" in argv]


def test_settings_only_a_restart_changes_are_reported_with_their_fix_not_changed(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "sql", "mlflow")
    assert done.returncode == 0 and "differ" not in done.stderr, "in step: nothing to report"
    done, calls = run_with_fake(fake_gcloud, "full", "sql", "mlflow", FAKE_SQL_TIER="db-g1-small",
                                FAKE_MACHINE_TYPE="e2-medium")
    assert done.returncode == 0, done.stderr
    assert "2 settings differ" in done.stderr
    assert "tier (a change restarts the database) is db-g1-small, this script sets db-f1-micro: gcloud " \
           "--project=offline-check --quiet sql instances patch gasforecast-mlflow-db --tier=db-f1-micro" in done.stderr
    assert "machine type (change it while the VM is stopped) is e2-medium, this script sets e2-small: " in done.stderr
    assert "compute instances set-machine-type gasforecast-mlflow --zone=europe-west2-a --machine-type=e2-small" \
           in done.stderr
    assert not [argv for argv in calls if "patch" in argv or "set-machine-type" in argv], "nothing restarted unasked"


def test_a_rerun_sets_the_dead_letter_subscriptions_settings_again(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "pubsub")
    assert done.returncode == 0, done.stderr
    [update] = [argv for argv in calls if argv[2:5] == ["pubsub", "subscriptions", "update"]]
    assert update[5:] == ["retrain-requests-dead-letter-sub", "--message-retention-duration=7d",
                          "--expiration-period=never", "--ack-deadline=60"]
    done, calls = run_with_fake(fake_gcloud, "empty", "pubsub")
    assert [argv[2:5] for argv in calls if argv[3:4] == ["subscriptions"] and argv[4] != "describe"] == [
        ["pubsub", "subscriptions", "create"]]


# ---- First deploy: grants to new accounts are retried ------------------------------------------

def test_a_grant_to_an_account_iam_has_not_propagated_yet_is_retried(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "pubsub", FAKE_FAILURES="2",
                                FAKE_ERROR="ERROR: (gcloud.pubsub.topics.add-iam-policy-binding) INVALID_ARGUMENT: "
                                                 "Service account service-123@gcp-sa-pubsub.iam.gserviceaccount.com does not exist.")
    assert done.returncode == 0, done.stderr
    grants = [argv for argv in calls if "add-iam-policy-binding" in argv]
    assert len(grants) == 2 + 2 and grants[0] == grants[2]
    assert done.stdout.count("# not usable yet") == 2


def test_retries_are_bounded_and_say_what_to_do(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "pubsub", FAKE_FAILURES="99", GRANT_ATTEMPTS="3",
                                FAKE_ERROR="ERROR: NOT_FOUND: Service account x does not exist.")
    assert done.returncode != 0
    assert len([argv for argv in calls if "add-iam-policy-binding" in argv]) == 3
    assert "run the same command again" in done.stderr


def test_other_grant_failures_stop_at_once(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "pubsub", FAKE_FAILURES="1",
                                FAKE_ERROR="ERROR: PERMISSION_DENIED: caller lacks resourcemanager.projects.setIamPolicy")
    assert done.returncode != 0
    assert len([argv for argv in calls if "add-iam-policy-binding" in argv]) == 1
    assert "PERMISSION_DENIED" in done.stderr


# ---- Idempotence -------------------------------------------------------------------------------

def _creates(plan_or_calls) -> list[list[str]]:
    return [argv for argv in plan_or_calls if is_create(argv)]


@pytest.mark.parametrize("phases", [BEFORE_BUILD, list(POST_BUILD)], ids=["before-build", "after-build"])
def test_first_run_creates_everything(fake_gcloud, phases):
    done, calls = run_with_fake(fake_gcloud, "empty", *phases)
    assert done.returncode == 0, done.stderr
    plan = run_bootstrap("--dry-run", *phases, env={"PROJECT_ID": "offline-check"})
    assert len(_creates(calls)) == len(_creates(plan_commands(plan.stdout))) >= (25 if "apis" in phases else 10)


def test_second_run_creates_nothing(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", *BOOTSTRAP_PHASES)
    assert done.returncode == 0, done.stderr
    assert _creates(calls) == []
    # What can drift is re-applied instead: the VM's startup script and settings, the log-based
    # metric, the alert policies, the bucket lifecycle rules.
    for refreshed in (["add-metadata"], ["logging", "metrics", "update"], ["monitoring", "policies", "update"],
                      ["storage", "buckets", "update"], ["iam", "roles", "update"]):
        assert any(set(refreshed) <= set(argv) for argv in calls), refreshed


# ---- Database password -------------------------------------------------------------------------

def test_database_password_is_generated_stored_and_never_on_a_command_line(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "sql")
    assert done.returncode == 0, done.stderr
    password = (fake_gcloud.parent / "gcloud.log.secret").read_text()
    assert len(password) >= 24 and password.isalnum()
    [user] = [argv for argv in calls if argv[2:5] == ["sql", "users", "create"]]
    assert "--flags-file=-" in user
    assert not any(password in arg for argv in calls for arg in argv)
    assert (fake_gcloud.parent / "gcloud.log.flags").read_text() == f'--password: "{password}"\n'
    assert password not in done.stdout + done.stderr


def test_an_existing_secret_gives_the_password_of_a_new_user(fake_gcloud):
    """Secret present, user missing (e.g. the instance was recreated): the stored password is used."""
    log = fake_gcloud.parent / "gcloud.log"
    script = fake_gcloud / "gcloud"
    script.write_text(script.read_text().replace('case "$*" in', 'case "$*" in\n  *"secrets describe"*) echo exists; exit 0 ;;', 1))
    done, calls = run_with_fake(fake_gcloud, "empty", "sql")
    assert done.returncode == 0, done.stderr
    assert not (Path(f"{log}.secret")).exists()
    assert (fake_gcloud.parent / "gcloud.log.flags").read_text() == '--password: "stored-password"\n'


# ---- Scheduler choice --------------------------------------------------------------------------

def _plan(*args: str) -> str:
    done = run_bootstrap("--dry-run", *args, env={"PROJECT_ID": "offline-check"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cloud_scheduler_publishes_the_dags_message_and_needs_no_composer():
    plan = _plan("--scheduler", "cloud-scheduler", *BEFORE_BUILD)
    same = _plan("--scheduler=cloud-scheduler", *BEFORE_BUILD)
    without_time = re.compile(r'"requested_at": "[^"]*"')
    assert without_time.sub("", plan) == without_time.sub("", same)
    assert "composer" not in plan
    assert "cloudscheduler.googleapis.com" in plan
    [job] = plan_lines(plan, "scheduler", "jobs", "create")
    assert flag(job, "--schedule") == "0 * * * *" and flag(job, "--time-zone") == "Etc/UTC"
    assert flag(job, "--topic") == "retrain-requests"
    request = parse_retrain_request(flag(job, "--message-body"))
    assert request.reason == "schedule" and not request.force and request.dataset is None
    attributes = dict(pair.split("=", 1) for pair in flag(job, "--attributes").split(","))
    assert attributes == RetrainRequest(reason="schedule", requested_at=request.requested_at).attributes()
    # Its service agent may publish to the retrain topic, and nothing else.
    [grant] = plan_lines(plan, "add-iam-policy-binding",
                         "--member=serviceAccount:service-PROJECT_NUMBER@gcp-sa-cloudscheduler.iam.gserviceaccount.com")
    assert grant[2:6] == ["pubsub", "topics", "add-iam-policy-binding", "retrain-requests"]
    assert "--role=roles/pubsub.publisher" in grant


def test_the_default_scheduler_is_composer(bootstrap_plan):
    assert "composer environments create" in bootstrap_plan
    assert "scheduler jobs" not in bootstrap_plan and "cloudscheduler" not in bootstrap_plan


def test_an_existing_scheduler_job_is_updated_not_recreated(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "--scheduler=cloud-scheduler", "schedule")
    assert done.returncode == 0, done.stderr
    [update] = [argv for argv in calls if argv[2:6] == ["scheduler", "jobs", "update", "pubsub"]]
    assert "--update-attributes=reason=schedule" in update


def test_an_unknown_scheduler_is_refused():
    done = run_bootstrap("--dry-run", "--scheduler", "cron")
    assert done.returncode == 2 and "composer or cloud-scheduler" in done.stderr


# ---- Alerting ----------------------------------------------------------------------------------

def test_alerting_needs_an_address_before_it_touches_anything(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "alerting", ALERT_EMAIL="")
    assert done.returncode == 2 and "ALERT_EMAIL" in done.stderr
    assert calls == []


def test_alerting_creates_metric_checks_channel_and_policies_wired_together(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "alerting")
    assert done.returncode == 0, done.stderr
    [channel] = [argv for argv in calls if argv[2:6] == ["beta", "monitoring", "channels", "create"]]
    assert "--channel-labels=email_address=ops@example.com" in channel and "--type=email" in channel
    checks = [argv for argv in calls if argv[2:5] == ["monitoring", "uptime", "create"]]
    assert {argv[5] for argv in checks} == {"gasforecast-service-up", "gasforecast-service-ready",
                                            "gasforecast-service-data-fresh"}
    for check in checks:
        assert "--resource-labels=host=gasforecast-service-abc123-nw.a.run.app,project_id=offline-check" in check
    policies = [argv for argv in calls if argv[2:6] == ["alpha", "monitoring", "policies", "create"]]
    rendered = [Path(flag(argv, "--policy-from-file")).read_text() for argv in policies]
    assert len(rendered) == 6
    assert all('notificationChannels: ["projects/p/notificationChannels/4242"]' in text for text in rendered)
    text = "\n".join(rendered)
    for check_id in ("gasforecast-service-up-id", "gasforecast-service-ready-id", "gasforecast-service-data-fresh-id"):
        assert f'metric.label.check_id="{check_id}"' in text
    assert 'resource.label.subscription_id="retrain-requests-dead-letter-sub"' in text


NEW_METRIC_REFUSAL = ('ERROR: (gcloud.alpha.monitoring.policies.create) NOT_FOUND: Cannot find metric(s) that match '
                      'type = "logging.googleapis.com/user/gasforecast-pipeline-events". If a metric was created '
                      'recently, it could take up to 10 minutes to become available. Please try again soon.')


def test_alert_policies_wait_until_monitoring_knows_the_new_log_metric(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "alerting", FAKE_FAIL_MATCH="* policies create *",
                                FAKE_FAILURES="3", FAKE_ERROR=NEW_METRIC_REFUSAL)
    assert done.returncode == 0, done.stderr
    creates = [argv for argv in calls if argv[2:6] == ["alpha", "monitoring", "policies", "create"]]
    assert len(creates) == 6 + 3 and creates[0] == creates[3]
    waits = [line for line in done.stdout.splitlines() if line.startswith("# not usable yet:")]
    assert len(waits) == 3 and all("new log-based metric" in line and "of 17" in line for line in waits), waits
    # The metric is created before any policy that uses it is tried.
    first_metric = next(i for i, argv in enumerate(calls) if argv[2:5] == ["logging", "metrics", "create"])
    assert first_metric < calls.index(creates[0])


def test_the_wait_for_a_new_metric_is_bounded_and_says_what_to_do(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "alerting", FAKE_FAIL_MATCH="* policies create *",
                                FAKE_FAILURES="99", FAKE_ERROR=NEW_METRIC_REFUSAL, METRIC_ATTEMPTS="4")
    assert done.returncode != 0
    assert len([argv for argv in calls if argv[2:6] == ["alpha", "monitoring", "policies", "create"]]) == 4
    assert "still refused after 4 attempts; Cloud Monitoring, for a new log-based metric" in done.stderr
    assert "run the same command again" in done.stderr


def test_a_policy_refused_for_another_reason_stops_at_once(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "alerting", FAKE_FAIL_MATCH="* policies create *",
                                FAKE_FAILURES="1", FAKE_ERROR="ERROR: INVALID_ARGUMENT: Field alert_policy.combiner")
    assert done.returncode != 0 and "alert_policy.combiner" in done.stderr
    assert len([argv for argv in calls if argv[2:6] == ["alpha", "monitoring", "policies", "create"]]) == 1


def test_an_existing_channel_and_checks_are_reused(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "alerting")
    assert done.returncode == 0, done.stderr
    updates = [argv for argv in calls if argv[2:6] == ["alpha", "monitoring", "policies", "update"]]
    assert len(updates) == 6
    assert all('["exists"]' in Path(flag(argv, "--policy-from-file")).read_text() for argv in updates)


def test_a_placeholder_without_a_value_stops_the_run(fake_gcloud, tmp_path, repo):
    """render() refuses to write a policy with one of our placeholders left in it."""
    script = (repo / "scripts" / "bootstrap.sh").read_text()
    assert '"SERVICE_UP_CHECK=$up" ' in script
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap.sh").write_text(script.replace('"SERVICE_UP_CHECK=$up" ', ""))
    (tmp_path / "scripts" / "deploy-lib.sh").symlink_to(repo / "scripts" / "deploy-lib.sh")
    (tmp_path / "deploy").symlink_to(repo / "deploy")
    log = fake_gcloud.parent / "gcloud.log"
    log.write_text("")
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "bootstrap.sh"), "alerting"],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{fake_gcloud}:/usr/bin:/bin", "PROJECT_ID": "offline-check",
                               "FAKE_STATE": "empty", "FAKE_LOG": str(log), "ALERT_EMAIL": "ops@example.com",
                               "MONITORING_DIR": str(tmp_path / "out")})
    assert done.returncode != 0 and "no value for ${SERVICE_UP_CHECK}" in done.stderr
    assert "service-down.yaml" not in log.read_text()
    assert not (tmp_path / "out" / "service-down.yaml").exists()


# ---- Build: names, MLflow address, region fallback ---------------------------------------------

def _submits(calls: list[list[str]]) -> list[list[str]]:
    return [argv for argv in calls if argv[2:4] == ["builds", "submit"]]


def test_the_build_gets_this_scripts_names_and_the_vms_address(fake_gcloud, repo, cloudbuild):
    done, calls = run_with_fake(fake_gcloud, "full", "--scheduler=cloud-scheduler", "build", UPLOADS_BUCKET="u-1",
                                BUILD_SUBSTITUTIONS="_TARGET_COLUMN=nbp,_TARGET_UNIT=p/therm")
    assert done.returncode == 0, done.stderr
    [submit] = _submits(calls)
    assert submit[4] == str(repo) and flag(submit, "--config") == str(repo / "cloudbuild.yaml")
    assert flag(submit, "--region") == "europe-west2"
    assert flag(submit, "--service-account") == \
        "projects/offline-check/serviceAccounts/gasforecast-build@offline-check.iam.gserviceaccount.com"
    passed = dict(pair.split("=", 1) for pair in flag(submit, "--substitutions").split(","))
    assert set(passed) <= set(cloudbuild["substitutions"]), "the build refuses an unknown substitution"
    assert passed["_UPLOADS_BUCKET"] == "u-1" and passed["_SCHEDULER"] == "cloud-scheduler"
    assert passed["_MLFLOW_TRACKING_URI"] == "http://10.10.0.23:5000"
    assert (passed["_TARGET_COLUMN"], passed["_TARGET_UNIT"]) == ("nbp", "p/therm")


BUILD_REGION_REFUSED = ("ERROR: (gcloud.builds.submit) FAILED_PRECONDITION: generic::failed_precondition: "
                        "no concurrent builds quota available to create builds")


def test_a_region_cloud_build_refuses_falls_back_to_a_documented_one(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "build", FAKE_FAIL_MATCH="* builds submit *--region=europe-west2 *",
                                FAKE_FAILURES="9", FAKE_ERROR=BUILD_REGION_REFUSED)
    assert done.returncode == 0, done.stderr
    assert [flag(argv, "--region") for argv in _submits(calls)] == ["europe-west2", "europe-west1"]
    assert "Cloud Build refused to build in europe-west2" in done.stdout
    assert "export BUILD_REGION=europe-west1" in done.stdout
    # What was deployed where does not change: the build still deploys to REGION.
    assert all("_REGION=europe-west2," in flag(argv, "--substitutions") for argv in _submits(calls))


@pytest.mark.parametrize(("region", "fallback"), [("us-east4", "us-central1"), ("asia-northeast1", "asia-east1"),
                                                  ("australia-southeast2", "australia-southeast1")])
def test_the_fallback_is_the_nearest_documented_region(fake_gcloud, region, fallback):
    done, calls = run_with_fake(fake_gcloud, "full", "build", REGION=region, FAKE_FAIL_MATCH=f"*--region={region} *",
                                FAKE_FAILURES="9", FAKE_ERROR=BUILD_REGION_REFUSED)
    assert done.returncode == 0, done.stderr
    assert [flag(argv, "--region") for argv in _submits(calls)] == [region, fallback]


def test_a_failed_build_is_not_retried_elsewhere(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "build", FAKE_FAIL_MATCH="* builds submit *", FAKE_FAILURES="9",
                                FAKE_ERROR='ERROR: (gcloud.builds.submit) build 1234 completed with status "FAILURE"')
    assert done.returncode != 0
    assert len(_submits(calls)) == 1
    assert 'status "FAILURE"' in done.stderr and "refused to build" not in done.stdout


# ---- Arguments and names -----------------------------------------------------------------------

def test_unknown_argument_is_refused():
    done = run_bootstrap("--dry-run", "everything")
    assert done.returncode == 2
    assert "unknown argument" in done.stderr


def test_names_follow_the_environment():
    done = run_bootstrap("--dry-run", "storage", "pubsub",
                         env={"PROJECT_ID": "p1", "DATA_BUCKET": "p1-data", "UPLOADS_BUCKET": "p1-uploads",
                              "RETRAIN_TOPIC": "retrain-x"})
    assert "storage buckets create gs://p1-data" in done.stdout
    assert "storage buckets create gs://p1-uploads" in done.stdout
    assert "pubsub topics create retrain-x-dead-letter" in done.stdout
    assert "gasforecast-data" not in done.stdout and "gasforecast-uploads" not in done.stdout


def test_the_plan_never_carries_a_password(bootstrap_plan):
    assert "--password" not in bootstrap_plan
    assert "sql users create mlflow --instance=gasforecast-mlflow-db --flags-file=-" in bootstrap_plan
