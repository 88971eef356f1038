"""Issue 4 through the real stack: concurrent uploads all land, bad files are quarantined whole."""

from __future__ import annotations

import hashlib
import json
import uuid

from devstack.processes import wait_for
from gasforecast import dataset
from gasforecast.messaging import parse_retrain_request
from gasforecast.sample import synthetic_history, to_csv_bytes
from tests.stack_helpers import data_bucket


def _stored_digests(bucket, prefixes=("archive/", "rejected/")) -> set[str]:
    return {hashlib.sha256(bucket.read(name).data).hexdigest()
            for prefix in prefixes for name in bucket.list_names(prefix)}


def test_ten_concurrent_increments_all_land_with_one_message_each(running_stack, settings, pubsub_emulator):
    audit = pubsub_emulator.make_pull_subscription(settings.retrain_topic, f"audit-{uuid.uuid4().hex[:8]}")
    history = synthetic_history(50, start="2031-01-01", seed=5)  # dates no other test uses
    files = {f"burst-{i:02d}.csv": to_csv_bytes(history.iloc[i * 5:(i + 1) * 5]) for i in range(10)}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda item: running_stack.upload(*item), files.items()))

    messages = pubsub_emulator.pull_all(audit, timeout=120, count=10)
    sources = sorted(parse_retrain_request(m.data).source.rsplit("/", 1)[-1] for m in messages)
    assert sources == sorted(files)
    assert all(m.attributes["reason"] == "upload" for m in messages)
    assert pubsub_emulator.pull_all(audit, timeout=3) == [], "no second message for any upload"

    bucket = data_bucket(running_stack)
    curated = dataset.read_curated(bucket.read(settings.curated_object).data)
    expected = history.set_index("date")[settings.target_column]
    got = curated.loc[list(expected.index), settings.target_column]
    assert list(got.round(3)) == list(expected.round(3))
    digests = _stored_digests(bucket)
    assert {hashlib.sha256(data).hexdigest() for data in files.values()} <= digests


def test_a_bad_file_is_quarantined_whole_and_nothing_is_published(running_stack, settings, pubsub_emulator):
    audit = pubsub_emulator.make_pull_subscription(settings.retrain_topic, f"audit-{uuid.uuid4().hex[:8]}")
    bad = b"<html><body>502 Bad Gateway</body></html>\n"
    name = f"odd name ..{uuid.uuid4().hex[:6]} é.csv"
    running_stack.upload(name, bad)
    bucket = data_bucket(running_stack)
    digest = hashlib.sha256(bad).hexdigest()
    wait_for(lambda: digest in _stored_digests(bucket, ("rejected/",)), 60, "the bad file in rejected/")
    reports = [json.loads(bucket.read(n).data) for n in bucket.list_names("rejected/") if n.endswith(".report.json")]
    mine = [r for r in reports if name in json.dumps(r, ensure_ascii=False)]
    assert mine and mine[0]["errors"], "a readable report names what is wrong"
    assert pubsub_emulator.pull_all(audit, timeout=3) == []
