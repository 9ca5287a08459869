"""FastAPI glue every service shares: auth, errors, body limits, metrics, health."""

import json
import logging
import re
import time
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from mongoengine.errors import OperationError
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liaison_common import tokens
from liaison_common.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition

log = logging.getLogger(__name__)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ErrorRead(BaseModel):
    """Every error a service answers: `detail` is a message, or a list of field errors."""

    detail: Any


# The error answers a Liaison call can give, described once. Each operation declares the ones
# it can really give (answers(...)), and the fault suite's schemathesis run checks every status
# code it meets against that declaration: a code missing here is a finding, not noise.
ERROR_ANSWERS: dict[int, dict[str, Any]] = {
    400: {"model": ErrorRead, "description": "the body could not be read at all (not UTF-8 text)"},
    401: {"model": ErrorRead, "description": "missing, unknown, revoked or expired token"},
    403: {"model": ErrorRead, "description": "the token may not do this"},
    404: {"model": ErrorRead, "description": "no such thing"},
    409: {"model": ErrorRead, "description": "conflicts with the current state"},
    413: {"model": ErrorRead, "description": "request body too large"},
    422: {"model": ErrorRead, "description": "a field or parameter is wrong (named in detail)"},
    429: {"model": ErrorRead, "description": "a per-token cap reached (streams open, silences active)"},
    503: {"description": "a dependency (Kafka, the database) is unavailable; retry after Retry-After"},
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers one operation can give, for its `responses=`."""
    return {code: ERROR_ANSWERS[code] for code in sorted(codes)}


# What any request may meet before it reaches an operation: the body limit (413) and the check
# that refuses operators in query parameters (422). Given to each service's FastAPI(responses=).
ANY_REQUEST = answers(413, 422)
# An authenticated call that reads: no token (401), a token that may not (403), the token or
# the data unreadable while the database is away (503).
AUTHENTICATED = (401, 403, 503)
# A call with a JSON body: one that is not text at all is a 400.
WITH_BODY = (400,)


def field_error(loc: list[str | int], msg: str, error_type: str = "value_error") -> dict[str, Any]:
    """One error in FastAPI's own shape, so clients parse every 422 the same way."""
    return {"loc": loc, "msg": msg, "type": error_type}


class ApiError(Exception):
    """An error a service answers on purpose: `status_code` and `{"detail": ...}`.

    Each service's own base error (exceptions.py) derives from it; install_common answers all.
    """

    status_code = 400

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class UnprocessableError(HTTPException):
    """422 naming the fields at fault."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(status_code=422, detail=errors)


class BodySizeLimit:
    """Refuses bodies over the limit with 413, before anything reads them into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                too_large = True
                raise _BodyTooLarge
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400: answer 413 instead.
            nonlocal replaced
            if too_large:
                if not replaced:
                    replaced = True
                    await self._too_large(send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
            return
        except Exception:
            # Middleware that reads the body in a task group hands the error on wrapped in an
            # ExceptionGroup (a streamed body over the limit was a 500): the flag says what it was.
            if not too_large:
                raise
            if not replaced:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": [field_error(["body"], f"request body larger than {self.max_bytes} bytes")]},
            status_code=413,
        )
        await response({"type": "http"}, _empty_receive, send)


class RequestMetrics:
    """Counts each request and times it to the start of its answer (a stream is counted when it
    starts, not when it ends), by the route's template: bounded labels, whatever the path."""

    def __init__(self, app: ASGIApp, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            template = getattr(scope.get("route"), "path", "unmatched")
            # Any token a client sends as a method would make a new series: bound the label.
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not recorded:  # raised before it answered: the server's error handler answers 500
                record(500)


class QueryOperatorGuard:
    """Every query value reaches the database as a plain string already; this names the attempt
    to smuggle an operator (422) instead of quietly ignoring an unknown parameter."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            errors = operator_in_query(QueryParams(scope["query_string"]))
            if errors:
                await JSONResponse({"detail": errors}, status_code=422)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def operator_in_query(query_params: Any) -> list[dict[str, Any]]:
    """Query parameters that smuggle a MongoDB operator or path: `a[$ne]=`, `$where=`, `a.b=`,
    or a value such as `$ne` or `{"$gt": ""}`. No Liaison call takes any such thing."""
    errors = []
    for name, value in query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            # PostgreSQL (under FerretDB) stores no NUL character: refuse it by name, not as a 500.
            errors.append(field_error(["query", name.replace("\x00", "")], "NUL characters are not accepted"))
        elif any(mark in name for mark in ("$", "[", "]", ".")):
            errors.append(
                field_error(["query", name], "operators and dotted paths are not accepted in names")
            )
        elif value.lstrip().startswith("$") or (value.lstrip().startswith("{") and "$" in value):
            errors.append(field_error(["query", name], "operators are not accepted in values"))
    return errors


_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\x00|%00|%[eE][dD]%[aAbB]")


class TextGuard:
    """Refuses text that no store keeps (issue 35.3-4): a NUL character (PostgreSQL under FerretDB
    stores none) or a lone surrogate (not UTF-8) anywhere in a JSON or form body is a 422 naming
    the field, before any route, index or store sees it: never half a change, never a 500."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        errors = unstorable_text(body, dict(scope.get("headers") or []).get(b"content-type", b""))
        if errors:
            await JSONResponse({"detail": errors}, status_code=422)(scope, _empty_receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def unstorable_text(body: bytes, content_type: bytes) -> list[dict[str, Any]]:
    """Each field of the body whose text holds a NUL or a lone surrogate (cheap when none does)."""
    if not _SUSPECT.search(body):
        return []
    if b"json" in content_type:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return []  # the route answers what is wrong with it
        return [field_error(["body", *path], why) for path, why in _bad_strings(data, [])]
    if b"form" in content_type:
        errors = []
        for pair in body.split(b"&"):
            name, _, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"="))
            field = name.decode("utf-8", "replace")
            try:
                why = _why_unstorable(value.decode("utf-8"))
            except UnicodeDecodeError:
                why = "text that is not UTF-8 (a lone surrogate?) is not accepted"
            if why:
                errors.append(field_error(["body", field], why))
        return errors
    return []


def _bad_strings(value: Any, path: list[str | int]) -> list[tuple[list[str | int], str]]:
    if isinstance(value, str):
        why = _why_unstorable(value)
        return [(path, why)] if why else []
    found: list[tuple[list[str | int], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            key_why = _why_unstorable(key)
            if key_why:
                found.append(([*path, key.encode("utf-8", "replace").decode()], key_why))
            found += _bad_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _bad_strings(item, [*path, index])
    return found


def _why_unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters (\\u0000) are not accepted in text"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "lone surrogates (\\ud800-\\udfff) are not accepted in text"
    return None


class _BodyTooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


def install_common(app: FastAPI, *, service: str, max_body_bytes: int, guard_text: bool = True) -> None:
    """Metrics, /metrics, body limits and the error answers every service gives."""

    # Plain ASGI middleware, not @app.middleware("http"): Starlette's BaseHTTPMiddleware runs
    # each request through a task group and memory streams, a fifth of ingest's CPU per report.
    # Added innermost first: the query check, then the body limit, then the metrics inside them.
    app.add_middleware(RequestMetrics, service=service)
    if guard_text:  # ingest stores no text, and answers a batch item by item (services/ingest)
        app.add_middleware(TextGuard)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(QueryOperatorGuard)

    @app.exception_handler(RecursionError)
    async def nested_too_deeply(request: Request, exc: RecursionError) -> JSONResponse:
        # json.loads of a body of thousands of nested brackets: bad input, not a server error.
        return JSONResponse(
            {"detail": [field_error(["body"], "the body is nested too deeply", "json_invalid")]},
            status_code=422,
        )

    @app.exception_handler(OperationFailure)
    @app.exception_handler(OperationError)  # mongoengine's wrapper of the same
    async def refused_by_the_database(request: Request, exc: Exception) -> JSONResponse:
        # Text with a NUL character (\u0000) in a body: PostgreSQL under FerretDB cannot store it.
        if "22P05" in str(exc) or "unsupported Unicode escape" in str(exc):
            detail = [field_error(["body"], "NUL characters (\\u0000) are not accepted in text")]
            return JSONResponse({"detail": detail}, status_code=422)
        log.error("database refused an operation: %s", exc)
        return JSONResponse(
            {"detail": "the database refused the operation"}, status_code=503, headers={"Retry-After": "5"}
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(ServerSelectionTimeoutError)
    @app.exception_handler(ConnectionFailure)
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": "the database is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status_code=401,
            detail="missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def unknown_token() -> HTTPException:
    return HTTPException(
        status_code=401, detail="unknown, revoked or expired token", headers={"WWW-Authenticate": "Bearer"}
    )


def authenticate_request(request: Request, *, admin_token: str) -> tokens.Principal:
    principal = tokens.authenticate(bearer_token(request), admin_token=admin_token)
    if principal is None:
        raise unknown_token()
    return principal


def require_admin(principal: tokens.Principal) -> None:
    if not principal.is_admin:
        raise HTTPException(status_code=403, detail="this call needs the admin token")


async def current_principal(request: Request) -> tokens.Principal:
    """Who the request's bearer token stands for (401 otherwise): the one authentication every
    service uses. A token answered in the last seconds is answered from memory; otherwise it is
    looked up off the event loop (a database read)."""
    admin_token = request.app.state.settings.admin_token.get_secret_value()
    remembered = tokens.authenticate_from_memory(bearer_token(request), admin_token=admin_token)
    if remembered is None:
        raise unknown_token()
    if remembered is not tokens.NOT_CACHED:  # answered from memory: no thread needed
        return remembered
    return await to_thread.run_sync(lambda: authenticate_request(request, admin_token=admin_token))


# Route parameters: `who: CurrentPrincipal` (any valid token) or `_: AdminPrincipal` (the admin's).
CurrentPrincipal = Annotated[tokens.Principal, Depends(current_principal)]


async def admin_principal(principal: CurrentPrincipal) -> tokens.Principal:
    require_admin(principal)
    return principal


AdminPrincipal = Annotated[tokens.Principal, Depends(admin_principal)]
