"""The console's pages: sign-in, the inbox, an enterprise's trends, the organisation, the overview.

Thin: each route reads the session, fetches from notify / the registry, lets views.py shape it,
and renders a template. Actions (acknowledge, resolve) are notify's own calls, made with the
signed-in user's token, so notify's rules on who may do what apply unchanged.
"""

import asyncio
import html
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlencode, urlsplit

import httpx
from anyio import to_thread
from fastapi import APIRouter, Body, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from liaison_common import tokens
from liaison_common.events import INDICATOR_NAMES
from liaison_common.matchmaking import proposed_pairs
from liaison_common.validation import field_errors
from liaison_common.web import CurrentPrincipal, answers
from services.console import incentives, service, views
from services.console.config import Settings
from services.console.exceptions import ConsoleError, UpstreamUnavailable
from services.console.metrics import SIGN_INS
from services.console.service import Session, Sessions, Upstream

HERE = Path(__file__).parent
COOKIE = "liaison_session"
# The inbox lists the newest alerts up to this many; the filters narrow it down.
INBOX_LIMIT = 300
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(cn_date=views.chinese_date, cn_moment=views.chinese_moment)
templates.env.globals.update(
    type_label=views.type_label,
    actor_label=views.actor_label,
    case_timeline=views.case_timeline,
    can_act=views.can_act,
    CHANNEL_LABELS=views.CHANNEL_LABELS,
    evidence_label=views.evidence_label,
    coordinating=views.coordinating,
    TYPE_LABELS=views.TYPE_LABELS,
    SEVERITY_LABELS=views.SEVERITY_LABELS,
    STATUS_LABELS=views.STATUS_LABELS,
    ROLE_LABELS=views.ROLE_LABELS,
    SUBJECT_LABELS=views.SUBJECT_LABELS,
    SEVERITIES=views.SEVERITIES,
    STATUSES=views.STATUSES,
)


class SignInRequired(ConsoleError):
    status_code = 401


class NotAllowed(ConsoleError):
    status_code = 403


# The app's parts a page needs (app.py puts them on app.state): read here only, typed.
def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _upstream(request: Request, name: Literal["notify", "registry", "rules", "ingest"]) -> Upstream:
    return cast(Upstream, request.app.state.upstreams[name])


def _sessions(request: Request) -> Sessions:
    return cast(Sessions, request.app.state.sessions)


def _signed_in(request: Request) -> Session:
    session = _sessions(request).get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired("请先登录")
    return session


def session_of(request: Request) -> Session:
    """A group's, a work group's or the admin's session: the pages that triage cases."""
    session = _signed_in(request)
    if session.principal.subject_type == "enterprise":
        raise NotAllowed("企业联络员请使用「数据核查」页面（/queries）：核对、更正本企业被核查的数值。")
    return session


def liaison_session_of(request: Request) -> Session:
    """An enterprise's liaison: its own data queries and their correction (docs/contract.md §7)."""
    session = _signed_in(request)
    if session.principal.subject_type != "enterprise":
        raise NotAllowed("「数据核查」页面供企业联络员使用：请用企业令牌登录。")
    return session


def _page(
    request: Request, template: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"session": session, "can_overview": _can_overview(session), **context},
        status_code=status_code,
    )


def _can_overview(session: Session | None) -> bool:
    if session is None:
        return False
    principal = session.principal
    return principal.is_admin or (
        principal.subject_type == "group" and principal.subject_id == "comprehensive"
    )


async def _enterprises(request: Request, session: Session) -> list[dict[str, Any]]:
    return await _upstream(request, "registry").get_list("/v1/enterprises", token=session.token)


def _names(enterprises: list[dict[str, Any]]) -> dict[str, str]:
    return {e["id"]: e["name"] for e in enterprises}


_GROUP_NAMES: dict[str, Any] = {"at": 0.0, "names": {}}
GROUP_NAMES_SECONDS = 300.0  # group names change rarely: read them from the registry every 5 min


async def _display_names(
    request: Request, session: Session, enterprises: list[dict[str, Any]]
) -> dict[str, str]:
    """Ids to Chinese names: the enterprises given, and every coordination group and work group
    (so that a card says 金融组（主办）, never finance（主办）)."""
    loop = asyncio.get_running_loop()
    if loop.time() - _GROUP_NAMES["at"] > GROUP_NAMES_SECONDS or not _GROUP_NAMES["names"]:
        registry = _upstream(request, "registry")
        try:
            groups, work_groups = await asyncio.gather(
                registry.get_list("/v1/groups", token=session.token),
                registry.get_list("/v1/work-groups", token=session.token),
            )
        except UpstreamUnavailable:
            groups, work_groups = [], []  # ids, then, until the registry answers
        if groups or work_groups:
            _GROUP_NAMES["names"] = _names([*groups, *work_groups])
            _GROUP_NAMES["at"] = loop.time()
    return {**_GROUP_NAMES["names"], **_names(enterprises)}


async def inbox_filters(
    type: str = Query("", max_length=40),
    enterprise_id: str = Query("", max_length=80),
    severity: str = Query("", max_length=20),
    status: str = Query("", max_length=20),
) -> views.InboxFilters:
    """The inbox's filters from the query; views.InboxFilters.errors() names the wrong ones."""
    return views.InboxFilters(type=type, enterprise_id=enterprise_id, severity=severity, status=status)


async def _display_name(request: Request, principal: tokens.Principal, token: str) -> str:
    if principal.is_admin:
        return "管理员"
    path = {"group": "/v1/groups/", "enterprise": "/v1/enterprises/"}.get(
        principal.subject_type, "/v1/work-groups/"
    )
    try:
        answer = await _upstream(request, "registry").call("GET", path + principal.subject_id, token=token)
    except UpstreamUnavailable:
        return principal.subject_id
    return str(answer.body.get("name", principal.subject_id)) if answer.ok else principal.subject_id


async def _energy_ceiling(request: Request, main_product: str | None) -> float | None:
    """The product's ceiling of 附件3 as the rules in force have it, if there is one."""
    if not main_product:
        return None
    try:
        answer = await _upstream(request, "rules").call("GET", "/v1/thresholds", token="")
    except UpstreamUnavailable:
        return None
    ceilings = answer.body.get("energy_overuse", {}).get("kwh_per_t_ceiling", {}) if answer.ok else {}
    entry = ceilings.get(main_product)
    return float(entry["value"]) if isinstance(entry, dict) and "value" in entry else None


def _silence_error(answer: service.Answer) -> str:
    if answer.status_code == 403:
        return "只能静默本组的送达。"
    return str(answer.detail)


def _action_error(answer: service.Answer) -> str:
    if answer.status_code == 403:
        return "本组无权处理这条预警。"
    if answer.status_code == 409:
        return "这条预警已解决，不能再操作。"
    return answer.detail


async def _group_principal(principal: CurrentPrincipal) -> tokens.Principal:
    """A coordination group's, a work group's or the admin's token (403 for an enterprise's)."""
    if principal.subject_type not in service.GROUP_SUBJECTS:
        raise HTTPException(403, "the calculators are for the groups: use a group's token")
    return principal


GroupPrincipal = Annotated[tokens.Principal, Depends(_group_principal)]


router = APIRouter(include_in_schema=False)

# ------------------------------------------------------------ sign in and out


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None, error=None)


@router.post("/login")
async def login(request: Request, token: str = Form("", max_length=200)) -> Response:
    token = token.strip()
    settings = _settings(request)
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
        return _page(request, "login.html", None, error=error)
    SIGN_INS.labels("ok").inc()
    display_name = await _display_name(request, principal, token)
    try:
        session_id = _sessions(request).open(principal, token, display_name)
    except service.TooManySessions:
        SIGN_INS.labels("refused").inc()
        limit = service.Sessions.MAX_PER_TOKEN
        error = f"此令牌已在{limit}处登录，请先在其他地方退出。"
        return _page(request, "login.html", None, error=error, status_code=429)
    response = RedirectResponse(_home_of(principal), status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",  # no other site can make the browser act with this session
        secure=settings.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    _sessions(request).close(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _home_of(principal: tokens.Principal) -> str:
    if principal.subject_type == "enterprise":
        return "/queries"
    if principal.is_admin or (principal.subject_type == "group" and principal.subject_id == "comprehensive"):
        return "/overview"
    return "/inbox"


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(_home_of(_signed_in(request).principal), status_code=303)


# ------------------------------------------------------------ the inbox


async def inbox_context(request: Request, session: Session, filters: views.InboxFilters) -> dict[str, Any]:
    wrong = filters.errors()
    alerts: list[dict[str, Any]] = []
    if not wrong:
        params = filters.notify_params()
        if session.principal.subject_type != "admin":
            params["group_id"] = session.principal.subject_id
        answer = await _upstream(request, "notify").call(
            "GET", "/v1/alerts", token=session.token, params={**params, "limit": INBOX_LIMIT}
        )
        alerts = answer.body if answer.ok else []
    return {
        "alerts": views.inbox_rows(alerts, filters),
        "filters": filters,
        "filter_errors": wrong,
        "truncated": len(alerts) >= INBOX_LIMIT,
        "query": urlencode({k: v for k, v in vars(filters).items() if v}),
    }


@router.get("/inbox")
async def inbox(request: Request, filters: views.InboxFilters = Depends(inbox_filters)) -> HTMLResponse:
    session = session_of(request)
    context = await inbox_context(request, session, filters)
    enterprises = sorted(await _enterprises(request, session), key=lambda e: (not e.get("is_key"), e["name"]))
    return _page(
        request,
        "inbox.html",
        session,
        enterprises=enterprises,
        names=await _display_names(request, session, enterprises),
        **context,
    )


@router.get("/inbox/rows")
async def inbox_rows(request: Request, filters: views.InboxFilters = Depends(inbox_filters)) -> HTMLResponse:
    """The list alone, for the live refresh after an event on the stream."""
    session = session_of(request)
    context = await inbox_context(request, session, filters)
    names = await _display_names(request, session, await _enterprises(request, session))
    return _page(request, "_alert_list.html", session, names=names, **context)


@router.post("/alerts/{alert_id}/act")
async def act(
    request: Request,
    alert_id: str,
    action: Literal["ack", "resolve", "coordinate"] = Form(...),
    comment: str = Form("", max_length=2000),
    until: str = Form("", max_length=40),
) -> Response:
    session = session_of(request)
    body: dict[str, Any] = {"comment": comment}
    if action == "coordinate":  # 协调中 until the date chosen (notify checks it)
        try:
            body["until"] = views.parse_day(until).isoformat()
        except ValueError:
            body["until"] = until  # notify names the field in its answer
    answer = await _upstream(request, "notify").call(
        "POST", f"/v1/alerts/{alert_id}/{action}", token=session.token, json=body
    )
    if request.headers.get("hx-request") != "true":  # a plain form post: back to the inbox
        return RedirectResponse(request.headers.get("referer") or "/inbox", status_code=303)
    if answer.ok:
        alert, error = answer.body, None
    else:
        current = await _upstream(request, "notify").call(
            "GET", f"/v1/alerts/{alert_id}", token=session.token
        )
        if not current.ok:
            # Upstream text may echo the URL's alert id: escaped, never markup (issue 35.10).
            detail = html.escape(str(answer.detail))
            return HTMLResponse(f"<p class='error'>{detail}</p>", status_code=answer.status_code)
        alert, error = current.body, _action_error(answer)
    names = await _display_names(request, session, await _enterprises(request, session))
    return _page(request, "_alert.html", session, alert=alert, names=names, action_error=error)


@router.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    """notify's event stream, relayed with the user's token (a browser's EventSource sends no header)."""
    session = session_of(request)
    notify = _upstream(request, "notify")

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
    session = session_of(request)
    notify = _upstream(request, "notify")
    answer, why = await asyncio.gather(
        notify.call("GET", f"/v1/alerts/{alert_id}", token=session.token),
        notify.call("GET", f"/v1/alerts/{alert_id}/notifications", token=session.token),
    )
    if not answer.ok:
        message = (
            "没有这条预警，或不在您的分送范围内。" if answer.status_code in (403, 404) else answer.detail
        )
        return _page(request, "error.html", session, message=message)
    names = await _display_names(request, session, await _enterprises(request, session))
    return _page(
        request,
        "case.html",
        session,
        alert=answer.body,
        names=names,
        why=why.body if why.ok else None,
        timeline=views.case_timeline(answer.body, names),
    )


# ------------------------------------------------------------ a liaison's data queries (§7)


@router.get("/queries")
async def queries_page(request: Request, done: str = Query("", max_length=200)) -> HTMLResponse:
    """The liaison's own data queries: the figures questioned, and a form to correct the week."""
    session = liaison_session_of(request)
    alerts = await _upstream(request, "notify").get_list(
        "/v1/alerts", token=session.token, params={"type": "data_query"}
    )
    return _page(request, "queries.html", session, queries=views.query_rows(alerts), done=done, error=None)


@router.post("/queries/{alert_id}/correct")
async def correct_query(request: Request, alert_id: str) -> Response:
    """The week corrected: its figures as first reported, the typed ones in their place, sent to
    ingest with the liaison's own token; the query closes when rules reads the correction."""
    session = liaison_session_of(request)
    enterprise_id = session.principal.subject_id
    answer = await _upstream(request, "notify").call("GET", f"/v1/alerts/{alert_id}", token=session.token)
    if not answer.ok or answer.body.get("type") != "data_query":
        return _page(request, "error.html", session, message="没有这条数据核查，或不属于本企业。")
    form = await request.form()
    typed = {
        str(key)[len("indicator.") :]: str(value)[:40]
        for key, value in form.items()
        if str(key).startswith("indicator.") and str(key)[len("indicator.") :] in INDICATOR_NAMES
    }
    period_end = str(answer.body.get("period_end") or "")
    points = await to_thread.run_sync(lambda: service.report_points(enterprise_id))
    week = [p for p in points if p["period_end"] == period_end]
    alerts = await _upstream(request, "notify").get_list(
        "/v1/alerts", token=session.token, params={"type": "data_query"}
    )
    rows = views.query_rows(alerts)
    if not week:  # the console keeps reports as they arrive; this one has not yet
        error = "本周原报告尚未到达控制台，请稍后再试。"
        return _page(request, "queries.html", session, queries=rows, done="", error=error, status_code=409)
    try:
        report = views.correction_report(
            max(week, key=lambda p: p["submitted_at"]),
            typed,
            enterprise_id=enterprise_id,
            now=views.utc_now(),
        )
    except ValueError as problem:
        return _page(
            request, "queries.html", session, queries=rows, done="", error=str(problem), status_code=422
        )
    sent = await _upstream(request, "ingest").call("POST", "/v1/reports", token=session.token, json=report)
    if not sent.ok:
        error = f"更正未被接收：{sent.detail}"
        return _page(
            request, "queries.html", session, queries=rows, done="", error=error, status_code=sent.status_code
        )
    return RedirectResponse("/queries?" + urlencode({"done": period_end}), status_code=303)


# ------------------------------------------------------------ reporting rates (§7, issue 38.4)


@router.get("/rates")
async def rates_page(
    request: Request,
    first: str = Query("", alias="from", max_length=10),
    last: str = Query("", alias="to", max_length=10),
) -> HTMLResponse:
    """Completeness and timeliness per enterprise and work group over a range of ISO weeks, as
    DHIS2's reporting-rate summary: for the comprehensive group and the admin."""
    session = session_of(request)
    if not _can_overview(session):
        raise NotAllowed("报送率供综合组和管理员使用。")
    today = views.utc_now().date()
    last = last or f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    start = today - timedelta(weeks=7)
    first = first or f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    answer = await _upstream(request, "notify").call(
        "GET", "/v1/reporting-rates", token=session.token, params={"from": first, "to": last}
    )
    names = await _display_names(request, session, await _enterprises(request, session))
    rows = views.rate_rows(answer.body, names) if answer.ok else []
    error = None if answer.ok else f"无法取得报送率：{answer.detail}"
    weeks = answer.body.get("weeks") if answer.ok else None
    return _page(request, "rates.html", session, rows=rows, first=first, last=last, weeks=weeks, error=error)


# ------------------------------------------------------------ silences


@router.get("/silences")
async def silences_page(request: Request, error: str = Query("", max_length=500)) -> HTMLResponse:
    """The group's silences (the admin's: all), and a form to hold back its deliveries."""
    session = session_of(request)
    listed, enterprises = await asyncio.gather(
        _upstream(request, "notify").get_list("/v1/silences", token=session.token),
        _enterprises(request, session),
    )
    moment = views.utc_now()
    return _page(
        request,
        "silences.html",
        session,
        silences=[{**s, "active": views.silence_active(s, moment)} for s in listed],
        names=await _display_names(request, session, enterprises),
        enterprises=enterprises,
        error=error,
    )


@router.post("/silences")
async def create_silence(
    request: Request,
    enterprise_id: str = Form("", max_length=80),
    type: str = Form("", max_length=40),
    until: str = Form(..., max_length=40),
    comment: str = Form("", max_length=2000),
) -> Response:
    session = session_of(request)
    matchers = {k: v for k, v in (("enterprise_id", enterprise_id), ("type", type)) if v}
    try:
        ends_at = views.end_of_day_beijing(until)
    except ValueError:
        return RedirectResponse("/silences?" + urlencode({"error": "请选择截止日期"}), status_code=303)
    answer = await _upstream(request, "notify").call(
        "POST",
        "/v1/silences",
        token=session.token,
        json={"matchers": matchers, "ends_at": ends_at.isoformat(), "comment": comment},
    )
    query = "" if answer.ok else "?" + urlencode({"error": _silence_error(answer)})
    return RedirectResponse("/silences" + query, status_code=303)


@router.post("/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: str) -> Response:
    session = session_of(request)
    answer = await _upstream(request, "notify").call(
        "DELETE", f"/v1/silences/{silence_id}", token=session.token
    )
    query = "" if answer.ok else "?" + urlencode({"error": _silence_error(answer)})
    return RedirectResponse("/silences" + query, status_code=303)


# ------------------------------------------------------------ the 金融办's calculators


@router.get("/incentives")
async def incentives_page(request: Request) -> HTMLResponse:
    session = session_of(request)
    return _page(
        request, "incentives.html", session, calculators=views.calculator_forms(), result=None, values={}
    )


@router.post("/incentives")
async def incentives_compute(request: Request) -> HTMLResponse:
    session = session_of(request)
    form = await request.form()
    name = str(form.get("calculator", ""))
    result, error = None, None
    try:
        payload = views.calculator_payload(name, {k: str(v) for k, v in form.items()})
        result = incentives.calculate(name, payload)
    except KeyError:
        error = "请选择一个计算器"
    except ValueError as problem:  # pydantic's ValidationError is a ValueError
        error = views.calculator_error(problem)
    entered = {k: str(v) for k, v in form.items()}  # shown again beside the answer
    return _page(
        request,
        "incentives.html",
        session,
        calculators=views.calculator_forms(),
        result=result,
        error=error,
        chosen=name,
        values=entered,
    )


# ------------------------------------------------------------ an enterprise's trends


@router.get("/enterprises/{enterprise_id}")
async def enterprise_page(request: Request, enterprise_id: str) -> HTMLResponse:
    session = session_of(request)
    answer = await _upstream(request, "registry").call(
        "GET", f"/v1/enterprises/{enterprise_id}", token=session.token
    )
    if answer.status_code == 404:
        return _page(request, "error.html", session, message=f"没有这家企业：{enterprise_id}")
    enterprise = answer.body
    points, alerts, ceiling = await asyncio.gather(
        to_thread.run_sync(lambda: service.report_points(enterprise_id)),
        _upstream(request, "notify").get_list(
            "/v1/alerts",
            token=session.token,
            params={"enterprise_id": enterprise_id}
            | ({} if session.principal.is_admin else {"group_id": session.principal.subject_id}),
        ),
        _energy_ceiling(request, enterprise.get("main_product")),
    )
    days = [date.fromisoformat(p["period_end"]) for p in points]
    days += [date.fromisoformat(a["period_end"][:10]) for a in alerts if a.get("period_end")]
    axis = views.TimeAxis.spanning(days)
    charts = views.trend_charts(points, energy_ceiling=ceiling)
    marks = views.timeline_marks(alerts, axis) if axis else []
    return _page(
        request,
        "enterprise.html",
        session,
        enterprise=enterprise,
        points=points,
        charts=[(c, views.chart_svg(c, axis) if axis and not c.empty else "") for c in charts],
        marks=marks,
        timeline=views.timeline_svg(marks, axis) if axis else "",
        axis=axis,
        ceiling=ceiling,
    )


# ------------------------------------------------------------ the organisation


@router.get("/organisation")
async def organisation(request: Request) -> HTMLResponse:
    session = session_of(request)
    registry = _upstream(request, "registry")
    groups, work_groups, enterprises, units = await asyncio.gather(
        registry.get_list("/v1/groups", token=session.token),
        registry.get_list("/v1/work-groups", token=session.token),
        registry.get_list("/v1/enterprises", token=session.token),
        registry.get_list("/v1/units", token=session.token),
    )
    unit_names = {u["id"]: u["name"] for u in units}
    by_work_group: dict[str, list[dict[str, Any]]] = {}
    for enterprise in sorted(enterprises, key=lambda e: (not e.get("is_key"), e["name"])):
        for work_group_id in enterprise.get("work_group_ids", []):
            by_work_group.setdefault(work_group_id, []).append(enterprise)
    return _page(
        request,
        "organisation.html",
        session,
        groups=sorted(groups, key=lambda g: g.get("number", 0)),
        work_groups=sorted(work_groups, key=lambda w: w.get("number", 0)),
        work_group_names={w["id"]: w["name"] for w in work_groups},
        enterprises=sorted(enterprises, key=lambda e: (not e.get("is_key"), e["name"])),
        by_work_group=by_work_group,
        unit_names=unit_names,
        # The main text's duties of the departments; the two tax bureaus share one sentence.
        department_duties=list(dict.fromkeys(u["duties"] for u in units if u.get("duties"))),
    )


# ------------------------------------------------------------ 产业对接: proposed pairs and 附件6's events


@router.get("/matchmaking")
async def matchmaking(request: Request) -> HTMLResponse:
    session = session_of(request)
    # A group sees the pairs its own measures propose; the admin those of 产业对接组.
    principal = session.principal
    group_id = "industry-matching" if principal.is_admin else principal.subject_id
    notify, registry = _upstream(request, "notify"), _upstream(request, "registry")
    open_alerts, acknowledged, events, enterprises = await asyncio.gather(
        notify.get_list("/v1/alerts", token=session.token, params={"group_id": group_id, "status": "open"}),
        notify.get_list(
            "/v1/alerts", token=session.token, params={"group_id": group_id, "status": "acknowledged"}
        ),
        registry.get_list("/v1/matchmaking-events", token=session.token),
        _enterprises(request, session),
    )
    return _page(
        request,
        "matchmaking.html",
        session,
        group_id=group_id,
        pairs=proposed_pairs([*open_alerts, *acknowledged], group_id),
        events=sorted(events, key=lambda e: e.get("number") or 0),
        names=_names(enterprises),
    )


# ------------------------------------------------------------ the comprehensive group's overview


@router.get("/overview")
async def overview(request: Request) -> HTMLResponse:
    session = session_of(request)
    if not _can_overview(session):
        raise NotAllowed("综合看板供综合组使用。")
    notify = _upstream(request, "notify")
    # The grid covers every group's alerts: the comprehensive group coordinates them all. It is
    # read with the console's own admin token and shows only counts and the worst severity.
    admin = _settings(request).admin_token.get_secret_value()
    # Counted by notify from its alert index: one call, however many alerts are stored.
    counted, enterprises = await asyncio.gather(
        notify.call("GET", "/v1/alerts/counts", token=admin), _enterprises(request, session)
    )
    if not counted.ok:
        raise UpstreamUnavailable(f"notify /v1/alerts/counts: {counted.detail}")
    columns, rows = views.overview_grid(enterprises, counted.body)
    return _page(request, "overview.html", session, columns=columns, rows=rows)


# The calculators as JSON (the console's only API; its pages are above).
api_router = APIRouter(prefix="/v1/incentives", tags=["incentives"])


@api_router.get("", responses=answers(401, 403))
def list_calculators(_: GroupPrincipal) -> list[dict[str, Any]]:
    return views.calculator_catalogue()


@api_router.post("/{name}", responses=answers(401, 403, 404))
def compute(_: GroupPrincipal, name: str, payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    if name not in incentives.CALCULATORS:
        raise HTTPException(404, f"no calculator named {name!r}; GET /v1/incentives lists them")
    try:
        return incentives.calculate(name, payload)
    except ValidationError as error:
        raise HTTPException(422, field_errors(error)) from None


class SameOrigin:
    """Every state-changing request must come from the console's own pages (issue 35.9): an
    `Origin` (or, without one, a `Referer`) of another scheme, host or port is refused with 403.
    SameSite alone does not do it: it ignores ports, so any page on another port of the host was
    "same-site". A request with neither header (a script, not a browser page) is let through; the
    session cookie still has to come with it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            claimed = headers.get("origin") or _origin_of(headers.get("referer", ""))
            if claimed and claimed != _own_origin(scope, headers):
                refusal = JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _own_origin(scope: Scope, headers: dict[str, str]) -> str:
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    return f"{scheme}://{host}"


def install_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    app.include_router(api_router)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        try:
            session: Session | None = _signed_in(request)
        except SignInRequired:
            session = None
        message = str(exc.detail)
        if isinstance(exc, UpstreamUnavailable):
            message = f"暂时无法取得数据（{exc.detail}），请稍后刷新。"
        response = _page(request, "error.html", session, message=message)
        response.status_code = exc.status_code
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        try:
            await to_thread.run_sync(service.database_answers)
        except Exception as error:
            return JSONResponse({"status": "unavailable", "database": str(error)}, status_code=503)
        return JSONResponse({"status": "ok", "service": "console"})
