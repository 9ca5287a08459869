"""The console's pages for coordination groups and administrators: reporting rates, silences,
the incentive calculators (and their JSON API), an enterprise's trends, the organisation, the
matchmaking proposals and the ops overview."""

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Body, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from liaison_common.matchmaking import proposed_pairs
from liaison_common.validation import field_errors
from liaison_common.web import answers
from services.console import calculator_forms, charts, incentive_calculators, pages, service, timeline, views
from services.console.exceptions import UpstreamUnavailable

router = APIRouter(include_in_schema=False)


@router.get("/rates")
async def rates_page(
    request: Request,
    first: str = Query("", alias="from", max_length=10),
    last: str = Query("", alias="to", max_length=10),
) -> HTMLResponse:
    """Completeness and timeliness per enterprise and work group over a range of ISO weeks, as
    DHIS2's reporting-rate summary: for the comprehensive group and the admin."""
    session = pages.session_of(request)
    if not pages.can_overview(session):
        raise pages.NotAllowed("报送率供综合组和管理员使用。")
    today = timeline.utc_now().date()
    last = last or f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    start = today - timedelta(weeks=7)
    first = first or f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    answer = await pages.upstream(request, "notify").call(
        "GET", "/v1/reporting-rates", token=session.token, params={"from": first, "to": last}
    )
    names = await pages.display_names(request, session, await pages.enterprises_of(request, session))
    rows = views.rate_rows(answer.body, names) if answer.ok else []
    error = None if answer.ok else f"无法取得报送率：{answer.detail}"
    weeks = answer.body.get("weeks") if answer.ok else None
    return pages.render(
        request, "rates.html", session, rows=rows, first=first, last=last, weeks=weeks, error=error
    )


# ------------------------------------------------------------ silences


@router.get("/silences")
async def silences_page(request: Request, error: str = Query("", max_length=500)) -> HTMLResponse:
    """The group's silences (the admin's: all), and a form to hold back its deliveries."""
    session = pages.session_of(request)
    listed, enterprises = await asyncio.gather(
        pages.upstream(request, "notify").get_list("/v1/silences", token=session.token),
        pages.enterprises_of(request, session),
    )
    moment = timeline.utc_now()
    return pages.render(
        request,
        "silences.html",
        session,
        silences=[{**s, "active": timeline.silence_active(s, moment)} for s in listed],
        names=await pages.display_names(request, session, enterprises),
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
    session = pages.session_of(request)
    matchers = {k: v for k, v in (("enterprise_id", enterprise_id), ("type", type)) if v}
    try:
        ends_at = timeline.end_of_day_beijing(until)
    except ValueError:
        return RedirectResponse("/silences?" + urlencode({"error": "请选择截止日期"}), status_code=303)
    answer = await pages.upstream(request, "notify").call(
        "POST",
        "/v1/silences",
        token=session.token,
        json={"matchers": matchers, "ends_at": ends_at.isoformat(), "comment": comment},
    )
    query = "" if answer.ok else "?" + urlencode({"error": pages.silence_error(answer)})
    return RedirectResponse("/silences" + query, status_code=303)


@router.post("/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: str) -> Response:
    session = pages.session_of(request)
    answer = await pages.upstream(request, "notify").call(
        "DELETE", f"/v1/silences/{silence_id}", token=session.token
    )
    query = "" if answer.ok else "?" + urlencode({"error": pages.silence_error(answer)})
    return RedirectResponse("/silences" + query, status_code=303)


# ------------------------------------------------------------ the 金融办's calculators


@router.get("/incentives")
async def incentives_page(request: Request) -> HTMLResponse:
    session = pages.session_of(request)
    return pages.render(
        request,
        "incentives.html",
        session,
        calculators=calculator_forms.calculator_forms(),
        result=None,
        values={},
    )


@router.post("/incentives")
async def incentives_compute(request: Request) -> HTMLResponse:
    session = pages.session_of(request)
    form = await request.form()
    name = str(form.get("calculator", ""))
    result, error = None, None
    try:
        payload = calculator_forms.calculator_payload(name, {k: str(v) for k, v in form.items()})
        result = incentive_calculators.calculate(name, payload)
    except KeyError:
        error = "请选择一个计算器"
    except ValueError as problem:  # pydantic's ValidationError is a ValueError
        error = calculator_forms.calculator_error(problem)
    entered = {k: str(v) for k, v in form.items()}  # shown again beside the answer
    return pages.render(
        request,
        "incentives.html",
        session,
        calculators=calculator_forms.calculator_forms(),
        result=result,
        error=error,
        chosen=name,
        values=entered,
    )


# ------------------------------------------------------------ an enterprise's trends


@router.get("/enterprises/{enterprise_id}")
async def enterprise_page(request: Request, enterprise_id: str) -> HTMLResponse:
    session = pages.session_of(request)
    answer = await pages.upstream(request, "registry").call(
        "GET", f"/v1/enterprises/{enterprise_id}", token=session.token
    )
    if answer.status_code == 404:
        return pages.render(request, "error.html", session, message=f"没有这家企业：{enterprise_id}")
    enterprise = answer.body
    points, alerts, ceiling = await asyncio.gather(
        to_thread.run_sync(lambda: service.report_points(enterprise_id)),
        pages.upstream(request, "notify").get_list(
            "/v1/alerts",
            token=session.token,
            params={"enterprise_id": enterprise_id}
            | ({} if session.principal.is_admin else {"group_id": session.principal.subject_id}),
        ),
        pages.energy_ceiling_of(request, enterprise.get("main_product")),
    )
    days = [date.fromisoformat(p["period_end"]) for p in points]
    days += [date.fromisoformat(a["period_end"][:10]) for a in alerts if a.get("period_end")]
    axis = charts.TimeAxis.spanning(days)
    trends = charts.trend_charts(points, energy_ceiling=ceiling)
    marks = charts.timeline_marks(alerts, axis) if axis else []
    return pages.render(
        request,
        "enterprise.html",
        session,
        enterprise=enterprise,
        points=points,
        charts=[(c, charts.chart_svg(c, axis) if axis and not c.empty else "") for c in trends],
        marks=marks,
        timeline=charts.timeline_svg(marks, axis) if axis else "",
        axis=axis,
        ceiling=ceiling,
    )


# ------------------------------------------------------------ the organisation


@router.get("/organisation")
async def organisation(request: Request) -> HTMLResponse:
    session = pages.session_of(request)
    registry = pages.upstream(request, "registry")
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
    return pages.render(
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
    session = pages.session_of(request)
    # A group sees the pairs its own measures propose; the admin those of 产业对接组.
    principal = session.principal
    group_id = "industry-matching" if principal.is_admin else principal.subject_id
    notify, registry = pages.upstream(request, "notify"), pages.upstream(request, "registry")
    open_alerts, acknowledged, events, enterprises = await asyncio.gather(
        notify.get_list("/v1/alerts", token=session.token, params={"group_id": group_id, "status": "open"}),
        notify.get_list(
            "/v1/alerts", token=session.token, params={"group_id": group_id, "status": "acknowledged"}
        ),
        registry.get_list("/v1/matchmaking-events", token=session.token),
        pages.enterprises_of(request, session),
    )
    return pages.render(
        request,
        "matchmaking.html",
        session,
        group_id=group_id,
        pairs=proposed_pairs([*open_alerts, *acknowledged], group_id),
        events=sorted(events, key=lambda e: e.get("number") or 0),
        names=pages.names_by_id(enterprises),
    )


# ------------------------------------------------------------ the comprehensive group's overview


@router.get("/overview")
async def overview(request: Request) -> HTMLResponse:
    session = pages.session_of(request)
    if not pages.can_overview(session):
        raise pages.NotAllowed("综合看板供综合组使用。")
    notify = pages.upstream(request, "notify")
    # The grid covers every group's alerts: the comprehensive group coordinates them all. It is
    # read with the console's own admin token and shows only counts and the worst severity.
    admin = pages.settings_of(request).admin_token.get_secret_value()
    # Counted by notify from its alert index: one call, however many alerts are stored.
    counted, enterprises = await asyncio.gather(
        notify.call("GET", "/v1/alerts/counts", token=admin), pages.enterprises_of(request, session)
    )
    if not counted.ok:
        raise UpstreamUnavailable(f"notify /v1/alerts/counts: {counted.detail}")
    columns, rows = views.overview_grid(enterprises, counted.body)
    return pages.render(request, "overview.html", session, columns=columns, rows=rows)


# The calculators as JSON (the console's only API; its pages are above).
api_router = APIRouter(prefix="/v1/incentives", tags=["incentives"])


@api_router.get("", responses=answers(401, 403))
def list_calculators(_: pages.GroupPrincipal) -> list[dict[str, Any]]:
    return calculator_forms.calculator_catalogue()


@api_router.post("/{name}", responses=answers(401, 403, 404))
def compute(_: pages.GroupPrincipal, name: str, payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    if name not in incentive_calculators.CALCULATORS:
        raise HTTPException(404, f"no calculator named {name!r}; GET /v1/incentives lists them")
    try:
        return incentive_calculators.calculate(name, payload)
    except ValidationError as error:
        raise HTTPException(422, field_errors(error)) from None
