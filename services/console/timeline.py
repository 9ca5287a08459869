"""A case's timeline in Chinese (who did what, when, in Beijing time), dates as the pages show
and read them, and whether a silence is active. Pure functions."""

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from liaison_common.labels import ACTOR_LABELS, CHANNEL_LABELS
from services.console.views import BEIJING, SUBJECT_LABELS


def coordinating(alert: dict[str, Any], now: datetime | None = None) -> str | None:
    """The date until which the case is 协调中 (under coordination), while it lasts; else None."""
    until = alert.get("coordinating_until")
    if not until or alert.get("status") == "resolved":
        return None
    moment = now or datetime.now(UTC)
    return str(until)[:10] if datetime.fromisoformat(str(until)) > moment else None


EVENT_LABELS = {
    "received": "收到",
    "updated": "更新",
    "acknowledged": "确认收到",
    "resolved": "办结",
    "reopened": "重新出现",
    "escalated": "升级",
    "reminded": "提醒",
    "silenced": "静默",
    "commented": "意见",
    "coordinating": "协调中",
    "sent": "已送达",
    "archived": "归档",
    "corrected": "更正",
}


# How notify writes the details of its machine-written history lines (services/notify/merging.py);
# the console reads them back in Chinese, and shows any other text as it is.
_DETAIL_PATTERNS: dict[str, re.Pattern[str]] = {
    "resolved": re.compile(r"absent from two consecutive reports \((?P<ids>.*)\): resolved by data"),
    "reopened": re.compile(r"detected again in the period ending (?P<day>\S+)"),
    "corrected": re.compile(
        r"report (?P<report>\S+) corrects (?P<replaces>\S+) for the period ending (?P<day>\S+)"
    ),
    "escalated": re.compile(r"to (?P<group>\S+), level (?P<level>\d+)"),
    "reminded": re.compile(r"to (?P<group>\S+), level (?P<level>\d+)"),
    "coordinating": re.compile(r"协调中，至 (?P<until>[^：\s]+)(：(?P<comment>.*))?", re.DOTALL),
    "silenced": re.compile(r"(?P<group>[^:\s]+): (?P<reasons>.*)"),
}
_ACK_TIMEOUT = "acknowledged and not resolved in time (the group's acknowledgement timeout)"
# The fields of a case that an update names (notify's CASE_FIELDS), as an official reads them.
CASE_FIELD_LABELS = {
    "severity": "级别",
    "summary": "摘要",
    "evidence": "依据",
    "occurrences": "出现次数",
    "last_period_end": "最近一期",
    "source_ids": "来源报告",
    "measures": "可用措施",
    "routes": "分送",
    "group_ids": "分送协调组",
    "submitted_at": "报送时间",
    "region": "地区",
}


def chinese_date(value: Any) -> str:
    """'2025-03-05' (or a moment) → '2025年3月5日', whatever the browser's locale; '' stays ''."""
    text = str(value or "")
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return text
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_moment(value: Any) -> str:
    """An ISO moment → '2025年3月5日 18:04' in Beijing time (the province's clock)."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(BEIJING)
    return f"{chinese_date(local.date().isoformat())} {local:%H:%M}"


def parse_day(text: str) -> date:
    """A day typed into the console: 2012-01-20, 2012-1-20, 2012/1/20 or 2012年1月20日
    (ValueError otherwise). The console's date fields are text, so the browser's locale never
    changes how a date is shown or read."""
    found = re.fullmatch(r"\s*(\d{4})\s*[-/年]\s*(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*日?\s*", text or "")
    if found is None:
        raise ValueError(f"{text!r} is not a date such as 2012-01-20 or 2012年1月20日")
    return date(*(int(part) for part in found.groups()))


def actor_label(by: str, names: dict[str, str]) -> str:
    """Who acted, by name: a service, a channel, a group (`group:finance` or `finance`), the admin."""
    kind, _, subject = by.partition(":")
    if not subject:
        kind, subject = "", by
    if kind == "admin" or subject == "admin":
        return SUBJECT_LABELS["admin"]
    return ACTOR_LABELS.get(subject) or CHANNEL_LABELS.get(subject) or names.get(subject, subject)


def _group_list(ids: str, names: dict[str, str]) -> str:
    return "、".join(names.get(g.strip(), g.strip()) for g in ids.split(",") if g.strip())


def history_detail(event: str, by: str, detail: str, names: dict[str, str]) -> str:
    """One history line's detail in Chinese, where notify wrote it for machines."""
    pattern = _DETAIL_PATTERNS.get(event)
    found = pattern.fullmatch(detail) if pattern is not None else None
    if event == "received" and by == "rules" and detail:
        return "分送 " + _group_list(detail, names)
    if event == "updated" and by == "rules" and detail and "此前另有" not in detail:
        fields = [f.strip() for f in detail.split(",") if f.strip()]
        return "更新了" + "、".join(CASE_FIELD_LABELS.get(f, f) for f in fields)
    if event == "sent":
        return "通知已送出"  # the notification's id says nothing to an official
    if event == "reopened" and detail == _ACK_TIMEOUT:
        return "已确认但未按时办结（超过本组的确认时限），重新待处理"
    if found is None:
        return detail
    parts = found.groupdict()
    if event == "resolved":
        return f"连续两期报告未再出现（{parts['ids']}），按数据自动办结"
    if event == "reopened":
        return f"截至{chinese_date(parts['day'])}的报告期再次出现"
    if event == "corrected":
        period = chinese_date(parts["day"])
        return f"报告 {parts['report']} 更正了 {parts['replaces']}（截至{period}的报告期）"
    if event == "coordinating":  # the day chosen, as coordinating() reads it
        comment = f"：{parts['comment']}" if parts.get("comment") else ""
        return f"协调中，至{chinese_date(parts['until'])}{comment}"
    if event in ("escalated", "reminded"):
        return f"升级至{names.get(parts['group'], parts['group'])}（第{parts['level']}级）"
    return f"{names.get(parts['group'], parts['group'])}：{parts['reasons']}"  # silenced


def case_timeline(alert: dict[str, Any], names: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The case's history, oldest first, in words an official reads: when, what, who, details,
    every id by its Chinese name (issue 40.3). A long case keeps only its latest weekly updates;
    a line says how many came before."""
    names = names or {}
    lines = []
    for entry in sorted(alert.get("history") or [], key=lambda e: str(e.get("at") or "")):
        event, by = str(entry.get("event")), str(entry.get("by") or "")
        lines.append(
            {
                "at": chinese_moment(entry.get("at")),
                "event": EVENT_LABELS.get(event, event),
                "by": actor_label(by, names) if by else "",
                "detail": history_detail(event, by, str(entry.get("detail") or ""), names),
            }
        )
    earlier = int(alert.get("earlier_updates") or 0)
    if earlier:
        detail = f"此前另有 {earlier} 次数据更新，完整记录见 liaison.alert-events.v1"
        note = {"at": "", "event": EVENT_LABELS["updated"], "by": ACTOR_LABELS["rules"], "detail": detail}
        lines.insert(1 if lines else 0, note)  # after the case was received
    return lines


def utc_now() -> datetime:
    return datetime.now(UTC)


def end_of_day_beijing(day: str) -> datetime:
    """'2012-01-20' → the end of that day in Beijing time, in UTC (ValueError if not a date, or
    at the end of the calendar: 9999-12-31 plus a day overflowed into a 500, issue 35.4)."""
    chosen = parse_day(day)
    if chosen.year >= 9999:
        raise ValueError(f"{day} is too far ahead")
    return (datetime.combine(chosen, time(), BEIJING) + timedelta(days=1)).astimezone(UTC)


def silence_active(silence: dict[str, Any], moment: datetime) -> bool:
    starts, ends = (datetime.fromisoformat(silence[k]) for k in ("starts_at", "ends_at"))
    return starts <= moment < ends
