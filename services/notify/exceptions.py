from typing import Any


class NotifyError(Exception):
    """Base of the errors notify answers on purpose; app.py maps each to its status code."""

    status_code = 400

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class NotFound(NotifyError):
    status_code = 404


class Forbidden(NotifyError):
    status_code = 403


class Conflict(NotifyError):
    status_code = 409
