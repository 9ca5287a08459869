from liaison_common.web import ApiError


class ConsoleError(ApiError):
    """Base of the errors the console answers on purpose."""


class UpstreamUnavailable(ConsoleError):
    """Notify or the registry did not answer: the page says so instead of failing."""

    status_code = 503
