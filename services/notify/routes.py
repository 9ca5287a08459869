"""HTTP routes of notify (docs/contract.md §4): the inbox, acknowledgement, the SSE stream, digests."""

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse

from liaison_common import tokens
from liaison_common.routing import PROBLEM_TYPES
from liaison_common.tokens import Principal
from liaison_common.validation import field_error
from liaison_common.web import CurrentPrincipal, UnprocessableError, answers, bearer_token
from services.notify import (
    access,
    alert_changes,
    alert_index,
    case_store,
    commands,
    digests,
    documents,
    rates,
)
from services.notify.bodies import ActionCreate, CommentCreate, CoordinationCreate
from services.notify.config import Settings
from services.notify.documents import Alert
from services.notify.exceptions import Forbidden, TooMany, Unavailable
from services.notify.live_updates import Broadcaster
from services.notify.silence_routes import silences_router

Status = Literal["open", "acknowledged", "resolved"]
ProblemType = Literal[PROBLEM_TYPES]  # type: ignore[valid-type]
WEEK_PATTERN = r"^\d{4}-W\d{2}$"


def _alert_filters(principal: Principal, group_id: str | None, enterprise_id: str | None) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if principal.subject_type in access.GROUP_SUBJECTS:
        if group_id is not None and group_id != principal.subject_id:
            raise Forbidden(
                f"a token of {principal.subject_type} '{principal.subject_id}' lists only its own alerts"
            )
        filters["group_ids"] = principal.subject_id
    elif principal.subject_type == "enterprise":
        if enterprise_id is not None and enterprise_id != principal.subject_id:
            raise Forbidden(f"a token of enterprise '{principal.subject_id}' lists only its own alerts")
        filters["enterprise_id"] = principal.subject_id
    if group_id is not None:
        filters["group_ids"] = group_id
    if enterprise_id is not None:
        filters["enterprise_id"] = enterprise_id
    return filters


def _check_week(week: str, name: str = "week") -> None:
    from liaison_common.validation import field_error
    from liaison_common.web import UnprocessableError

    year, number = week.split("-W")
    try:
        if not 2000 <= int(year) <= 2100:  # the years a report may cover; 9999-W52 was a 500
            raise ValueError(year)
        date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise UnprocessableError([field_error(["query", name], f"{week} is not an ISO week")]) from None


def _visible(principal: Principal, event: dict[str, Any]) -> bool:
    alert = event["alert"]
    if principal.subject_type in access.GROUP_SUBJECTS:
        return principal.subject_id in alert.get("group_ids", [])
    return principal.subject_type == "enterprise" and principal.subject_id == alert.get("enterprise_id")


# The app's parts a route needs, as typed dependencies (app.py puts them on app.state).
async def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def _broadcaster(request: Request) -> Broadcaster:
    return cast(Broadcaster, request.app.state.broadcaster)


@dataclass(frozen=True)
class CommandChannel:
    """How a route changes an alert: a command for the alert's one writer, then the wait until
    the store shows it (read your write), then the news on the live stream."""

    commands: alert_changes.Commands
    broadcaster: Broadcaster
    timeout: float

    async def send_and_wait(self, command: dict[str, Any], applied: Callable[[], Alert | None]) -> Alert:
        try:
            await self.commands.send(command)
        except Exception as error:
            raise Unavailable(f"the change could not be recorded ({type(error).__name__}); retry") from error
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            alert = await to_thread.run_sync(applied)
            if alert is not None:
                self.broadcaster.publish({"event": "changed", "alert": documents.alert_dict(alert)})
                return alert
            if loop.time() > deadline:
                raise Unavailable("the change is recorded but not applied yet; read the alert again shortly")
            await asyncio.sleep(0.05)


async def _command_channel(request: Request) -> CommandChannel:
    state = request.app.state
    return CommandChannel(state.commands, state.broadcaster, state.settings.action_timeout_seconds)


SettingsDep = Annotated[Settings, Depends(_settings)]
BroadcasterDep = Annotated[Broadcaster, Depends(_broadcaster)]
ChannelDep = Annotated[CommandChannel, Depends(_command_channel)]


def _action_endpoint(action: str) -> Any:
    async def endpoint(
        principal: CurrentPrincipal,
        alert_id: str,
        channel: ChannelDep,
        body: ActionCreate | None = None,
    ) -> dict[str, Any]:
        """Checked here, applied by the alert's one writer (a command on liaison.alert-events.v1);
        answered once the change is stored and readable by GET /v1/alerts/{id}."""
        comment = body.comment if body is not None else ""
        alert, changes = await to_thread.run_sync(
            lambda: access.check_action(alert_id, principal, action=action)
        )
        if not changes:
            return documents.alert_dict(alert)
        who = f"{principal.subject_type}:{principal.subject_id}"
        by = "admin" if principal.is_admin else principal.subject_id
        command = alert_changes.change(
            alert_id,
            access.ACTION_TARGETS[action],
            by=by,
            command=True,
            detail={"comment": comment, "principal": who},
        )
        applied = await channel.send_and_wait(command, lambda: commands.action_applied(alert_id, action))
        return documents.alert_dict(applied)

    return endpoint


router = APIRouter(tags=["alerts"])


@router.get("/v1/alerts", responses=answers(401, 403, 503))
async def list_alerts(
    principal: CurrentPrincipal,
    request: Request,
    group_id: str | None = Query(None, max_length=80),
    enterprise_id: str | None = Query(None, max_length=80),
    type: ProblemType | None = Query(None),
    status: Status | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[dict[str, Any]]:
    """The inbox: alerts the caller may see, newest first, with their status and history."""
    filters = _alert_filters(principal, group_id, enterprise_id)
    if type is not None:
        filters["type"] = type
    if status is not None:
        filters["status"] = status

    page = await to_thread.run_sync(lambda: case_store.inbox_page(filters, limit=limit, offset=offset))
    return [access.as_seen_by(principal, alert) for alert in page]


@router.get("/v1/alerts/counts", responses=answers(401, 403, 503))
async def count_alerts(
    principal: CurrentPrincipal,
    group_id: str | None = Query(None, max_length=80),
    enterprise_id: str | None = Query(None, max_length=80),
    status: list[Status] = Query(["open", "acknowledged"]),
) -> list[dict[str, Any]]:
    """How many alerts the caller may see, per enterprise, type and status, with the worst
    severity of each: an overview that stays fast however many alerts are stored (it is counted
    from the alert index in memory, never read from the database). Unresolved ones by default."""
    filters = _alert_filters(principal, group_id, enterprise_id)
    if not alert_index.view.loaded.is_set():
        raise Unavailable("the alert index is still loading; try again in a few seconds")
    return alert_index.view.tally(filters, statuses=tuple(status))


_open_streams: Counter[str] = Counter()  # by the token's hash: the streams it holds open


@router.get("/v1/alerts/stream", responses=answers(401, 429, 503))
async def stream_alerts(
    principal: CurrentPrincipal, request: Request, settings: SettingsDep, broadcaster: BroadcasterDep
) -> StreamingResponse:
    """Server-sent events: every new or changed alert the caller may see, as it happens."""
    token = bearer_token(request)
    admin_token = settings.admin_token.get_secret_value()
    holder = hashlib.sha256(token.encode()).hexdigest()
    if _open_streams[holder] >= settings.max_streams_per_token:
        raise TooMany(f"this token has {settings.max_streams_per_token} streams open, the most it may have")
    _open_streams[holder] += 1
    queue = broadcaster.subscribe()

    async def still_valid() -> bool:
        principal = await to_thread.run_sync(lambda: tokens.authenticate(token, admin_token=admin_token))
        return principal is not None

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            yield b": connected\n\n"
            while True:
                # A revoked or expired token ends the stream within the token cache's lifetime.
                if loop.time() - checked >= tokens.CACHE_SECONDS:
                    checked = loop.time()
                    if not await still_valid():
                        yield b"event: revoked\ndata: {}\n\n"
                        return
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=tokens.CACHE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if principal.is_admin or _visible(principal, event):
                    data = json.dumps(access.as_seen_by(principal, event["alert"]), ensure_ascii=False)
                    yield f"event: {event['event']}\ndata: {data}\n\n".encode()
        finally:
            broadcaster.unsubscribe(queue)
            _open_streams[holder] -= 1
            if _open_streams[holder] <= 0:
                del _open_streams[holder]

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/v1/alerts/{alert_id}/notifications", responses=answers(401, 403, 404, 503))
async def why_notified(principal: CurrentPrincipal, alert_id: str, request: Request) -> dict[str, Any]:
    """For each group routed: the route and its reason, the silences and inhibitions that
    applied, and each delivery with its channel kind, time and outcome (never the target)."""
    return await to_thread.run_sync(lambda: access.why_notified(alert_id, principal))


@router.get("/v1/alerts/{alert_id}", responses=answers(401, 403, 404, 503))
async def get_alert(principal: CurrentPrincipal, alert_id: str, request: Request) -> dict[str, Any]:
    alert = await to_thread.run_sync(access.get_visible, alert_id, principal)
    return access.as_seen_by(principal, documents.alert_dict(alert))


for action in ("ack", "resolve"):
    router.add_api_route(
        f"/v1/alerts/{{alert_id}}/{action}",
        _action_endpoint(action),
        methods=["POST"],
        responses=answers(400, 401, 403, 404, 409, 503),
        summary=f"{'Acknowledge' if action == 'ack' else 'Resolve'} an alert (a group it is routed to)",
    )


@router.post(
    "/v1/alerts/{alert_id}/comments",
    summary="Add a note to the case (a group it is routed to)",
    responses=answers(400, 401, 403, 404, 409, 503),
)
async def add_comment(
    principal: CurrentPrincipal, alert_id: str, body: CommentCreate, channel: ChannelDep
) -> dict[str, Any]:
    """Applied by the alert's one writer; answered once the note is in the alert's history."""
    await to_thread.run_sync(lambda: access.check_comment(alert_id, principal))
    command = alert_changes.change(
        alert_id,
        "commented",
        by="admin" if principal.is_admin else principal.subject_id,
        command=True,
        detail={"comment": body.comment, "principal": f"{principal.subject_type}:{principal.subject_id}"},
    )
    applied = await channel.send_and_wait(command, lambda: commands.command_applied(alert_id, command["id"]))
    return documents.alert_dict(applied)


@router.post(
    "/v1/alerts/{alert_id}/coordinate",
    summary="Mark the case 协调中 (under coordination) until a date (a group it is routed to)",
    responses=answers(400, 401, 403, 404, 409, 503),
)
async def coordinate(
    principal: CurrentPrincipal, alert_id: str, body: CoordinationCreate, channel: ChannelDep
) -> dict[str, Any]:
    """Escalation and reminders wait until `until`; the history says who coordinates and why."""
    await to_thread.run_sync(lambda: access.check_coordination(alert_id, principal))
    until = body.until_moment()
    problem = access.coordination_problem(until, datetime.now(UTC))
    if problem is not None:
        raise UnprocessableError([field_error(["body", "until"], problem)])
    detail = {
        "until": until.isoformat(),
        "comment": body.comment,
        "principal": f"{principal.subject_type}:{principal.subject_id}",
    }
    by = "admin" if principal.is_admin else principal.subject_id
    command = alert_changes.change(alert_id, "coordinating", by=by, command=True, detail=detail)
    # Applied when the history holds the command's entry (the same check as for a comment).
    applied = await channel.send_and_wait(command, lambda: commands.command_applied(alert_id, command["id"]))
    return documents.alert_dict(applied)


@router.get("/v1/reporting-rates", tags=["digests"], responses=answers(401, 403, 422, 503))
async def reporting_rates(
    principal: CurrentPrincipal,
    first: str = Query(..., alias="from", pattern=WEEK_PATTERN, description="ISO week, e.g. 2011-W49"),
    last: str = Query(..., alias="to", pattern=WEEK_PATTERN, description="ISO week, e.g. 2012-W13"),
) -> dict[str, Any]:
    """Completeness and timeliness per enterprise and work group over a range of weeks (expected,
    received, on time, corrected, questioned): for the comprehensive group and the admin."""
    if not principal.is_admin and not (
        principal.subject_type == "group" and principal.subject_id == "comprehensive"
    ):
        raise Forbidden("reporting rates are for the comprehensive group (综合组) and the admin")
    _check_week(first, "from")
    _check_week(last, "to")
    if last < first:
        raise UnprocessableError([field_error(["query", "to"], "must not be before 'from'")])
    return await to_thread.run_sync(rates.reporting_rates, first, last)


@router.get(
    "/v1/digests/{group_id}",
    tags=["digests"],
    responses={
        200: {"content": {"application/json": {}, "text/markdown": {}, "text/html": {}}},
        **answers(401, 403, 503),
    },
)
async def digest(
    principal: CurrentPrincipal,
    group_id: str,
    request: Request,
    week: str = Query(..., pattern=WEEK_PATTERN, description="ISO week, e.g. 2011-W50"),
    format: Literal["json", "markdown", "html"] = Query("json"),
) -> Response:
    """The group's weekly summary: alerts by status, enterprise and type, and reporting rates."""
    if not principal.is_admin and not (
        principal.subject_type in access.GROUP_SUBJECTS and principal.subject_id == group_id
    ):
        raise Forbidden(f"the digest of '{group_id}' is for that group (or the admin)")
    _check_week(week)

    result = await to_thread.run_sync(digests.digest_for, group_id, week)
    if format == "markdown":
        return PlainTextResponse(digests.digest_markdown(result), media_type="text/markdown; charset=utf-8")
    if format == "html":
        return HTMLResponse(digests.digest_html(result))
    return JSONResponse(result)


def install_routes(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(silences_router)

    @app.get("/healthz", tags=["ops"], responses=answers(503))
    async def healthz(request: Request) -> JSONResponse:
        ready = request.app.state.registry_ready.is_set()
        try:
            # One document, not a count: FerretDB counts by reading every alert ever stored.
            await to_thread.run_sync(lambda: Alert._get_collection().find_one({}, {"_id": 1}))
        except Exception as error:
            return JSONResponse({"status": "unavailable", "database": str(error)}, status_code=503)
        body = {"status": "ok" if ready else "starting", "service": "notify", "registry_loaded": ready}
        return JSONResponse(body, status_code=200 if ready else 503)
