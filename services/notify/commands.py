"""Commands on liaison.alert-events.v1 (acknowledge, resolve, comment, coordinate, reopen,
escalate, delivered), applied by the one writer of the alert's partition."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liaison_common.failpoints import failpoint
from liaison_common.registry_view import RegistryView
from services.notify import alert_index, timers
from services.notify.access import ACTION_TARGETS
from services.notify.case_cache import cases, load_case
from services.notify.case_store import finish_planning, planned
from services.notify.clock import aware, now
from services.notify.config import Settings
from services.notify.documents import Alert, HistoryEntry, alert_dict
from services.notify.escalation import escalates, escalation_due, group_timers, plan_escalation
from services.notify.metrics import ACTIONS, END_TO_END_SECONDS, TIME_TO_ACT
from services.notify.planning import plan_notifications


@dataclass(frozen=True)
class Command:
    """One command being applied, with what every handler reads."""

    event: str
    by: str
    ref: str | None  # the command's id: a comment or coordination applied once
    detail: dict[str, Any]
    moment: datetime
    listed: dict[str, Any]  # the alert's index entry before the change (alert_index.save)
    view: RegistryView
    settings: Settings

    @classmethod
    def of(
        cls, command: dict[str, Any], alert: Alert, *, view: RegistryView, settings: Settings
    ) -> "Command":
        moment = datetime.fromisoformat(command["at"]) if command.get("at") else now()
        return cls(
            event=command["event"],
            by=str(command["by"]),
            ref=command.get("id"),
            detail=command.get("detail") or {},
            moment=moment,
            listed=alert_index.entry_of(alert),
            view=view,
            settings=settings,
        )

    @property
    def principal(self) -> str:
        return str(self.detail.get("principal") or self.by)

    @property
    def comment(self) -> str:
        return str(self.detail.get("comment") or "")

    def entry(self, event: str, detail: str) -> HistoryEntry:
        """The case's history entry for a group's note, marked with the command's id."""
        return HistoryEntry(at=self.moment, event=event, by=self.principal, detail=detail, ref=self.ref)


def apply_command(
    command: dict[str, Any], *, view: RegistryView, settings: Settings
) -> tuple[Alert | None, bool]:
    """Apply one command from liaison.alert-events.v1 to its alert; only the owner of the
    alert's partition calls this, so every alert has one writer. Returns (alert, changed).

    Each command is idempotent: applying it again (a redelivery) changes nothing.
    """
    alert = load_case(command["alert_id"])
    if alert is None:
        return None, False
    if alert.pending_plan:
        # A writer killed between storing a change and planning its notifications left them
        # unplanned: plan them before anything else changes the case (a redelivered command may
        # find nothing more to do, and another command would overwrite the pending plan).
        finish_planning(alert, view=view, settings=settings)
    handler = HANDLERS.get(command["event"])  # delivery_failed and the rest are records only
    changed = handler is not None and handler(alert, Command.of(command, alert, view=view, settings=settings))
    cases.keep(alert)  # saved, or unchanged: either way what the store holds
    return alert, changed


def applied_already(alert: Alert, command: Command) -> bool:
    return any(entry.ref == command.ref for entry in alert.history)


def acknowledge_or_resolve(alert: Alert, command: Command) -> bool:
    event, moment = command.event, command.moment
    if alert.status == event or (event == "acknowledged" and alert.status == "resolved"):
        return False
    alert.status = event
    alert.next_escalation_at = None
    ack_timeout = group_timers(alert.routes, command.view, command.settings).ack_timeout_seconds
    if event == "acknowledged" and ack_timeout > 0:
        # Re-triggered if it is still not resolved by then (or by the end of a coordination).
        timeout_at = escalation_due(moment, ack_timeout, command.settings)
        until = aware(alert.coordinating_until)
        alert.next_escalation_at = max(timeout_at, until) if until is not None else timeout_at
        timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
    alert.updated_at = moment
    if event == "resolved":
        alert.resolved_by = "group"
    alert.history.append(HistoryEntry(at=moment, event=event, by=command.principal, detail=command.comment))
    action = "ack" if event == "acknowledged" else "resolve"
    ACTIONS.labels(action).inc()
    received = aware(alert.received_at)
    if received is not None:
        TIME_TO_ACT.labels(command.by, action).observe(max((moment - received).total_seconds(), 0))
    alert_index.save(alert, command.listed)
    return True


def comment(alert: Alert, command: Command) -> bool:
    if applied_already(alert, command):
        return False
    alert.history.append(command.entry("commented", command.comment))
    alert.updated_at = command.moment
    alert_index.save(alert, command.listed)
    return True


def reopen(alert: Alert, command: Command) -> bool:
    """An acknowledgement that timed out (escalation.escalations_due): the groups are told again,
    the case is theirs once more."""
    if alert.status != "acknowledged":
        return False  # resolved, or reopened already: nothing to do
    moment, view, settings = command.moment, command.view, command.settings
    alert.status = "open"
    alert.updated_at = moment
    alert.next_escalation_at = (
        escalation_due(moment, group_timers(alert.routes, view, settings).escalation_seconds, settings)
        if escalates(alert_dict(alert))
        else None
    )
    if alert.next_escalation_at is not None:
        timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
    reason = str(command.detail.get("reason") or "")
    alert.history.append(HistoryEntry(at=moment, event="reopened", by="notify", detail=reason))
    alert.pending_plan = "alerts"
    alert_index.save(alert, command.listed)  # stored before it is planned: see finish_planning
    failpoint("notify.reopened.after-store")
    plan_notifications(alert, alert.group_ids, view=view, settings=settings, kind="alerts")
    planned(alert)
    return True


def coordinate(alert: Alert, command: Command) -> bool:
    """协调中 until a date: escalation and reminders wait for the coordination to end; then, if the
    case is still open, they go on from there."""
    if applied_already(alert, command):
        return False
    until = datetime.fromisoformat(str(command.detail["until"]))
    alert.coordinating_until = until
    due = aware(alert.next_escalation_at)
    if alert.status in ("open", "acknowledged") and due is not None and due < until:
        alert.next_escalation_at = until
        timers.escalations.schedule(alert.alert_id, until)
    note = f"协调中，至 {until.isoformat()}" + (f"：{command.comment}" if command.comment else "")
    alert.history.append(command.entry("coordinating", note))
    alert.updated_at = command.moment
    alert_index.save(alert, command.listed)
    return True


def record_delivery(alert: Alert, command: Command) -> bool:
    notification_id = str(command.detail.get("notification") or "")
    if any(h.event == "sent" and h.detail == notification_id for h in alert.history):
        return False
    channel = str(command.detail.get("channel") or "")
    alert.history.append(HistoryEntry(at=command.moment, event="sent", by=channel, detail=notification_id))
    first = alert.first_delivered_at is None
    if first:
        alert.first_delivered_at = command.moment
    alert_index.save(alert, command.listed)
    if first and alert.submitted_at:
        with contextlib.suppress(ValueError):
            submitted = datetime.fromisoformat(alert.submitted_at)
            END_TO_END_SECONDS.observe(max((command.moment - submitted).total_seconds(), 0))
    return True


def escalate(alert: Alert, command: Command) -> bool:
    """Level 1 goes to 综合组, each later level is a reminder (plan_escalation says to whom)."""
    view, settings, moment = command.view, command.settings, command.moment
    level = int(command.detail.get("level") or 0)
    if alert.status != "open" or alert.escalation_level != level - 1:
        finish_planning(alert, view=view, settings=settings)
        return False
    group = str(command.detail.get("to") or settings.escalation_group)
    alert.escalation_level = level
    reminder = group_timers(alert.routes, view, settings).reminder_seconds
    alert.next_escalation_at = escalation_due(moment, reminder, settings)
    timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
    if group not in alert.group_ids:
        alert.group_ids.append(group)
    alert.updated_at = moment
    alert.history.append(
        HistoryEntry(
            at=moment,
            event="escalated" if level == 1 else "reminded",
            by="notify",
            detail=f"to {group}, level {level}",
        )
    )
    alert.pending_plan = "escalation"
    alert_index.save(alert, command.listed)  # stored before it is planned: see finish_planning
    failpoint("notify.escalated.after-store")
    plan_escalation(alert, view=view, settings=settings, group=group)
    planned(alert)
    return True


# One handler per command; each returns whether it changed the case (then it is saved).
HANDLERS: dict[str, Callable[[Alert, Command], bool]] = {
    "acknowledged": acknowledge_or_resolve,
    "resolved": acknowledge_or_resolve,
    "commented": comment,
    "reopened": reopen,
    "coordinating": coordinate,
    "delivered": record_delivery,
    "escalated": escalate,
}


def command_applied(alert_id: str, command_id: str) -> Alert | None:
    alert = Alert.objects(alert_id=alert_id).first()
    if alert is None or not any(entry.ref == command_id for entry in alert.history):
        return None
    return alert


def action_applied(alert_id: str, action: str) -> Alert | None:
    """The alert once the writer has applied the action (read your write), else None."""
    alert = Alert.objects(alert_id=alert_id).first()
    if alert is None:
        return None
    done = alert.status == ACTION_TARGETS[action] or (action == "ack" and alert.status == "resolved")
    return alert if done else None
