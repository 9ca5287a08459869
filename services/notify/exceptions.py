from liaison_common.web import ApiError


class NotifyError(ApiError):
    """Base of the errors notify answers on purpose."""


class NotFound(NotifyError):
    status_code = 404


class Forbidden(NotifyError):
    status_code = 403


class Conflict(NotifyError):
    status_code = 409


class Unavailable(NotifyError):
    """Kafka did not take the change, or its writer has not applied it in time: retry."""

    status_code = 503


class TooMany(NotifyError):
    """A per-token cap reached (issue 35.11): streams open, silences active."""

    status_code = 429
