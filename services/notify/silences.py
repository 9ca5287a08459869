"""Silences and inhibition (docs/contract.md §6): what keeps a group from being notified.

A silence matches an alert for one group when every matcher it names (enterprise_id, type,
group_id) equals the alert's (the group's, for group_id) and it is in force. Inhibition: an
open major incident of an enterprise mutes deliveries of its production halts and workforce
cuts, which the incident explains. Silenced and inhibited alerts are stored and listed as
usual; only their deliveries are held back, and the alert says why.

Active silences are held in memory (read again every CACHE_SECONDS, and at once after a change
here), so that planning a notification costs no query.
"""

import secrets
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from services.notify.documents import Alert, Silence

BEIJING = timezone(timedelta(hours=8))

INHIBITED_BY_INCIDENT = ("production_halt", "workforce_cut")
MATCHER_FIELDS = ("enterprise_id", "type", "group_id")
CACHE_SECONDS = 10.0

_lock = threading.Lock()
_active: list[dict[str, Any]] = []
_loaded_at = -1e9


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def silence_dict(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.silence_id,
        "matchers": dict(silence.matchers or {}),
        "starts_at": _aware(silence.starts_at).isoformat(),
        "ends_at": _aware(silence.ends_at).isoformat(),
        "comment": silence.comment or "",
        "created_by": silence.created_by,
        "created_at": _aware(silence.created_at).isoformat(),
    }


def matches(silence: dict[str, Any], alert: dict[str, Any], group_id: str, moment: datetime) -> bool:
    """Pure: does this silence hold back the alert's delivery to this group at this moment?"""
    if (
        not datetime.fromisoformat(silence["starts_at"])
        <= moment
        < datetime.fromisoformat(silence["ends_at"])
    ):
        return False
    wanted = silence["matchers"]
    actual = {"enterprise_id": alert.get("enterprise_id"), "type": alert.get("type"), "group_id": group_id}
    return all(wanted[name] == actual[name] for name in MATCHER_FIELDS if wanted.get(name))


def active(moment: datetime | None = None) -> list[dict[str, Any]]:
    global _active, _loaded_at
    with _lock:
        if time.monotonic() - _loaded_at > CACHE_SECONDS:
            at = moment or datetime.now(UTC)
            _active = [silence_dict(s) for s in Silence.objects(ends_at__gt=at)]
            _loaded_at = time.monotonic()
        return list(_active)


def invalidate() -> None:
    global _loaded_at
    with _lock:
        _loaded_at = -1e9


def create(
    *, matchers: dict[str, str], starts_at: datetime, ends_at: datetime, comment: str, created_by: str
) -> dict[str, Any]:
    silence = Silence(
        silence_id="sil-" + secrets.token_hex(6),
        matchers={k: v for k, v in matchers.items() if v},
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    silence.save(force_insert=True)
    invalidate()
    return silence_dict(silence)


def expire(silence_id: str) -> dict[str, Any] | None:
    silence = Silence.objects(silence_id=silence_id).first()
    if silence is None:
        return None
    moment = datetime.now(UTC)
    if _aware(silence.ends_at) > moment:
        silence.ends_at = moment
        silence.save()
    invalidate()
    return silence_dict(silence)


def reasons_not_to_deliver(alert: Alert, group_id: str, moment: datetime) -> list[dict[str, Any]]:
    """The silences and inhibitions that hold back this alert's delivery to this group."""
    data = {"enterprise_id": alert.enterprise_id, "type": alert.type}
    found = [
        {
            "kind": "silence",
            "id": s["id"],
            "group_id": group_id,
            "at": moment.isoformat(),
            "reason": s["comment"] or "静默",
            "ends_at": s["ends_at"],
        }
        for s in active(moment)
        if matches(s, data, group_id, moment)
    ]
    # 协调中: a case being coordinated is not notified again before the date its group named
    # (a reopening meanwhile goes to the inboxes only); the news that it ended always goes out.
    until = _aware(alert.coordinating_until) if alert.coordinating_until else None
    if until is not None and moment < until and alert.status != "resolved":
        held = {"kind": "coordination", "id": alert.alert_id, "group_id": group_id, "at": moment.isoformat()}
        reason = f"协调中，至 {until.astimezone(BEIJING):%Y-%m-%d %H:%M}（北京时间）"
        found.append({**held, "reason": reason, "ends_at": until.isoformat()})
    if alert.type in INHIBITED_BY_INCIDENT and alert.enterprise_id:
        incident = (
            Alert.objects(enterprise_id=alert.enterprise_id, type="major_incident", status__ne="resolved")
            .only("alert_id")
            .first()
        )
        if incident is not None:
            reason = "本企业的重大事件尚未办结，本预警由其引起（抑制）"
            held = {"kind": "inhibition", "id": incident.alert_id, "group_id": group_id}
            found.append({**held, "at": moment.isoformat(), "reason": reason})
    return found
