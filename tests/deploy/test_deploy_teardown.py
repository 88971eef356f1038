"""scripts/teardown.sh: the dry run prints every delete without calling gcloud; a real run (against
the stand-in gcloud of deploy_commands) deletes only what it finds, asks first, and goes on past a
failed delete. That it removes everything the bootstrap creates, in the reverse order, is checked in
test_deploy_setup_guide.py; gcloud's parser checks its plan in test_deploy_gcloud_commands.py."""

from __future__ import annotations

from deploy_commands import plan_commands, run_teardown, run_with_fake


def deletes(calls: list[list[str]]) -> list[list[str]]:
    return [argv for argv in calls if {"delete", "rm", "remove-iam-policy-binding"} & set(argv)]


def test_dry_run_prints_every_delete_and_never_calls_gcloud(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "--dry-run", script="teardown.sh")
    assert done.returncode == 0, done.stderr
    assert calls == []
    assert done.stdout.rstrip().endswith("# dry run: nothing was changed")
    assert len(deletes(plan_commands(done.stdout))) >= 40


def test_it_asks_for_the_project_id_before_deleting_anything(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", script="teardown.sh", stdin="yes\n")
    assert done.returncode == 2 and "not confirmed: nothing was deleted" in done.stderr
    assert calls == []
    done, calls = run_with_fake(fake_gcloud, "full", "mlflow", script="teardown.sh", stdin="offline-check\n")
    assert done.returncode == 0, done.stderr
    assert [argv[2:5] for argv in deletes(calls)] == [["compute", "instances", "delete"]]


def test_a_full_project_gets_every_delete_of_the_plan_in_its_order(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "--yes", script="teardown.sh",
                                FAKE_BINDINGS="roles/run.admin,serviceAccount:gasforecast-build@offline-check.iam.gserviceaccount.com")
    assert done.returncode == 0, done.stderr
    plan = run_teardown("--dry-run", env={"PROJECT_ID": "offline-check"})
    planned = [argv[2:5] for argv in deletes(plan_commands(plan.stdout))]
    assert [argv[2:5] for argv in deletes(calls)] == planned
    # Project-level bindings are removed as the listing names them, whatever their condition.
    revoked = [argv for argv in calls if "remove-iam-policy-binding" in argv]
    assert revoked and all("--member=serviceAccount:gasforecast-build@offline-check.iam.gserviceaccount.com" in argv
                           and "--role=roles/run.admin" in argv and "--all" in argv for argv in revoked)


def test_an_empty_project_deletes_nothing(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "empty", "--yes", script="teardown.sh")
    assert done.returncode == 0, done.stderr
    assert deletes(calls) == []


def test_a_failed_delete_is_reported_and_the_rest_goes_on(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "--yes", "network", script="teardown.sh",
                                FAKE_FAIL_MATCH="* vpc-peerings delete *", FAKE_FAILURES="9",
                                FAKE_ERROR="ERROR: FAILED_PRECONDITION: Producer services are still using this connection")
    assert done.returncode == 1
    assert "1 deletes failed" in done.stderr and "vpc-peerings delete" in done.stderr
    assert deletes(calls)[-1][2:5] == ["compute", "networks", "delete"]


def test_a_role_already_deleted_is_left_alone(fake_gcloud):
    done, calls = run_with_fake(fake_gcloud, "full", "--yes", "identities", script="teardown.sh", FAKE_ROLE_DELETED="1")
    assert done.returncode == 0, done.stderr
    assert not [argv for argv in calls if argv[2:5] == ["iam", "roles", "delete"]]
    assert [argv for argv in calls if argv[2:5] == ["iam", "service-accounts", "delete"]]


def test_unknown_argument_is_refused():
    done = run_teardown("--dry-run", "everything", env={"PROJECT_ID": "p"})
    assert done.returncode == 2 and "unknown argument" in done.stderr
