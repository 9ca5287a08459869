"""Weekly digests: each group's week in alerts and reporting, built from the store (pure
rendering first), planned once per subscription when a new week begins in event time."""

import logging
import threading
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from statistics import median
from typing import Any

from mongoengine.errors import NotUniqueError

from liaison_common.alert_contract import SEVERITIES
from liaison_common.matchmaking import proposed_pairs
from liaison_common.registry_view import RegistryView
from services.notify import timers
from services.notify.clock import EPOCH, now
from services.notify.documents import Alert, Notification, ReportingWeek

log = logging.getLogger(__name__)


def iso_week_bounds(week: str) -> tuple[date, date]:
    """'2011-W50' → (Monday, Sunday)."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday, monday + timedelta(days=6)


# What a digest shows of each alert.
ITEM_FIELDS = ("alert_id", "type", "severity", "status", "enterprise_id", "work_group_id", "summary")


def response(alerts: list[dict[str, Any]], group_id: str) -> dict[str, Any]:
    """How the group handled these alerts: how many it acknowledged and resolved and the median
    hours it took (from the alert's arrival; its own actions, not another group's), how many
    were resolved by data, how many went unacknowledged into escalation."""
    to_ack: list[float] = []
    to_resolve: list[float] = []
    by_data = escalated = 0
    for alert in alerts:
        received = alert.get("received_at")
        history = alert.get("history") or []
        if any(entry.get("event") == "escalated" for entry in history):
            escalated += 1
        if alert.get("resolved_by") == "data":
            by_data += 1
        if received is None:
            continue
        for event, into in (("acknowledged", to_ack), ("resolved", to_resolve)):
            mine = [e["at"] for e in history if e.get("event") == event and _acted_by(e, group_id)]
            if mine:
                into.append((min(mine) - received).total_seconds() / 3600)
    return {
        "acknowledged": len(to_ack),
        "median_hours_to_acknowledge": _median(to_ack),
        "resolved_by_group": len(to_resolve),
        "median_hours_to_resolve": _median(to_resolve),
        "resolved_by_data": by_data,
        "escalated": escalated,
    }


def _acted_by(entry: dict[str, Any], group_id: str) -> bool:
    """An action's entry names its principal as "group:finance" (or the admin's "admin")."""
    by = str(entry.get("by") or "")
    return by.split(":", 1)[-1] == group_id


def _median(values: list[float]) -> float | None:
    return round(median(values), 1) if values else None


def _response_line(r: dict[str, Any]) -> str:
    def hours(value: float | None) -> str:
        return "—" if value is None else f"{value:g} 小时"

    return (
        f"处置：确认 {r['acknowledged']} 条（中位用时 {hours(r['median_hours_to_acknowledge'])}），"
        f"办结 {r['resolved_by_group']} 条（中位用时 {hours(r['median_hours_to_resolve'])}），"
        f"数据恢复自动办结 {r['resolved_by_data']} 条，超时升级 {r['escalated']} 条。"
    )


def build_digest(
    group_id: str, week: str, alerts: list[dict[str, Any]], reporting: dict[str, Any] | None
) -> dict[str, Any]:
    """The week's summary for one group: its alerts by status, enterprise and type, and reporting."""
    monday, sunday = iso_week_bounds(week)
    mine = [a for a in alerts if monday.isoformat() <= (a.get("period_end") or "") <= sunday.isoformat()]
    by_status = Counter(a["status"] for a in mine)
    by_enterprise: dict[str, Counter[str]] = defaultdict(Counter)
    for a in mine:
        by_enterprise[a.get("enterprise_id") or a.get("work_group_id") or "?"][a["type"]] += 1
    group_rates = (reporting or {}).get("by_work_group", {}).get(group_id)
    return {
        "group_id": group_id,
        "week": week,
        "period": {"from": monday.isoformat(), "to": sunday.isoformat()},
        "alerts": {
            "total": len(mine),
            "new": len(mine),
            "open": by_status.get("open", 0),
            "acknowledged": by_status.get("acknowledged", 0),
            "resolved": by_status.get("resolved", 0),
        },
        "response": response(mine, group_id),
        "by_enterprise": {subject: dict(types) for subject, types in sorted(by_enterprise.items())},
        "items": [
            {k: a.get(k) for k in ITEM_FIELDS}
            for a in sorted(mine, key=lambda a: (SEVERITIES.index(a["severity"]) * -1, a["alert_id"]))
        ],
        "proposed_pairs": proposed_pairs(mine, group_id),
        "reporting": None
        if reporting is None
        else {
            "expected": reporting.get("expected"),
            "received": reporting.get("received"),
            "on_time": reporting.get("on_time"),
            "reporting_rate": reporting.get("reporting_rate"),
            "timeliness_rate": reporting.get("timeliness_rate"),
            "missing": reporting.get("missing", []),
            "corrected": len(reporting.get("corrected") or []),
            "questioned": sum(1 for a in mine if a["type"] == "data_query"),
            "this_group": group_rates,
        },
    }


def digest_markdown(digest: dict[str, Any]) -> str:
    a = digest["alerts"]
    lines = [
        f"# {digest['group_id']} 周报摘要 {digest['week']}（{digest['period']['from']} 至 {digest['period']['to']}）",
        "",
        f"预警 {a['total']} 条：未确认 {a['open']}，已确认 {a['acknowledged']}，已办结 {a['resolved']}。",
        "",
        _response_line(digest["response"]),
        "",
        "| 企业/工作组 | 类型 | 条数 |",
        "|---|---|---|",
    ]
    for subject, types in digest["by_enterprise"].items():
        for kind, count in sorted(types.items()):
            lines.append(f"| {subject} | {kind} | {count} |")
    if digest.get("proposed_pairs"):
        lines += ["", "对接建议："]
        for pair in digest["proposed_pairs"]:
            partners = "、".join(pair["partners"])
            lines.append(f"- {pair['enterprise_id']} → {partners}：{pair['action']}（{pair['ref']}）")
    reporting = digest["reporting"]
    if reporting:
        lines += [
            "",
            f"报送情况：应报 {reporting['expected']}，已报 {reporting['received']}，按时 {reporting['on_time']}"
            f"（报送率 {reporting['reporting_rate']:.0%}，及时率 {reporting['timeliness_rate']:.0%}）。",
        ]
        lines.append(reporting_line(reporting))
        if reporting["missing"]:
            lines.append("未报：" + "、".join(reporting["missing"]))
    return "\n".join(lines) + "\n"


def reporting_line(reporting: dict[str, Any]) -> str:
    """The group's own line of the week's reporting rates (issue 38.4): a work group's linked
    enterprises, or for a coordination group the province's; with corrections and data queries."""
    own = reporting.get("this_group")
    if own:
        counted = f"本组联点企业：应报 {own['expected']}，已报 {own['received']}，按时 {own['on_time']}"
        rate = own.get("reporting_rate")
        counted += f"（报送率 {rate:.0%}）" if rate is not None else ""
    else:
        counted = f"全省：应报 {reporting['expected']}，已报 {reporting['received']}"
    return f"{counted}；本周更正 {reporting.get('corrected', 0)} 份，数据核查 {reporting.get('questioned', 0)} 条。"


def digest_html(digest: dict[str, Any]) -> str:
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(subject)}</td><td>{escape(kind)}</td><td>{count}</td></tr>"
        for subject, types in digest["by_enterprise"].items()
        for kind, count in sorted(types.items())
    )
    a = digest["alerts"]
    pairs = "".join(
        f"<li>{escape(p['enterprise_id'] or '')} → {escape('、'.join(p['partners']))}：{escape(p['action'] or '')}</li>"
        for p in digest.get("proposed_pairs") or []
    )
    pairs_html = f"<h2>对接建议</h2><ul>{pairs}</ul>" if pairs else ""
    reporting = digest["reporting"]
    reporting_html = (
        ""
        if not reporting
        else f"<p>报送情况：应报 {reporting['expected']}，已报 {reporting['received']}，按时 {reporting['on_time']}</p>"
        f"<p class='reporting-line'>{escape(reporting_line(reporting))}</p>"
    )
    return (
        f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>{escape(digest["group_id"])} {digest["week"]}</title>'
        f"<h1>{escape(digest['group_id'])} 周报摘要 {digest['week']}</h1>"
        f"<p>预警 {a['total']} 条：未确认 {a['open']}，已确认 {a['acknowledged']}，已办结 {a['resolved']}。</p>"
        f"<p>{escape(_response_line(digest['response']))}</p>"
        f"<table><tr><th>企业/工作组</th><th>类型</th><th>条数</th></tr>{rows}</table>{pairs_html}{reporting_html}</html>"
    )


# ------------------------------------------------------------------ storing alerts and planning notifications


def store_reporting(record: dict[str, Any]) -> str:
    """Keep the week's reporting record; return the week before it. A record of a week means the
    week before is over (in event time): each group with a subscription gets that week's
    digest, once (plan_digests, which `planner` runs apart)."""
    monday, _ = iso_week_bounds(record["week"])  # ValueError for a week that is none
    if monday.year < 2000:
        raise ValueError(f"week {record['week']} is before 2000: not a reporting week")
    ReportingWeek.objects(week=record["week"]).update_one(set__record=record, upsert=True)
    year, number, _ = (monday - timedelta(days=7)).isocalendar()
    return f"{year}-W{number:02d}"


class DigestPlanner:
    """Plans a week's digests in a thread of its own, not in the consumer's lane: a digest reads
    the group's week of alerts (seven queries per subscription, 8–108 ms each on a lived-in
    store), and the alerts of every partition waited behind it, a second and more, each time a
    week ended (`make bench-scale`, where a week ends every second). Planning is idempotent,
    and every later record of the week asks again, so one that fails (the database away) is
    done at the next."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-digests")
        self._waiting: set[str] = set()  # weeks asked for and not yet begun: asked once
        self._lock = threading.Lock()

    def ask(self, week: str, *, view: RegistryView) -> "Future[list[str]] | None":
        with self._lock:
            if week in self._waiting:
                return None
            self._waiting.add(week)
        return self._thread.submit(self._plan, week, view)

    def _plan(self, week: str, view: RegistryView) -> list[str]:
        with self._lock:
            self._waiting.discard(week)
        try:
            planned = plan_digests(week, view=view)
        except Exception as error:  # the next record of the week asks again
            log.warning("weekly digests of %s not planned yet: %r", week, error)
            return []
        if planned:
            log.info("weekly digests planned: %s", ", ".join(planned))
        return planned


planner = DigestPlanner()


DIGEST_FIELDS = (
    *ITEM_FIELDS,
    "period_end",
    "received_at",
    "resolved_by",
    "history",
    "measures",
)  # what a digest reads


def digest_for(group_id: str, week: str) -> dict[str, Any]:
    """The group's digest of the week: its alerts whose case began that week, read by one
    equality per day (FerretDB serves those from indexes; a range would read every alert)."""
    monday, _ = iso_week_bounds(week)
    alerts = []
    for day in range(7):
        period_end = (monday + timedelta(days=day)).isoformat()
        found = Alert.objects(group_ids=group_id, period_end=period_end).only(*DIGEST_FIELDS).as_pymongo()
        alerts += [{**doc, "alert_id": doc["_id"]} for doc in found]
    reporting = ReportingWeek.objects(week=week).first()
    return build_digest(group_id, week, alerts, reporting.record if reporting else None)


def plan_digests(week: str, *, view: RegistryView) -> list[str]:
    """One digest notification per subscription for the week; planning it again changes nothing."""
    planned = []
    moment = now()
    for subscription_id in view.ids("subscription"):
        data = view.get("subscription", subscription_id) or {}
        if (
            not data.get("enabled", True)
            or data.get("channel") not in ("webhook", "email")
            or data.get("leader")
        ):
            continue  # a 组长's channel gets late reminders only
        key = f"{subscription_id}|digest|{week}"
        if key in _planned or Notification.objects(key=key).only("key").first() is not None:
            _planned.add(key)
            continue  # planned already (a week's first record came again)
        digest = digest_for(data["group_id"], week)
        try:
            Notification(
                key=key,
                subscription_id=subscription_id,
                group_id=data["group_id"],
                channel=data["channel"],
                target=data.get("target"),
                kind="digest",
                grouping=key,
                alert_ids=[],
                status="pending",
                created_at=moment,
                send_at=moment,
                lease_until=EPOCH,
                subject=f"[Liaison 周报] {data['group_id']} {week}",
                body=digest_markdown(digest),
                digest=digest,
            ).save(force_insert=True)
        except NotUniqueError:
            continue
        timers.notifications.schedule(key, moment)
        _planned.add(key)
        planned.append(key)
    return planned


# Digest keys known to be planned: every reporting record of a week asks, and each lookup is a
# round trip. A few hundred keys a year (subscriptions x weeks); forgotten at each start.
_planned: set[str] = set()


def forget_planned() -> None:
    _planned.clear()
