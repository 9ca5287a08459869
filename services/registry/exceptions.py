from liaison_common.web import ApiError


class RegistryError(ApiError):
    """Base of every error the registry answers on purpose."""


class NotFound(RegistryError):
    status_code = 404


class Conflict(RegistryError):
    status_code = 409


class InvalidLinks(RegistryError):
    """A write names entities that do not exist; detail is a list of field errors."""

    status_code = 422


class Forbidden(RegistryError):
    status_code = 403
