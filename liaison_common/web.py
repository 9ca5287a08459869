"""FastAPI glue every service shares: auth, errors, body limits, metrics, health."""

import logging
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from mongoengine.errors import OperationError
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

from liaison_common import tokens
from liaison_common.guards import BodySizeLimit, QueryOperatorGuard, RequestMetrics, TextGuard
from liaison_common.metrics import exposition
from liaison_common.validation import field_error

log = logging.getLogger(__name__)


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
