"""What a receiver gets (pure): Alertmanager's webhook form, e-mail text, the signature, and the
backoff between attempts."""

import hashlib
import hmac
import random
from typing import Any

from services.notify.clock import aware, now
from services.notify.config import Settings
from services.notify.documents import Notification


def backoff(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random. The exponent is
    capped (issue 35.5): 2.0 ** 1024 overflows, and a receiver failing for days reached it."""
    exponent = min(max(attempts - 1, 0), 60)
    step = min(settings.retry_max_seconds, settings.retry_initial_seconds * 2.0**exponent)
    return step / 2 + (rng or random).uniform(0, step / 2)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over '<timestamp>.<body>', as X-Liaison-Signature: sha256=<hex>."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def measures_text(alert: dict[str, Any]) -> str:
    """The seed's measures for the alert, one line each (an annotation is a string)."""
    return "\n".join(f"{m.get('action')}（{m.get('ref')}）" for m in alert.get("measures") or [])


def webhook_payload(notification: Notification, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Alertmanager's webhook format (version 4), so existing receivers can take it, plus ours."""
    first = alerts[0] if alerts else {}
    return {
        "version": "4",
        "groupKey": notification.key,
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] != "resolved" for a in alerts) else "resolved",
        "receiver": notification.subscription_id,
        "groupLabels": {"group_id": notification.group_id, "type": first.get("type", "")},
        "commonLabels": {"group_id": notification.group_id, "type": first.get("type", "")},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [
            {
                "status": "resolved" if a["status"] == "resolved" else "firing",
                "labels": {
                    "alertname": a["type"],
                    "alert_id": a["alert_id"],
                    "severity": a["severity"],
                    "enterprise_id": a.get("enterprise_id") or "",
                    "work_group_id": a.get("work_group_id") or "",
                    "group_id": notification.group_id,
                },
                "annotations": {"summary": a.get("summary") or "", "measures": measures_text(a)},
                "startsAt": a.get("detected_at") or "",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": hashlib.sha256(a["alert_id"].encode()).hexdigest()[:16],
            }
            for a in alerts
        ],
        "liaison": {
            "notification_id": notification.key,
            "kind": notification.kind,
            "group_id": notification.group_id,
            "alerts": [{k: v for k, v in a.items() if k != "history"} for a in alerts],
        },
    }


def digest_webhook_payload(notification: Notification) -> dict[str, Any]:
    """A weekly digest in Alertmanager's webhook form (version 4) too: one alert of its own whose
    annotations carry the text, so a receiver built on Alertmanager's message type decodes it."""
    digest = notification.digest or {}
    created = aware(notification.created_at) or now()
    labels = {
        "alertname": "weekly_digest",
        "group_id": notification.group_id,
        "week": str(digest.get("week", "")),
    }
    return {
        "version": "4",
        "groupKey": notification.key,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": notification.subscription_id,
        "groupLabels": {"group_id": notification.group_id, "type": "weekly_digest"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": notification.subject or ""},
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": notification.subject or "",
                    "description": notification.body or "",
                },
                "startsAt": created.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": hashlib.sha256(notification.key.encode()).hexdigest()[:16],
            }
        ],
        "liaison": {
            "kind": "digest",
            "notification_id": notification.key,
            "group_id": notification.group_id,
            "digest": digest,
        },
    }


def email_text(notification: Notification, alerts: list[dict[str, Any]]) -> tuple[str, str]:
    """(subject, body) in Chinese for people."""
    verb = "升级提醒" if notification.kind == "escalation" else "预警"
    subject = (
        f"[Liaison {verb}] {notification.group_id}：{len(alerts)}条 {alerts[0]['type'] if alerts else ''}"
    )
    lines = [f"{notification.group_id}：", ""]
    for a in alerts:
        lines.append(f"- [{a['severity']}] {a.get('summary')}（{a['alert_id']}，状态 {a['status']}）")
        lines += [f"  举措：{m.get('action')}（{m.get('ref')}）" for m in a.get("measures") or []]
    lines += ["", "请在 Liaison 中确认（POST /v1/alerts/{id}/ack）或办结（/resolve）。"]
    return subject, "\n".join(lines)
