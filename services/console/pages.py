"""What every console page needs: the session, the upstream services, the templates and the
names shown for ids. The routes are in case_routes.py (sign-in, inbox, cases, queries) and
admin_routes.py (rates, silences, incentives, enterprises, organisation, overview)."""

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from liaison_common import tokens
from liaison_common.labels import CHANNEL_LABELS
from liaison_common.web import CurrentPrincipal
from services.console import service, timeline, views
from services.console.config import Settings
from services.console.exceptions import ConsoleError, UpstreamUnavailable
from services.console.service import Session, Sessions, Upstream

HERE = Path(__file__).parent
COOKIE = "liaison_session"
# The inbox lists the newest alerts up to this many; the filters narrow it down.
INBOX_LIMIT = 300
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(cn_date=timeline.chinese_date, cn_moment=timeline.chinese_moment)
templates.env.globals.update(
    type_label=views.type_label,
    actor_label=timeline.actor_label,
    case_timeline=timeline.case_timeline,
    can_act=views.can_act,
    CHANNEL_LABELS=CHANNEL_LABELS,
    evidence_label=views.evidence_label,
    coordinating=timeline.coordinating,
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
def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def upstream(request: Request, name: Literal["notify", "registry", "rules", "ingest"]) -> Upstream:
    return cast(Upstream, request.app.state.upstreams[name])


def sessions_of(request: Request) -> Sessions:
    return cast(Sessions, request.app.state.sessions)


def signed_in(request: Request) -> Session:
    session = sessions_of(request).get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired("请先登录")
    return session


def session_of(request: Request) -> Session:
    """A group's, a work group's or the admin's session: the pages that triage cases."""
    session = signed_in(request)
    if session.principal.subject_type == "enterprise":
        raise NotAllowed("企业联络员请使用「数据核查」页面（/queries）：核对、更正本企业被核查的数值。")
    return session


def liaison_session_of(request: Request) -> Session:
    """An enterprise's liaison: its own data queries and their correction (docs/contract.md §7)."""
    session = signed_in(request)
    if session.principal.subject_type != "enterprise":
        raise NotAllowed("「数据核查」页面供企业联络员使用：请用企业令牌登录。")
    return session


def render(
    request: Request, template: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"session": session, "can_overview": can_overview(session), **context},
        status_code=status_code,
    )


def can_overview(session: Session | None) -> bool:
    if session is None:
        return False
    principal = session.principal
    return principal.is_admin or (
        principal.subject_type == "group" and principal.subject_id == "comprehensive"
    )


async def enterprises_of(request: Request, session: Session) -> list[dict[str, Any]]:
    return await upstream(request, "registry").get_list("/v1/enterprises", token=session.token)


def names_by_id(enterprises: list[dict[str, Any]]) -> dict[str, str]:
    return {e["id"]: e["name"] for e in enterprises}


_GROUP_NAMES: dict[str, Any] = {"at": 0.0, "names": {}}
GROUP_NAMES_SECONDS = 300.0  # group names change rarely: read them from the registry every 5 min


async def display_names(
    request: Request, session: Session, enterprises: list[dict[str, Any]]
) -> dict[str, str]:
    """Ids to Chinese names: the enterprises given, and every coordination group and work group
    (so that a card says 金融组（主办）, never finance（主办）)."""
    loop = asyncio.get_running_loop()
    if loop.time() - _GROUP_NAMES["at"] > GROUP_NAMES_SECONDS or not _GROUP_NAMES["names"]:
        registry = upstream(request, "registry")
        try:
            groups, work_groups = await asyncio.gather(
                registry.get_list("/v1/groups", token=session.token),
                registry.get_list("/v1/work-groups", token=session.token),
            )
        except UpstreamUnavailable:
            groups, work_groups = [], []  # ids, then, until the registry answers
        if groups or work_groups:
            _GROUP_NAMES["names"] = names_by_id([*groups, *work_groups])
            _GROUP_NAMES["at"] = loop.time()
    return {**_GROUP_NAMES["names"], **names_by_id(enterprises)}


async def inbox_filters(
    type: str = Query("", max_length=40),
    enterprise_id: str = Query("", max_length=80),
    severity: str = Query("", max_length=20),
    status: str = Query("", max_length=20),
) -> views.InboxFilters:
    """The inbox's filters from the query; views.InboxFilters.errors() names the wrong ones."""
    return views.InboxFilters(type=type, enterprise_id=enterprise_id, severity=severity, status=status)


async def display_name_of(request: Request, principal: tokens.Principal, token: str) -> str:
    if principal.is_admin:
        return "管理员"
    path = {"group": "/v1/groups/", "enterprise": "/v1/enterprises/"}.get(
        principal.subject_type, "/v1/work-groups/"
    )
    try:
        answer = await upstream(request, "registry").call("GET", path + principal.subject_id, token=token)
    except UpstreamUnavailable:
        return principal.subject_id
    return str(answer.body.get("name", principal.subject_id)) if answer.ok else principal.subject_id


async def energy_ceiling_of(request: Request, main_product: str | None) -> float | None:
    """The product's ceiling of 附件3 as the rules in force have it, if there is one."""
    if not main_product:
        return None
    try:
        answer = await upstream(request, "rules").call("GET", "/v1/thresholds", token="")
    except UpstreamUnavailable:
        return None
    ceilings = answer.body.get("energy_overuse", {}).get("kwh_per_t_ceiling", {}) if answer.ok else {}
    entry = ceilings.get(main_product)
    return float(entry["value"]) if isinstance(entry, dict) and "value" in entry else None


def silence_error(answer: service.Answer) -> str:
    if answer.status_code == 403:
        return "只能静默本组的送达。"
    return str(answer.detail)


def action_error(answer: service.Answer) -> str:
    if answer.status_code == 403:
        return "本组无权处理这条预警。"
    if answer.status_code == 409:
        return "这条预警已解决，不能再操作。"
    return answer.detail


async def group_principal(principal: CurrentPrincipal) -> tokens.Principal:
    """A coordination group's, a work group's or the admin's token (403 for an enterprise's)."""
    if principal.subject_type not in service.GROUP_SUBJECTS:
        raise HTTPException(403, "the calculators are for the groups: use a group's token")
    return principal


GroupPrincipal = Annotated[tokens.Principal, Depends(group_principal)]
