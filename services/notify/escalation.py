"""Escalation: when a case that nobody acknowledged goes to 综合组 (and then its reminders), per
the primary group's timers, on working days when asked; the commands that do it."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from liaison_common.registry_view import RegistryView
from services.notify import alert_changes, alert_index, timers
from services.notify.calendar import WorkingCalendar, add_working_time
from services.notify.clock import aware, now
from services.notify.config import Settings
from services.notify.documents import Alert
from services.notify.planning import plan_notifications

WORKING_CALENDAR = WorkingCalendar.load()


def escalation_due(moment: datetime, seconds: float, settings: Settings) -> datetime:
    """When an escalation (or its next reminder) falls due: `seconds` after `moment`, counted on
    working days only when NOTIFY_WORKING_DAYS_ONLY is set."""
    if settings.working_days_only:
        return add_working_time(moment, seconds, WORKING_CALENDAR)
    return moment + timedelta(seconds=seconds)


@dataclass(frozen=True)
class GroupTimers:
    """How long a case waits, set per primary group in the registry (notify's defaults else)."""

    escalation_seconds: float
    reminder_seconds: float
    ack_timeout_seconds: float


def primary_group(routes: list[dict[str, Any]]) -> str | None:
    return next((r.get("group_id") for r in routes if r.get("role") == "primary"), None)


def group_timers(routes: list[dict[str, Any]], view: RegistryView, settings: Settings) -> GroupTimers:
    """The primary group's `escalation_hours`, `reminder_hours` and `ack_timeout_hours` from the
    registry, each falling back to NOTIFY_ESCALATION_DELAY_SECONDS, …_REPEAT_… and
    NOTIFY_ACK_TIMEOUT_SECONDS."""
    primary = primary_group(routes)
    data = (view.get("group", primary) or {}) if primary else {}

    def seconds(field: str, default: float) -> float:
        value = data.get(field)
        return float(value) * 3600 if isinstance(value, int | float) and value > 0 else default

    return GroupTimers(
        escalation_seconds=seconds("escalation_hours", settings.escalation_delay_seconds),
        reminder_seconds=seconds("reminder_hours", settings.escalation_repeat_seconds),
        ack_timeout_seconds=seconds("ack_timeout_hours", settings.ack_timeout_seconds),
    )


def escalates(alert: dict[str, Any]) -> bool:
    """High and critical alerts, and every major incident, are escalated when nobody acknowledges."""
    return alert["severity"] in ("high", "critical") or alert["type"] == "major_incident"


def plan_escalation(alert: Alert, *, view: RegistryView, settings: Settings, group: str) -> None:
    """An escalation goes to 综合组 (`group`); from the first reminder on (level 2), also to
    the 组长 of the case's primary group, through the subscriptions marked `leader`."""
    plan_notifications(alert, [group], view=view, settings=settings, kind="escalation")
    primary = primary_group(alert.routes)
    if alert.escalation_level >= 2 and primary:
        plan_notifications(alert, [primary], view=view, settings=settings, kind="escalation", leader=True)


def escalations_due(settings: Settings, *, resync: bool = False) -> list[dict[str, Any]]:
    """Commands to escalate (or remind about) every open alert whose escalation time has come.

    The due times are in memory (timers.escalations), filled by the writer as it sets them and
    re-read from the database when `resync` is asked (at start, then once a minute). Read-only:
    the alert's writer applies the commands, and a level applied already changes nothing.
    """
    moment = now()
    if resync and alert_index.view.loaded.is_set():  # from the index in memory, not the database
        for alert_id, when in alert_index.view.escalations():
            timers.escalations.schedule(alert_id, when)
    elif resync:  # still loading at start: the database's entries
        for status in ("open", "acknowledged"):  # one equality each: FerretDB reads all for $in
            for entry in alert_index.entries(status=status):
                if entry.get("next_escalation_at") is not None:
                    timers.escalations.schedule(entry["_id"], aware(entry["next_escalation_at"]) or moment)
    commands = []
    for alert_id in timers.escalations.pop_due(moment):
        alert = (
            Alert.objects(alert_id=alert_id)
            .only("alert_id", "status", "escalation_level", "next_escalation_at")
            .first()
        )
        due_at = aware(alert.next_escalation_at) if alert is not None else None
        if alert is None or alert.status == "resolved" or due_at is None:
            continue  # resolved or gone since
        if due_at > moment:
            timers.escalations.schedule(alert_id, due_at)
            continue
        if alert.status == "acknowledged":  # acknowledged and left unresolved: open it again
            detail = {"reason": "acknowledged and not resolved in time (the group's acknowledgement timeout)"}
            commands.append(
                alert_changes.change(
                    alert_id, "reopened", by="notify", at=moment, command=True, detail=detail
                )
            )
            continue
        level = alert.escalation_level + 1
        commands.append(
            alert_changes.change(
                alert_id,
                "escalated",
                by="notify",
                at=moment,
                command=True,
                detail={"to": settings.escalation_group, "level": level},
            )
        )
    return commands
