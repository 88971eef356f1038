"""cloudbuild.yaml: parses, refers only to files that exist, and substitutes the way Cloud Build will."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from deploy_commands import (
    BUILTIN_SUBSTITUTIONS,
    UnknownSubstitution,
    build_values,
    cloudbuild_gcloud_commands,
    substitute,
    substitution_names,
)


def step(config: dict, step_id: str) -> dict:
    [found] = [s for s in config["steps"] if s["id"] == step_id]
    return found


def flags(argv: list[str]) -> dict[str, list[str]]:
    """`--name=value` and bare `--name` flags of an argv, each name with all its values."""
    found: dict[str, list[str]] = {}
    for arg in argv:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            found.setdefault(name, []).append(value)
    return found


def gcloud_step(config: dict, step_id: str, **overrides: str) -> list[str]:
    values = build_values(config, **overrides)
    [command] = [c for c in cloudbuild_gcloud_commands(config, values) if c.step_id == step_id]
    return command.argv


def test_steps_have_unique_ids_and_wait_for_known_steps(cloudbuild):
    ids = [s["id"] for s in cloudbuild["steps"]]
    assert len(ids) == len(set(ids))
    for s in cloudbuild["steps"]:
        for dependency in s.get("waitFor", []):
            assert dependency in ids[: ids.index(s["id"])], f"{s['id']} waits for unknown/later step {dependency}"


def test_every_substitution_is_defined_and_every_definition_used(cloudbuild, repo):
    """Cloud Build's default MUST_MATCH fails a build on either mismatch."""
    text = (repo / "cloudbuild.yaml").read_text(encoding="utf-8")
    body = text.split("\nsubstitutions:", 1)[1].split("\nsteps:", 1)[1]
    used = substitution_names(body)
    defined = set(cloudbuild["substitutions"])
    assert used - defined - set(BUILTIN_SUBSTITUTIONS) == set(), "used but not defined"
    assert defined - used == set(), "defined but never used"
    assert all(name.startswith("_") for name in defined), "user substitutions must start with _"


def test_bash_steps_escape_their_own_variables(cloudbuild):
    """In an inline script, a shell variable must be written $$name; $name would be substituted."""
    for s in cloudbuild["steps"]:
        if s.get("entrypoint") != "bash":
            continue
        script = s["args"][-1]
        substitute(script, build_values(cloudbuild))  # raises UnknownSubstitution
        with pytest.raises(UnknownSubstitution):
            substitute(script + " $tags", build_values(cloudbuild))


def test_referenced_files_exist(cloudbuild, repo):
    values = build_values(cloudbuild)
    referenced = ["Dockerfile", "Makefile"]
    for s in cloudbuild["steps"]:
        for arg in s.get("args", []):
            text = substitute(str(arg), values)
            referenced += re.findall(r"(?<![\w/])(?:scripts|functions|dag_airflow)/[\w./-]+", text)
    missing = [path for path in referenced if not (repo / path).exists()]
    assert not missing, missing
    assert "test-unit:" in (repo / "Makefile").read_text(encoding="utf-8")


def test_function_sources_are_assembled_before_deploy(cloudbuild):
    assemble = step(cloudbuild, "assemble-functions")["args"][-1]
    for name in ("ingest", "train"):
        source = flags(gcloud_step(cloudbuild, f"deploy-{name}"))["--source"]
        assert source == [f"build/functions/{name}"]
        assert f"scripts/assemble_function.sh functions/{name} build/functions/{name}" in assemble
        assert "assemble-functions" in step(cloudbuild, f"deploy-{name}")["waitFor"]


def _docker_tags(cloudbuild, short_sha: str) -> list[str]:
    """Run the build-image script with a stub docker and return the tags it would build."""
    script = substitute(step(cloudbuild, "build-image")["args"][-1], build_values(cloudbuild, SHORT_SHA=short_sha))
    stub = 'docker() { printf "%s\\n" "$@"; }\n'
    done = subprocess.run(["bash", "-c", stub + script], capture_output=True, text=True, check=True)
    args = done.stdout.splitlines()
    return [args[i + 1] for i, arg in enumerate(args) if arg == "--tag"]


def test_image_is_tagged_with_build_id_and_short_sha_only_when_set(cloudbuild):
    values = build_values(cloudbuild)
    image = f"{values['_REGION']}-docker.pkg.dev/{values['PROJECT_ID']}/{values['_REPOSITORY']}/{values['_IMAGE']}"
    assert _docker_tags(cloudbuild, "") == [f"{image}:{values['BUILD_ID']}"]
    assert _docker_tags(cloudbuild, "abc1234") == [f"{image}:{values['BUILD_ID']}", f"{image}:abc1234"]
    push = [substitute(a, values) for a in step(cloudbuild, "push-image")["args"]]
    assert push == ["push", "--all-tags", image]
    deployed = flags(gcloud_step(cloudbuild, "deploy-service"))["--image"]
    assert deployed == [f"{image}:{values['BUILD_ID']}"]


def test_unit_tests_gate_every_deploy(cloudbuild):
    assert step(cloudbuild, "unit-tests")["args"] == ["test-unit"]
    by_id = {s["id"]: s for s in cloudbuild["steps"]}

    def ancestors(step_id: str) -> set[str]:
        found = set()
        for parent in by_id[step_id].get("waitFor", []):
            found |= {parent} | ancestors(parent)
        return found

    for s in cloudbuild["steps"]:
        if s["id"] != "unit-tests":
            assert "unit-tests" in ancestors(s["id"]), f"{s['id']} can run before the unit tests"


def test_service_deploy_flags(cloudbuild):
    found = flags(gcloud_step(cloudbuild, "deploy-service"))
    for required in ("--service-account", "--set-env-vars", "--concurrency", "--memory", "--min-instances",
                     "--max-instances", "--allow-unauthenticated", "--region"):
        assert required in found, required
    assert env_vars(found)["DATA_BUCKET"] == build_values(cloudbuild)["_DATA_BUCKET"]


def test_the_public_service_has_no_network_path_to_mlflow(cloudbuild):
    """MLflow has no login: the public service reads the serving pointer in the data bucket instead,
    and has neither a VPC connector nor MLflow's address; the train function is the connector's only user."""
    service = flags(gcloud_step(cloudbuild, "deploy-service"))
    assert not {"--vpc-connector", "--network", "--subnet", "--vpc-egress"} & set(service)
    assert not [name for name in env_vars(service) if name.startswith("MLFLOW")]
    connected = [s["id"] for s in cloudbuild["steps"] if any(str(a).startswith("--vpc-connector=") for a in s["args"])]
    assert connected == ["deploy-train"]


def test_ingest_function_deploy_flags(cloudbuild):
    found = flags(gcloud_step(cloudbuild, "deploy-ingest"))
    values = build_values(cloudbuild)
    assert "--gen2" in found and "--retry" in found
    assert re.fullmatch(r"python3(1[1-9])", found["--runtime"][0])
    # The uploads bucket is the only one the trigger watches: nothing ingest writes can re-trigger it.
    assert sorted(found["--trigger-event-filters"]) == sorted(
        ["type=google.cloud.storage.object.v1.finalized", f"bucket={values['_UPLOADS_BUCKET']}"]
    )
    assert values["_UPLOADS_BUCKET"] != values["_DATA_BUCKET"]
    assert found["--entry-point"] == ["ingest"]
    assert env_vars(found)["UPLOADS_BUCKET"] == values["_UPLOADS_BUCKET"]
    assert env_vars(found)["DATA_BUCKET"] == values["_DATA_BUCKET"]


def test_train_function_deploy_flags(cloudbuild):
    found = flags(gcloud_step(cloudbuild, "deploy-train"))
    values = build_values(cloudbuild)
    assert "--gen2" in found and "--retry" in found
    assert found["--trigger-topic"] == [values["_RETRAIN_TOPIC"]]
    assert found["--timeout"] == ["540s"]
    assert {"TARGET_COLUMN", "TARGET_UNIT"} <= set(env_vars(found))
    assert found["--memory"] == ["2Gi"]
    assert found["--entry-point"] == ["train"]
    assert found["--vpc-connector"] == [values["_VPC_CONNECTOR"]]


# ---- Delivery settings of the triggers: set by the deploy itself --------------------------------

def _subscription_updates(cloudbuild) -> dict[str, list[str]]:
    """subscription -> its `pubsub subscriptions update` argv, as the trigger-subscriptions step runs them."""
    values = build_values(cloudbuild)
    commands = [c.argv for c in cloudbuild_gcloud_commands(cloudbuild, values) if c.step_id == "trigger-subscriptions"]
    return {argv[3]: argv for argv in commands if argv[:3] == ["pubsub", "subscriptions", "update"]}


def test_every_deploy_sets_both_trigger_subscriptions_after_the_functions(cloudbuild):
    """The subscriptions Eventarc made for the triggers (a new one whenever a trigger is recreated)
    get their ack deadline, retry and dead-letter policy from the build, after both function deploys."""
    assert set(step(cloudbuild, "trigger-subscriptions")["waitFor"]) == {"deploy-ingest", "deploy-train"}
    values = build_values(cloudbuild)
    calls = [c.argv for c in cloudbuild_gcloud_commands(cloudbuild, values) if c.step_id == "trigger-subscriptions"]
    # Each subscription is the one behind its function's trigger (the stand-in answers as Google would).
    for function in (values["_INGEST_FUNCTION"], values["_TRAIN_FUNCTION"]):
        assert ["functions", "describe", function, "--gen2", f"--region={values['_REGION']}",
                "--format=value(eventTrigger.trigger)"] in calls
        assert ["eventarc", "triggers", "describe", f"{function}-trigger", f"--location={values['_REGION']}",
                "--format=value(transport.pubsub.subscription)"] in calls
    updates = _subscription_updates(cloudbuild)
    ingest, train = (updates[f"eventarc-r-{values[name]}-sub"] for name in ("_INGEST_FUNCTION", "_TRAIN_FUNCTION"))
    timing = {"--ack-deadline": ["600"], "--min-retry-delay": ["10s"], "--max-retry-delay": ["600s"]}
    assert flags(ingest) == timing
    assert flags(train) == {**timing, "--dead-letter-topic": [values["_DEAD_LETTER_TOPIC"]],
                            "--max-delivery-attempts": ["5"]}


def test_trigger_subscriptions_wait_longer_than_the_functions_run(cloudbuild):
    """Push waits for a delivery as long as the ack deadline: it must exceed each function's timeout,
    and a delivery's lease wait plus a training must fit inside the train function's timeout."""
    from gasforecast.platform.config import Settings

    timeouts = {name: int(flags(gcloud_step(cloudbuild, f"deploy-{name}"))["--timeout"][0].removesuffix("s"))
                for name in ("ingest", "train")}
    for update in _subscription_updates(cloudbuild).values():
        deadline = int(flags(update)["--ack-deadline"][0])
        assert deadline == 600  # the most Pub/Sub allows
        assert max(timeouts.values()) < deadline
    assert timeouts["train"] == 540
    longest_training = 180  # docs/operations.md#delivery-timing: 300 s wait + training <= 180 s < 540 s
    assert Settings().train_lock_wait_seconds + longest_training < timeouts["train"]
    # The lease is renewed for at most the function's timeout: no request lasts longer (issue 20.6).
    assert Settings().train_timeout_seconds == timeouts["train"]


def test_a_trigger_without_a_subscription_fails_the_build(cloudbuild):
    values = build_values(cloudbuild)
    script = substitute(step(cloudbuild, "trigger-subscriptions")["args"][-1], values)
    stub = 'gcloud() { [[ "$*" == *eventTrigger.trigger* ]] && echo projects/p/locations/r/triggers/t; return 0; }\n'
    done = subprocess.run(["bash", "-c", stub + script], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert f"no Pub/Sub subscription behind the trigger of {values['_INGEST_FUNCTION']}" in done.stderr


# Cloud Build substitutes before bash reads a step, so some words are constants by design.
SUBSTITUTED_CONSTANTS = "SC2157,SC2194"


def test_bash_steps_pass_shellcheck(cloudbuild):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
    values = build_values(cloudbuild)
    scripts = {s["id"]: substitute(s["args"][-1], values) for s in cloudbuild["steps"] if s.get("entrypoint") == "bash"}
    assert "trigger-subscriptions" in scripts
    for step_id, script in scripts.items():
        done = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", f"--exclude={SUBSTITUTED_CONSTANTS}",
                               "-"], input=script, capture_output=True, text=True)
        assert done.returncode == 0, f"{step_id}:\n{done.stdout}"


def test_dag_is_imported_into_the_composer_environment(cloudbuild):
    argv = gcloud_step(cloudbuild, "upload-dag")
    assert argv[:5] == ["composer", "environments", "storage", "dags", "import"]
    assert flags(argv)["--source"] == ["dag_airflow/gasforecast_retrain_schedule.py"]
    assert flags(argv)["--environment"] == [build_values(cloudbuild)["_COMPOSER_ENV"]]


def test_with_cloud_scheduler_the_build_needs_no_composer(cloudbuild):
    values = build_values(cloudbuild, _SCHEDULER="cloud-scheduler")
    commands = cloudbuild_gcloud_commands(cloudbuild, values)
    assert [c for c in commands if "composer" in c.argv] == []
    assert {c.step_id for c in commands} >= {"deploy-service", "deploy-ingest", "deploy-train"}


def test_an_unknown_scheduler_fails_the_build(cloudbuild):
    with pytest.raises(AssertionError, match="must be composer or cloud-scheduler"):
        cloudbuild_gcloud_commands(cloudbuild, build_values(cloudbuild, _SCHEDULER="cron"))


def env_vars(found: dict[str, list[str]]) -> dict[str, str]:
    [value] = found["--set-env-vars"]
    return dict(pair.split("=", 1) for pair in value.split(","))


# Settings a deployment chooses; each must reach the part that reads it (docs/configuration.md).
CHOSEN = {
    "deploy-service": {"DATA_BUCKET", "TARGET_LABEL"},
    "deploy-ingest": {"UPLOADS_BUCKET", "DATA_BUCKET", "RETRAIN_TOPIC", "TARGET_COLUMN"},
    "deploy-train": {"DATA_BUCKET", "RETRAIN_TOPIC", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT", "MODEL_NAME",
                     "TARGET_COLUMN", "TARGET_UNIT", "TARGET_LABEL", "TARGET_PRODUCT", "DATA_SOURCE", "DATA_SYNTHETIC"},
}


@pytest.mark.parametrize("step_id", sorted(CHOSEN))
def test_every_setting_the_build_sets_is_a_substitution(cloudbuild, step_id):
    """--set-env-vars replaces a part's environment at each deploy: a value written into the build
    would undo a user's change at the next build, so each comes from a substitution."""
    [raw] = [arg for arg in step(cloudbuild, step_id)["args"] if arg.startswith("--set-env-vars=")]
    pairs = dict(pair.split("=", 1) for pair in raw.removeprefix("--set-env-vars=").split(","))
    assert CHOSEN[step_id] <= set(pairs)
    for name, value in pairs.items():
        assert re.fullmatch(r"\$\{_[A-Z_]+\}|\$PROJECT_ID", value), f"{name}={value} is not a substitution"
    # A comma in a value would split the list: the defaults have none, docs/configuration.md says so.
    values = build_values(cloudbuild)
    assert not [name for name in pairs if "," in substitute(pairs[name], values)]
