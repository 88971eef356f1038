"""`gasforecast retrain` and `gasforecast replay-dead-letters` end to end on the Pub/Sub emulator."""

from __future__ import annotations

import pytest

from gasforecast.cli import main
from gasforecast.platform.messaging import RetrainRequest, parse_retrain_request, publish


@pytest.fixture
def retrain_env(monkeypatch, channels):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", channels.project)
    monkeypatch.setenv("RETRAIN_TOPIC", channels.retrain_topic)
    monkeypatch.setenv("DATA_BUCKET", "data")
    return channels


def _printed_lines(capsys) -> list[str]:
    """What the command printed for people (JSON event log lines share stdout and are left out)."""
    return [line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("{")]


def test_retrain_publishes_a_contract_message_and_prints_its_id(pubsub_emulator, retrain_env, capsys):
    code = main(["retrain", "--force", "--dataset", "gs://data/curated/history.csv", "--generation", "17"])

    assert code == 0
    (message_id,) = _printed_lines(capsys)
    (message,) = pubsub_emulator.pull_all(retrain_env.retrain_check_subscription, timeout=10, count=1)
    assert message.message_id == message_id
    request = parse_retrain_request(message.data)
    assert (request.reason, request.force, request.dataset, request.generation) == (
        "manual", True, "gs://data/curated/history.csv", "17"
    )
    assert request.requested_at.endswith("Z")
    assert message.attributes == {"reason": "manual", "generation": "17"}


@pytest.mark.parametrize("argv, override, subject, cli_event", [
    (["accept", "gs://data/archive/2026/11/28/x.csv"], "accept", {"held": "gs://data/archive/2026/11/28/x.csv"},
     "ingest.accept_refused"),
    (["retire-column", "uk_gas_price", "--reason", "test"], "retire-column", {"column": "uk_gas_price"},
     "ingest.retire_refused"),
])
def test_a_refused_override_is_logged_and_published_for_the_pipelines_logs(pubsub_emulator, retrain_env, capsys,
                                                                           argv, override, subject, cli_event):
    """Issue 20.5: the refusal leaves a line on the terminal and a record the train function logs."""
    import json

    assert main(argv) == 2
    captured = capsys.readouterr()
    (line,) = [json.loads(text) for text in (captured.out + captured.err).splitlines()
               if text.startswith("{") and json.loads(text).get("event") == cli_event]
    assert line["severity"] == "WARNING" and line.items() >= subject.items() and line["error"]
    (message,) = pubsub_emulator.pull_all(retrain_env.retrain_check_subscription, timeout=10, count=1)
    assert message.message_id == line["message_id"]
    request = parse_retrain_request(message.data)
    assert (request.override, request.source, request.refused) == (override, *subject.values(), line["error"])
    assert not request.force


def test_a_refusal_that_cannot_be_published_is_said_and_logged_as_an_error(monkeypatch, retrain_env, capsys):
    import json

    monkeypatch.setenv("RETRAIN_TOPIC", "no-such-topic")
    assert main(["accept", "gs://data/archive/2026/11/28/x.csv"]) == 2
    captured = capsys.readouterr()
    assert "could not be published to no-such-topic" in captured.err
    (line,) = [json.loads(text) for text in (captured.out + captured.err).splitlines()
               if text.startswith("{") and json.loads(text).get("event") == "ingest.accept_refused"]
    assert line["severity"] == "ERROR" and "does not exist" in line["record_error"]


def test_retrain_refuses_a_dataset_that_is_not_a_gcs_uri(retrain_env, capsys):
    code = main(["retrain", "--dataset", "/tmp/history.csv"])

    assert code == 2
    assert "gs://" in capsys.readouterr().err


def test_retrain_refuses_a_dataset_the_train_function_would_refuse(retrain_env, capsys):
    code = main(["retrain", "--dataset", "gs://data/other/evil.csv"])

    assert code == 2
    assert "not the configured curated dataset gs://data/curated/history.csv" in capsys.readouterr().err


def test_replay_command_prints_one_line_per_message(pubsub_emulator, retrain_env, publisher, capsys):
    request = RetrainRequest(reason="schedule", requested_at="2026-11-26T13:00:00Z")
    dead_id = publish(publisher, retrain_env.project, retrain_env.dead_letter_topic, request.to_bytes(),
                      {**request.attributes(), "CloudPubSubDeadLetterSourceDeliveryCount": "5"})
    options = ["--subscription", retrain_env.dead_letter_subscription, "--wait", "1"]

    assert main(["replay-dead-letters", *options, "--dry-run"]) == 0
    assert _printed_lines(capsys) == [f"would replay {dead_id} reason=schedule {request.to_bytes().decode()}"]

    assert main(["replay-dead-letters", *options]) == 0
    (line,) = _printed_lines(capsys)
    (message,) = pubsub_emulator.pull_all(retrain_env.retrain_check_subscription, timeout=10, count=1)
    assert line.startswith(f"replayed {dead_id} -> {message.message_id} reason=schedule ")
    assert message.attributes == {"reason": "schedule"}


def test_replay_command_fails_on_a_missing_subscription(retrain_env, capsys):
    code = main(["replay-dead-letters", "--subscription", f"{retrain_env.retrain_topic}-nowhere", "--wait", "1"])

    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_replay_never_republishes_what_the_train_function_would_refuse(pubsub_emulator, retrain_env, publisher,
                                                                         capsys):
    evil = RetrainRequest(reason="manual", requested_at="2026-11-26T13:00:00Z", dataset="gs://data/other/evil.csv")
    ids = [publish(publisher, retrain_env.project, retrain_env.dead_letter_topic, data, {})
           for data in (evil.to_bytes(), b"[" * 100_000)]
    options = ["--subscription", retrain_env.dead_letter_subscription, "--wait", "1"]

    assert main(["replay-dead-letters", *options]) == 0
    lines = _printed_lines(capsys)
    assert sorted(line.split()[2] for line in lines) == sorted(ids)
    assert all("(left on the subscription): the train function would refuse it" in line for line in lines)
    assert any("not the configured curated dataset" in line for line in lines)
    assert any("the limit is 8,192" in line for line in lines)

    assert main(["replay-dead-letters", *options, "--discard-invalid"]) == 0
    assert all("(discarded)" in line for line in _printed_lines(capsys))
    assert main(["replay-dead-letters", *options]) == 0
    assert _printed_lines(capsys) == [f"no messages on {retrain_env.dead_letter_subscription}"]
    assert pubsub_emulator.pull_all(retrain_env.retrain_check_subscription, timeout=2) == [], "nothing replayed"


def test_retrain_names_a_series_and_refuses_an_unsafe_id_or_another_series_dataset(retrain_env, capsys):
    assert main(["retrain", "--series", "TTF"]) == 2 and "series must be a series id" in capsys.readouterr().err
    assert main(["retrain", "--series", "ttf", "--dataset", "gs://data/curated/history.csv"]) == 2
    assert "gs://data/curated/series/ttf/history.csv" in capsys.readouterr().err
