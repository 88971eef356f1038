"""A refused override is an operator's decision too: it must reach the pipeline's logs, not only the terminal.

`gasforecast accept` and `gasforecast retire-column` run on the operator's machine, so their own log
lines never reach Cloud Logging. When one refuses (not a held upload, the target column, a file that
no longer passes the contract), it logs the refusal here and publishes a record on the retrain topic,
which the train function logs as `train.override_refused` and the alert metric counts.
"""

from __future__ import annotations

import sys
from typing import Any

from gasforecast.platform.config import Settings
from gasforecast.platform.logs import get_logger

CLI_EVENTS = {"accept": "ingest.accept_refused", "retire-column": "ingest.retire_refused"}
REFUSED = 2  # the exit status of a refused command


def record_refusal(settings: Settings, command: str, error: Exception, **subject: str) -> int:
    """Log and publish the refusal of `command` (an override in `messaging.OVERRIDES`) of `subject`
    (`held=<uri>` or `column=<name>`); returns the exit status. A record that cannot be published is
    said on stderr and logged as an ERROR line: the refusal itself stands."""
    from gasforecast.platform.messaging import make_publisher, publish_refused_override

    log = get_logger("gasforecast.ingestion.ingest")
    fields: dict[str, Any] = {"error": str(error), **subject}
    try:
        message_id = publish_refused_override(make_publisher(), settings.project, settings.retrain_topic, command,
                                              str(error), source=next(iter(subject.values()), None))
    except Exception as exc:  # no publisher or topic: the terminal still says what was refused
        log.error(CLI_EVENTS[command], record_error=str(exc), **fields)
        print(f"gasforecast {command}: the refusal could not be published to {settings.retrain_topic} ({exc}); "
              "it is logged here only", file=sys.stderr)
        return REFUSED
    log.warning(CLI_EVENTS[command], message_id=message_id, **fields)
    return REFUSED
