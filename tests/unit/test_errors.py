"""Errors: one tree, mapped from AWS error types and statuses, with advice, surviving pickling."""

import pickle

import pytest

from agentcore_bridge import errors
from agentcore_bridge.errors import error_from_response


@pytest.mark.parametrize(
    ("status", "error_type", "cls", "retryable"),
    [
        (400, "ValidationException", errors.ServiceValidationError, False),
        (402, "ServiceQuotaExceededException", errors.QuotaExceededError, False),
        (403, "AccessDeniedException", errors.AccessDeniedError, False),
        (403, "InvalidSignatureException", errors.AccessDeniedError, False),
        (401, "UnauthorizedException", errors.AccessDeniedError, False),
        (404, "ResourceNotFoundException", errors.ResourceNotFoundError, False),
        (409, "RetryableConflictException", errors.RetryableConflictError, True),
        (409, "ConflictException", errors.ConflictError, False),
        (409, None, errors.RetryableConflictError, True),
        (424, "RuntimeClientError", errors.RuntimeClientError, False),
        (429, "ThrottlingException", errors.ThrottlingError, True),
        (500, "InternalServerException", errors.ServiceError, True),
        (503, None, errors.ServiceError, True),
        (502, None, errors.ServiceError, False),
        (504, None, errors.ServiceError, False),
        (418, None, errors.AgentCoreError, False),
        (
            429,
            "ThrottlingException:http://internal.amazon.com/coral/",
            errors.ThrottlingError,
            True,
        ),
    ],
)
def test_mapping_from_aws_type_and_status(
    status: int, error_type: str | None, cls: type, retryable: bool
) -> None:
    error = error_from_response(status, error_type, "msg", request_id="req-1")
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.request_id == "req-1"
    if error_type:
        assert error.error_type == error_type.split(":")[0]


def test_runtime_client_error_points_at_the_agent_logs() -> None:
    error = error_from_response(
        424, "RuntimeClientError", "Received error (500) from runtime.", request_id="r-9"
    )
    assert isinstance(error, errors.AgentError)
    assert "Received error (500) from runtime." in str(error)
    assert "CloudWatch" in str(error)
    assert "request_id=r-9" in str(error)


def test_type_wins_over_status_and_message_defaults() -> None:
    error = error_from_response(400, "ThrottlingException", None)
    assert isinstance(error, errors.ThrottlingError)
    assert "HTTP 400" in error.message


def test_local_validation_errors_are_value_errors() -> None:
    for cls in (
        errors.InvalidTargetError,
        errors.InvalidSessionIdError,
        errors.PayloadTooLargeError,
    ):
        assert issubclass(cls, errors.InvalidRequestError)
        assert issubclass(cls, ValueError)
    assert issubclass(errors.AgentCoreTimeoutError, TimeoutError)
    assert all(
        issubclass(getattr(errors, name), errors.AgentCoreError)
        for name in dir(errors)
        if name.endswith("Error")
        and isinstance(getattr(errors, name), type)
        and name not in ("AgentCoreError",)
    )


def test_errors_pickle_with_their_details() -> None:
    error = error_from_response(503, None, "busy", request_id="r-1", session_id="s" * 33)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is errors.ServiceError
    assert (clone.status_code, clone.request_id, clone.session_id) == (503, "r-1", "s" * 33)
    assert clone.retryable is True
    assert str(clone) == str(error)
