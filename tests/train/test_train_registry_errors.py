"""Registry errors are classified by MLflow's error code and the exception chain, never by message text."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException, RestException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

from gasforecast.training.registry import error_code, is_unreachable


def _raised_from(cause: BaseException, message: str) -> MlflowException:
    """What MLflow's HTTP layer raises when the request itself failed: an MlflowException raised in the except."""
    try:
        try:
            raise cause
        except Exception:
            raise MlflowException(message)  # noqa: B904 - MLflow chains it implicitly like this
    except MlflowException as exc:
        return exc


@pytest.mark.parametrize("exc, unreachable", [
    (_raised_from(requests.ConnectionError("refused"), "API request to http://x failed"), True),
    (_raised_from(requests.Timeout("slow"), "API request to http://x failed"), True),
    (MlflowException("no server", error_code=TEMPORARILY_UNAVAILABLE), True),
    (RestException({"error_code": "INTERNAL_ERROR", "message": "database is restarting"}), True),
    # the words the old message matching looked for, in answers that are real answers
    (MlflowException("Connection 503 timed out: Max retries", error_code=INVALID_PARAMETER_VALUE), False),
    (RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "API request to ... 502"}), False),
    (ValueError("Connection refused"), False),
])
def test_unreachable_is_decided_by_code_and_cause(exc, unreachable):
    assert is_unreachable(exc) is unreachable


def test_error_code_names_mlflow_codes_only():
    assert error_code(MlflowException("x", error_code=RESOURCE_DOES_NOT_EXIST)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(RestException({"error_code": "INVALID_PARAMETER_VALUE", "message": "alias not found"})) \
        == "INVALID_PARAMETER_VALUE"
    assert error_code(KeyError("x")) is None
