"""Alerting and storage rules as code (deploy/): every file decodes into the API message gcloud would
send, with the installed SDK's strict decoder, and says what docs/operations.md says it does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from deploy_commands import REPO, plan_commands
from gcloud_offline import DecodeRequest, decode_all

# The log events docs/operations.md#alerts names, each counted by the log-based metric and alerted on:
# those that need a person, and the overrides (issue 20.5: a person's decision against a check, refused
# ones too, is mailed to the others on the channel).
OVERRIDES = {"train.override", "train.override_refused", "train.forced", "train.force_limited",
             "train.level_guard_overridden"}
ALERTED_EVENTS = {"ingest.rejected", "ingest.held", "train.failed", "train.promotion_refused", "train.message_refused",
                  "train.promotion_completion_failed", "track_record.degraded"} | OVERRIDES
METRICS = sorted((REPO / "deploy" / "monitoring" / "metrics").glob("*.yaml"))
LIFECYCLES = sorted((REPO / "deploy" / "storage").glob("*-lifecycle.json"))


@pytest.fixture(scope="module")
def policy_files(bootstrap_plan) -> list[Path]:
    """The alert policies as the bootstrap rendered them for its plan."""
    files = [Path(arg.split("=", 1)[1]) for argv in plan_commands(bootstrap_plan)
             if argv[2:6] == ["alpha", "monitoring", "policies", "create"]
             for arg in argv if arg.startswith("--policy-from-file=")]
    assert len(files) == len(list((REPO / "deploy" / "monitoring" / "policies").glob("*.yaml"))) >= 6
    return files


@pytest.fixture(scope="module")
def policies(policy_files) -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in policy_files}


@pytest.fixture(scope="module")
def operations(repo) -> str:
    return (repo / "docs" / "operations.md").read_text(encoding="utf-8")


def test_every_file_decodes_into_its_api_message(sdk, policy_files):
    requests = [DecodeRequest(str(path), "monitoring", "v3", "AlertPolicy") for path in policy_files]
    requests += [DecodeRequest(str(path), "logging", "v2", "LogMetric") for path in METRICS]
    requests += [DecodeRequest(str(path), "storage", "v1", "Bucket.LifecycleValue", key="lifecycle") for path in LIFECYCLES]
    verdicts = decode_all(sdk, requests)
    assert len(verdicts) == len(requests) >= 9
    assert {path: error for path, error in verdicts.items() if error} == {}


def test_the_decoder_rejects_a_misspelt_field_or_value(sdk, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("displayName: x\ncombiner: EITHER\nconditionz: []\n")
    lifecycle = tmp_path / "lifecycle.json"
    lifecycle.write_text(json.dumps({"lifecycle": {"rule": [{"action": {"type": "Delete"}, "condition": {"agee": 3}}]}}))
    verdicts = decode_all(sdk, [DecodeRequest(str(policy), "monitoring", "v3", "AlertPolicy"),
                                DecodeRequest(str(lifecycle), "storage", "v1", "Bucket.LifecycleValue", key="lifecycle")])
    assert "conditionz" in verdicts[str(policy)] and "combiner" in verdicts[str(policy)]
    assert "agee" in verdicts[str(lifecycle)]


# ---- Log-based metric and alert policies -------------------------------------------------------

def test_the_metric_counts_each_alerted_event_by_name():
    [metric] = [yaml.safe_load(path.read_text()) for path in METRICS]
    assert set(re.findall(r'"([a-z_]+\.[a-z_]+)"', metric["filter"])) == ALERTED_EVENTS
    assert metric["labelExtractors"] == {"event": "EXTRACT(jsonPayload.event)"}
    assert metric["metricDescriptor"]["metricKind"] == "DELTA"


def conditions(policy: dict) -> list[dict]:
    return [condition["conditionThreshold"] for condition in policy["conditions"]]


def test_policies_are_wired_to_the_channel_and_named_for_the_project(policies):
    names = [policy["displayName"] for policy in policies.values()]
    assert len(set(names)) == len(names) and all(name.startswith("gasforecast: ") for name in names)
    for policy in policies.values():
        assert policy["notificationChannels"] == ["projects/offline-check/notificationChannels/CHANNEL_ID"]
        assert policy["userLabels"] == {"app": "gasforecast"}
        assert policy["severity"] in {"CRITICAL", "ERROR", "WARNING"}
        assert "offline-check" in policy["documentation"]["subject"]
        assert "docs/operations.md" in policy["documentation"]["content"]


def test_every_alerted_event_has_a_condition(policies):
    metric_type = f'metric.type="logging.googleapis.com/user/{METRICS[0].stem}"'
    alerted: set[str] = set()
    for policy in policies.values():
        for condition in conditions(policy):
            if metric_type in condition["filter"]:
                alerted |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', condition["filter"]))
                # A counter has no points while nothing happens: that must close, not hold, an incident.
                assert condition["evaluationMissingData"] == "EVALUATION_MISSING_DATA_INACTIVE"
    assert alerted == ALERTED_EVENTS


def _threshold(policies: dict, name: str) -> dict:
    [condition] = conditions(policies[name])
    return condition


def test_thresholds(policies):
    """The numbers docs/operations.md#alerts states."""
    failing = _threshold(policies, "trainings-failing.yaml")
    assert (failing["aggregations"][0]["alignmentPeriod"], failing["thresholdValue"]) == ("3600s", 2)
    events = _threshold(policies, "pipeline-events.yaml")
    assert events["thresholdValue"] == 0 and events["aggregations"][0]["groupByFields"] == ["metric.label.event"]
    dead = _threshold(policies, "dead-letters.yaml")
    assert 'subscription_id="retrain-requests-dead-letter-sub"' in dead["filter"]
    assert "num_undelivered_messages" in dead["filter"] and dead["thresholdValue"] == 0
    for name, duration in (("service-down.yaml", "300s"), ("service-degraded.yaml", "600s"), ("data-stale.yaml", "900s")):
        uptime = _threshold(policies, name)
        assert "uptime_check/check_passed" in uptime["filter"]
        assert uptime["aggregations"][0]["crossSeriesReducer"] == "REDUCE_COUNT_FALSE"
        assert uptime["thresholdValue"] == 1 and uptime["duration"] == duration, name


def test_each_uptime_policy_watches_its_own_check(policies, bootstrap_plan):
    checks = {argv[5]: argv for argv in plan_commands(bootstrap_plan) if argv[2:5] == ["monitoring", "uptime", "create"]}
    assert set(checks) == {"gasforecast-service-up", "gasforecast-service-ready", "gasforecast-service-data-fresh"}
    for policy, check in (("service-down.yaml", "up"), ("service-degraded.yaml", "ready"), ("data-stale.yaml", "data-fresh")):
        assert f'check_id="gasforecast-service-{check}-ID"' in _threshold(policies, policy)["filter"]
    # What each check reads from the service (PLAN.md: /readyz status and data_stale).
    assert "--path=/" in checks["gasforecast-service-up"]
    assert {"--path=/readyz", "--json-path=$.status", "--matcher-content=^\"?ready\"?$"} <= set(checks["gasforecast-service-ready"])
    assert {"--path=/readyz", "--json-path=$.data_stale", "--matcher-content=false",
            "--json-path-matcher-type=exact-match"} <= set(checks["gasforecast-service-data-fresh"])


def test_every_policy_has_a_runbook_entry(policies, operations):
    alerts = operations.split("\n## Alerts", 1)[1].split("\n## ", 1)[0]
    for policy in policies.values():
        assert f"`{policy['displayName']}`" in alerts, policy["displayName"]


# ---- Bucket lifecycle --------------------------------------------------------------------------

def rules(name: str) -> list[dict]:
    return json.loads((REPO / "deploy" / "storage" / name).read_text())["lifecycle"]["rule"]


def test_data_bucket_keeps_old_versions_for_a_bounded_time_and_cools_the_archive(operations):
    data = rules("data-bucket-lifecycle.json")
    deletes = {tuple(r["condition"].get("matchesPrefix", [])): r["condition"]["daysSinceNoncurrentTime"]
               for r in data if r["action"]["type"] == "Delete" and r["condition"]["isLive"] is False}
    assert deletes == {("locks/",): 1, (): 90, ("rejected/", "held/"): 1}
    expiries = {tuple(r["condition"]["matchesPrefix"]): r["condition"]["age"]
                for r in data if r["action"]["type"] == "Delete" and r["condition"]["isLive"] is True}
    assert expiries == {("rejected/",): 30, ("held/",): 90}, "quarantined uploads do not pile up for ever"
    [cool] = [r for r in data if r["action"]["type"] == "SetStorageClass"]
    assert cool["action"]["storageClass"] == "COLDLINE"
    assert cool["condition"] == {"age": 30, "matchesPrefix": ["archive/"], "matchesStorageClass": ["STANDARD"]}
    section = operations.split("\n## Buckets and lifecycle", 1)[1].split("\n## ", 1)[0]
    for stated in ("after 1 day", "after 90 days", "Coldline after 30 days", "`rejected/` are deleted 30 days",
                   "`held/` 90 days"):
        assert stated in section, stated


def test_uploads_bucket_removes_strays(operations):
    uploads = rules("uploads-bucket-lifecycle.json")
    assert {r["action"]["type"]: r["condition"] for r in uploads} == {
        "Delete": {"age": 30}, "AbortIncompleteMultipartUpload": {"age": 1}}
    section = operations.split("\n## Buckets and lifecycle", 1)[1].split("\n## ", 1)[0]
    assert "deleted 30 days after" in section


def test_image_repositories_keep_recent_versions_and_drop_old_ones(bootstrap_plan, operations, cloudbuild):
    """Every image the build makes goes to the one repository (the functions' too, not to Cloud
    Functions' default gcf-artifacts), whose policies keep the 10 newest versions (Keep wins over
    Delete) and delete anything else after 30 days."""
    path = REPO / "deploy" / "storage" / "image-cleanup-policies.json"
    policies = {p["action"]["type"]: p for p in json.loads(path.read_text())}
    assert policies["Keep"]["mostRecentVersions"] == {"keepCount": 10}
    assert policies["Delete"]["condition"] == {"tagState": "ANY", "olderThan": "30d"}
    repositories = [argv[5] for argv in plan_commands(bootstrap_plan)
                    if argv[2:5] == ["artifacts", "repositories", "set-cleanup-policies"]
                    and f"--policy={path}" in argv and "--no-dry-run" in argv]
    assert repositories == ["gasforecast"]
    functions = [s for s in cloudbuild["steps"] if s["args"][:2] == ["functions", "deploy"]]
    assert len(functions) == 2
    for step in functions:
        assert "--docker-repository=projects/$PROJECT_ID/locations/${_REGION}/repositories/${_REPOSITORY}" in step["args"]
    section = operations.split("\n## Buckets and lifecycle", 1)[1].split("\n## ", 1)[0]
    assert "10 most recent" in section and "--docker-repository" in section


def test_uploaded_build_sources_are_deleted_after_30_days(bootstrap_plan, operations):
    assert rules("build-sources-lifecycle.json") == [{"action": {"type": "Delete"}, "condition": {"age": 30}}]
    [update] = [argv for argv in plan_commands(bootstrap_plan) if argv[2:5] == ["storage", "buckets", "update"]
                and argv[5] == "gs://offline-check_cloudbuild"]
    assert update[6] == f"--lifecycle-file={REPO / 'deploy' / 'storage' / 'build-sources-lifecycle.json'}"
    assert "_cloudbuild" in operations.split("\n## Buckets and lifecycle", 1)[1]
