"""Every gcloud command we ship (build, bootstrap, docs) is accepted by the installed Google Cloud CLI.

Nothing here reaches a server: the parser check never runs a command, and the cross-check runs the
real CLI without an account, with every network path ending on loopback (see gcloud_offline.py);
both fail if gcloud so much as tries to leave loopback.
"""

from __future__ import annotations

import time

import pytest
from deploy_commands import (
    BOOTSTRAP_PHASES,
    build_values,
    cloudbuild_gcloud_commands,
    doc_gcloud_commands,
    doc_variables,
    plan_commands,
    run_bootstrap,
    run_teardown,
)
from gcloud_offline import parse_all, run_all, run_one

DOCS = ("gcp-setup.md", "operations.md", "security.md", "costs.md", "architecture.md", "configuration.md")


@pytest.fixture(scope="module")
def shipped_commands(repo, cloudbuild, bootstrap_plan) -> dict[str, list[list[str]]]:
    """Every gcloud argv we ship, by where it comes from."""
    # The names a reader exports in step 1 of the setup guide hold for every page.
    variables = doc_variables((repo / "docs" / "gcp-setup.md").read_text(encoding="utf-8"))
    cloud_scheduler = run_bootstrap("--dry-run", "--scheduler=cloud-scheduler", *BOOTSTRAP_PHASES,
                                    env={"PROJECT_ID": "offline-check"})
    assert cloud_scheduler.returncode == 0, cloud_scheduler.stderr
    teardown = run_teardown("--dry-run", env={"PROJECT_ID": "offline-check"})
    assert teardown.returncode == 0, teardown.stderr
    commands = {
        "cloudbuild.yaml": [c.argv for c in cloudbuild_gcloud_commands(cloudbuild, build_values(cloudbuild))],
        "scripts/bootstrap.sh --dry-run": plan_commands(bootstrap_plan),
        "scripts/bootstrap.sh --dry-run --scheduler=cloud-scheduler": plan_commands(cloud_scheduler.stdout),
        "scripts/teardown.sh --dry-run": plan_commands(teardown.stdout),
    }
    for name in DOCS:
        path = repo / "docs" / name
        commands[f"docs/{name}"] = doc_gcloud_commands(path.read_text(encoding="utf-8"), variables)
    return commands


def test_there_are_commands_to_check(shipped_commands):
    assert len(shipped_commands["cloudbuild.yaml"]) >= 6
    assert len(shipped_commands["scripts/bootstrap.sh --dry-run"]) >= 60
    # Every kind of command this round added is among them.
    plans = [" ".join(argv) for source, argvs in shipped_commands.items() if "bootstrap" in source for argv in argvs]
    for expected in ("iam roles create gasforecastTriggerSettings", "iam roles update gasforecastTriggerSettings",
                     "iam roles undelete gasforecastTriggerSettings", "--lifecycle-file=",
                     "logging metrics create", "alpha monitoring policies create --policy-from-file=",
                     "monitoring uptime create", "beta monitoring channels create", "scheduler jobs create pubsub",
                     "--condition=^;^title=", "sql users create mlflow --instance=gasforecast-mlflow-db --flags-file=-",
                     "storage buckets remove-iam-policy-binding", "--region=europe-west2", "--region=europe-west1",
                     "builds submit /", "artifacts repositories set-cleanup-policies gasforecast ",
                     "artifacts repositories add-iam-policy-binding gasforecast ",
                     "projects remove-iam-policy-binding ", "build-sources-lifecycle.json",
                     "sql instances patch gasforecast-mlflow-db --tier=db-f1-micro",
                     "compute instances set-machine-type gasforecast-mlflow", "--role=roles/storage.objectUser --all",
                     "pubsub subscriptions update retrain-requests-dead-letter-sub --message-retention-duration=7d"):
        assert any(expected in line for line in plans), expected
    assert ["functions", "deploy", "gasforecast-ingest"] in [argv[:3] for argv in shipped_commands["cloudbuild.yaml"]
                                                             if "--trigger-event-filters=bucket=gasforecast-uploads" in argv]
    build = [" ".join(argv) for argv in shipped_commands["cloudbuild.yaml"]]
    for expected in ("eventarc triggers describe gasforecast-train-trigger", "--format=value(eventTrigger.trigger)",
                     "pubsub subscriptions update eventarc-r-gasforecast-train-sub --ack-deadline=600"):
        assert any(expected in line for line in build), expected
    assert len(shipped_commands["scripts/teardown.sh --dry-run"]) >= 80
    assert len(shipped_commands["docs/gcp-setup.md"]) >= 3
    assert len(shipped_commands["docs/operations.md"]) >= 3


def test_every_command_parses_with_the_installed_cli(sdk, shipped_commands):
    # Each distinct command once: calliope's parser keeps some flag state between parses in one process
    # (a second identical `compute instances create ... --metadata=...` is refused as a repeated flag).
    seen: set[tuple[str, ...]] = set()
    everything = []
    for source, argvs in shipped_commands.items():
        for argv in argvs:
            if tuple(argv) not in seen:
                seen.add(tuple(argv))
                everything.append((source, argv))
    began = time.monotonic()
    report = parse_all(sdk, [argv for _, argv in everything])
    elapsed = time.monotonic() - began
    rejected = [
        f"{source}: gcloud {' '.join(result.argv)}\n    {result.error}"
        for (source, _), result in zip(everything, report.results, strict=True)
        if not result.ok
    ]
    assert not rejected, "\n".join(rejected)
    assert report.blocked == []
    print(f"parsed {len(everything)} gcloud commands in {elapsed:.1f} s (CLI load {report.load_seconds:.1f} s)")


def test_a_wrong_flag_or_value_is_caught(sdk):
    """The check can fail: unknown flags, bad values and bare command groups are all rejected."""
    report = parse_all(
        sdk,
        [
            ["functions", "deploy", "x", "--gen2", "--region=europe-west2", "--retries"],
            ["run", "deploy", "x", "--region=europe-west2", "--concurrency=lots"],
            ["functions", "deploy", "x", "--region=europe-west2", "--trigger-topic=x"],
            ["pubsub", "topics"],
        ],
    )
    assert [r.ok for r in report.results] == [False, False, False, False]
    assert "unrecognized arguments: --retries" in report.results[0].error
    assert "--concurrency" in report.results[1].error


def test_the_parser_reads_the_cleanup_policy_file(sdk, tmp_path, repo):
    """gcloud parses --policy of set-cleanup-policies while parsing arguments: the shipped file is
    checked along with the command, and a malformed one is refused."""
    bad = tmp_path / "policies.json"
    bad.write_text('[{"name": "x", "action": {"type": "Delete"}}]')  # neither condition nor mostRecentVersions
    command = ["artifacts", "repositories", "set-cleanup-policies", "r", "--location=europe-west2", "--no-dry-run"]
    good = repo / "deploy" / "storage" / "image-cleanup-policies.json"
    report = parse_all(sdk, [[*command, f"--policy={good}"], [*command, f"--policy={bad}"]])
    assert [r.ok for r in report.results] == [True, False]
    assert "condition" in report.results[1].error


def test_the_real_cli_agrees_and_stops_for_lack_of_credentials(sdk, shipped_commands):
    """Cross-check with real gcloud processes (two at a time): none fails argument parsing (exit 2),
    each stops at the credential check, and none tries to reach past loopback."""
    # `auth` and `config` work without an account, so they cannot show the credential stop.
    commands = [argv for argvs in shipped_commands.values() for argv in argvs
                if not {"auth", "config"} & set(argv[:3])]
    # One command per product and resource (e.g. `pubsub subscriptions`) keeps this near half a
    # minute; the parser check above already covers every line.
    by_resource: dict[tuple[str, ...], list[str]] = {}
    for argv in commands:
        words = [a for a in argv if not a.startswith("-")]
        by_resource.setdefault(tuple(words[:2]), argv)
    sample = list(by_resource.values())
    began = time.monotonic()
    results = run_all(sdk, sample, workers=2)
    elapsed = time.monotonic() - began
    problems = [
        f"gcloud {' '.join(r.argv)} -> exit {r.returncode}\n{r.stderr[-600:]}"
        for r in results
        if r.parse_failed or not r.stopped_for_credentials or r.blocked
    ]
    assert not problems, "\n".join(problems)
    print(f"ran {len(sample)} real gcloud commands in {elapsed:.1f} s, slowest {max(r.seconds for r in results):.1f} s")


def test_the_real_cli_rejects_a_wrong_flag_with_exit_code_2(sdk):
    [result] = run_all(sdk, [["pubsub", "topics", "create", "retrain-requests", "--retention=7d"]])
    assert result.parse_failed
    assert "unrecognized arguments" in result.stderr
    assert result.blocked == []


def test_the_guard_catches_gclouds_metadata_probe(sdk):
    """Without the two metadata settings, gcloud (no account) looks up metadata.google.internal;
    the guard refuses it and reports it, so `blocked == []` above is a real observation."""
    result = run_one(sdk, ["pubsub", "topics", "list"], unset=("CLOUDSDK_CORE_CHECK_GCE_METADATA", "GCE_METADATA_ROOT"))
    assert any("metadata.google.internal" in line for line in result.blocked), result.stderr[-1000:]
    assert result.stopped_for_credentials
