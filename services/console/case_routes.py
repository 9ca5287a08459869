"""The console's pages of the daily work: sign-in, the inbox, a case and its actions, the live
stream, the data queries and their corrections.

Thin: each route reads the session, fetches from notify / the registry, lets views.py shape it,
and renders a template. Actions (acknowledge, resolve) are notify's own calls, made with the
signed-in user's token, so notify's rules on who may do what apply unchanged.
"""

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from liaison_common import tokens
from liaison_common.events import INDICATOR_NAMES
from services.console import pages, service, timeline, views
from services.console.metrics import SIGN_INS
from services.console.service import Session

router = APIRouter(include_in_schema=False)

# ------------------------------------------------------------ sign in and out


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return pages.render(request, "login.html", None, error=None)


@router.post("/login")
async def login(request: Request, token: str = Form("", max_length=200)) -> Response:
    token = token.strip()
    settings = pages.settings_of(request)
    principal = await to_thread.run_sync(
        lambda: tokens.authenticate(token, admin_token=settings.admin_token.get_secret_value())
    )
    error = None
    if not token:
        error = "请输入令牌。"
    elif principal is None:
        error = "令牌无效、已吊销或已过期。"
    elif principal.subject_type not in service.CONSOLE_SUBJECTS:
        error = "控制台供协调组、工作组和企业联络员使用：请用本组或本企业的令牌登录。"
    if error is not None or principal is None:
        SIGN_INS.labels("refused").inc()
        return pages.render(request, "login.html", None, error=error)
    SIGN_INS.labels("ok").inc()
    display_name = await pages.display_name_of(request, principal, token)
    try:
        session_id = pages.sessions_of(request).open(principal, token, display_name)
    except service.TooManySessions:
        SIGN_INS.labels("refused").inc()
        limit = service.Sessions.MAX_PER_TOKEN
        error = f"此令牌已在{limit}处登录，请先在其他地方退出。"
        return pages.render(request, "login.html", None, error=error, status_code=429)
    response = RedirectResponse(_home_of(principal), status_code=303)
    response.set_cookie(
        pages.COOKIE,
        session_id,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",  # no other site can make the browser act with this session
        secure=settings.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    pages.sessions_of(request).close(request.cookies.get(pages.COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(pages.COOKIE)
    return response


def _home_of(principal: tokens.Principal) -> str:
    if principal.subject_type == "enterprise":
        return "/queries"
    if principal.is_admin or (principal.subject_type == "group" and principal.subject_id == "comprehensive"):
        return "/overview"
    return "/inbox"


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(_home_of(pages.signed_in(request).principal), status_code=303)


# ------------------------------------------------------------ the inbox


async def inbox_context(request: Request, session: Session, filters: views.InboxFilters) -> dict[str, Any]:
    wrong = filters.errors()
    alerts: list[dict[str, Any]] = []
    if not wrong:
        params = filters.notify_params()
        if session.principal.subject_type != "admin":
            params["group_id"] = session.principal.subject_id
        answer = await pages.upstream(request, "notify").call(
            "GET", "/v1/alerts", token=session.token, params={**params, "limit": pages.INBOX_LIMIT}
        )
        alerts = answer.body if answer.ok else []
    return {
        "alerts": views.inbox_rows(alerts, filters),
        "filters": filters,
        "filter_errors": wrong,
        "truncated": len(alerts) >= pages.INBOX_LIMIT,
        "query": urlencode({k: v for k, v in vars(filters).items() if v}),
    }


@router.get("/inbox")
async def inbox(request: Request, filters: views.InboxFilters = Depends(pages.inbox_filters)) -> HTMLResponse:
    session = pages.session_of(request)
    context = await inbox_context(request, session, filters)
    enterprises = sorted(
        await pages.enterprises_of(request, session), key=lambda e: (not e.get("is_key"), e["name"])
    )
    return pages.render(
        request,
        "inbox.html",
        session,
        enterprises=enterprises,
        names=await pages.display_names(request, session, enterprises),
        **context,
    )


@router.get("/inbox/rows")
async def inbox_rows(
    request: Request, filters: views.InboxFilters = Depends(pages.inbox_filters)
) -> HTMLResponse:
    """The list alone, for the live refresh after an event on the stream."""
    session = pages.session_of(request)
    context = await inbox_context(request, session, filters)
    names = await pages.display_names(request, session, await pages.enterprises_of(request, session))
    return pages.render(request, "_alert_list.html", session, names=names, **context)


@router.post("/alerts/{alert_id}/act")
async def act(
    request: Request,
    alert_id: str,
    action: Literal["ack", "resolve", "coordinate"] = Form(...),
    comment: str = Form("", max_length=2000),
    until: str = Form("", max_length=40),
) -> Response:
    session = pages.session_of(request)
    body: dict[str, Any] = {"comment": comment}
    if action == "coordinate":  # 协调中 until the date chosen (notify checks it)
        try:
            body["until"] = timeline.parse_day(until).isoformat()
        except ValueError:
            body["until"] = until  # notify names the field in its answer
    answer = await pages.upstream(request, "notify").call(
        "POST", f"/v1/alerts/{alert_id}/{action}", token=session.token, json=body
    )
    if request.headers.get("hx-request") != "true":  # a plain form post: back to the inbox
        return RedirectResponse(request.headers.get("referer") or "/inbox", status_code=303)
    if answer.ok:
        alert, error = answer.body, None
    else:
        current = await pages.upstream(request, "notify").call(
            "GET", f"/v1/alerts/{alert_id}", token=session.token
        )
        if not current.ok:
            # Upstream text may echo the URL's alert id: escaped, never markup (issue 35.10).
            detail = html.escape(str(answer.detail))
            return HTMLResponse(f"<p class='error'>{detail}</p>", status_code=answer.status_code)
        alert, error = current.body, pages.action_error(answer)
    names = await pages.display_names(request, session, await pages.enterprises_of(request, session))
    return pages.render(request, "_alert.html", session, alert=alert, names=names, action_error=error)


@router.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    """notify's event stream, relayed with the user's token (a browser's EventSource sends no header)."""
    session = pages.session_of(request)
    notify = pages.upstream(request, "notify")

    async def relay() -> AsyncIterator[bytes]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client:
            try:
                async with client.stream(
                    "GET",
                    notify.base_url + "/v1/alerts/stream",
                    headers={"Authorization": f"Bearer {session.token}"},
                ) as response:
                    async for chunk in response.aiter_raw():
                        yield chunk
            except httpx.HTTPError:
                yield b"event: unavailable\ndata: {}\n\n"  # the page says the stream dropped

    return StreamingResponse(relay(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# ------------------------------------------------------------ one case


@router.get("/alerts/{alert_id}")
async def case_page(request: Request, alert_id: str) -> HTMLResponse:
    """The case: its timeline across the weeks, evidence and measures, and why each group
    was (or was not) notified."""
    session = pages.session_of(request)
    notify = pages.upstream(request, "notify")
    answer, why = await asyncio.gather(
        notify.call("GET", f"/v1/alerts/{alert_id}", token=session.token),
        notify.call("GET", f"/v1/alerts/{alert_id}/notifications", token=session.token),
    )
    if not answer.ok:
        message = (
            "没有这条预警，或不在您的分送范围内。" if answer.status_code in (403, 404) else answer.detail
        )
        return pages.render(request, "error.html", session, message=message)
    names = await pages.display_names(request, session, await pages.enterprises_of(request, session))
    return pages.render(
        request,
        "case.html",
        session,
        alert=answer.body,
        names=names,
        why=why.body if why.ok else None,
        timeline=timeline.case_timeline(answer.body, names),
    )


# ------------------------------------------------------------ a liaison's data queries (§7)


@router.get("/queries")
async def queries_page(request: Request, done: str = Query("", max_length=200)) -> HTMLResponse:
    """The liaison's own data queries: the figures questioned, and a form to correct the week."""
    session = pages.liaison_session_of(request)
    alerts = await pages.upstream(request, "notify").get_list(
        "/v1/alerts", token=session.token, params={"type": "data_query"}
    )
    return pages.render(
        request, "queries.html", session, queries=views.query_rows(alerts), done=done, error=None
    )


@router.post("/queries/{alert_id}/correct")
async def correct_query(request: Request, alert_id: str) -> Response:
    """The week corrected: its figures as first reported, the typed ones in their place, sent to
    ingest with the liaison's own token; the query closes when rules reads the correction."""
    session = pages.liaison_session_of(request)
    enterprise_id = session.principal.subject_id
    answer = await pages.upstream(request, "notify").call(
        "GET", f"/v1/alerts/{alert_id}", token=session.token
    )
    if not answer.ok or answer.body.get("type") != "data_query":
        return pages.render(request, "error.html", session, message="没有这条数据核查，或不属于本企业。")
    form = await request.form()
    typed = {
        str(key)[len("indicator.") :]: str(value)[:40]
        for key, value in form.items()
        if str(key).startswith("indicator.") and str(key)[len("indicator.") :] in INDICATOR_NAMES
    }
    period_end = str(answer.body.get("period_end") or "")
    points = await to_thread.run_sync(lambda: service.report_points(enterprise_id))
    week = [p for p in points if p["period_end"] == period_end]
    alerts = await pages.upstream(request, "notify").get_list(
        "/v1/alerts", token=session.token, params={"type": "data_query"}
    )
    rows = views.query_rows(alerts)
    if not week:  # the console keeps reports as they arrive; this one has not yet
        error = "本周原报告尚未到达控制台，请稍后再试。"
        return pages.render(
            request, "queries.html", session, queries=rows, done="", error=error, status_code=409
        )
    try:
        report = views.correction_report(
            max(week, key=lambda p: p["submitted_at"]),
            typed,
            enterprise_id=enterprise_id,
            now=timeline.utc_now(),
        )
    except ValueError as problem:
        return pages.render(
            request, "queries.html", session, queries=rows, done="", error=str(problem), status_code=422
        )
    sent = await pages.upstream(request, "ingest").call(
        "POST", "/v1/reports", token=session.token, json=report
    )
    if not sent.ok:
        error = f"更正未被接收：{sent.detail}"
        return pages.render(
            request, "queries.html", session, queries=rows, done="", error=error, status_code=sent.status_code
        )
    return RedirectResponse("/queries?" + urlencode({"done": period_end}), status_code=303)


# ------------------------------------------------------------ reporting rates (§7, issue 38.4)
