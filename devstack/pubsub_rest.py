"""Small helpers over the Pub/Sub emulator's REST API, for tests and the demo to look inside topics."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class PulledMessage:
    data: bytes
    attributes: dict[str, str]
    message_id: str


def pull(host: str, subscription_path: str, max_messages: int = 100, ack: bool = True) -> list[PulledMessage]:
    response = requests.post(
        f"http://{host}/v1/{subscription_path}:pull",
        json={"maxMessages": max_messages, "returnImmediately": True},
        timeout=10,
    )
    response.raise_for_status()
    received = response.json().get("receivedMessages", [])
    if ack and received:
        requests.post(
            f"http://{host}/v1/{subscription_path}:acknowledge",
            json={"ackIds": [m["ackId"] for m in received]},
            timeout=10,
        ).raise_for_status()
    return [
        PulledMessage(
            base64.b64decode(m["message"].get("data", "")),
            m["message"].get("attributes", {}),
            m["message"]["messageId"],
        )
        for m in received
    ]


def pull_until(host: str, subscription_path: str, count: int, timeout: float) -> list[PulledMessage]:
    """Pull (and ack) until `count` messages arrived or `timeout` passed; return what arrived."""
    messages: list[PulledMessage] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        batch = pull(host, subscription_path)
        messages.extend(batch)
        if not batch:
            time.sleep(0.2)
    return messages
