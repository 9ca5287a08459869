from typing import Any


class RegistryError(Exception):
    """Base of every error the registry answers on purpose; routes map each to a status code."""

    status_code = 400

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class NotFound(RegistryError):
    status_code = 404


class Conflict(RegistryError):
    status_code = 409


class InvalidLinks(RegistryError):
    """A write names entities that do not exist; detail is a list of field errors."""

    status_code = 422
