"""What every request of every service passes before a handler reads it (install_common adds
them): the body's size, text a database could not store, query operators, and its metrics."""

import json
import re
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liaison_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from liaison_common.validation import field_error

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
