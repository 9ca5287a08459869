"""The channels a notification leaves by: a signed webhook (to a public address only) and email;
what each attempt carries. services/notify/delivery.py decides when to send, and records it."""

import ipaddress
import logging
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from anyio import to_thread

from liaison_common import jsonbytes
from liaison_common.webhooks import host_problem, legacy_ipv4, resolved_problem
from services.notify import documents, payloads
from services.notify.config import Settings
from services.notify.documents import Alert, Notification, NotificationItem

log = logging.getLogger(__name__)

# Each webhook subscription's own signing secret (from the registry), by subscription id; the
# app sets it from its registry view. Without one, NOTIFY_WEBHOOK_SECRET signs.
subscription_secret: Callable[[str], str | None] = lambda subscription_id: None  # noqa: E731


class DeliveryFailed(Exception):
    pass


async def send_webhook(
    client: httpx.AsyncClient, notification: Notification, body: bytes, settings: Settings
) -> None:
    timestamp = str(int(time.time()))
    secret = subscription_secret(notification.subscription_id) or settings.webhook_secret.get_secret_value()
    headers = {
        "Content-Type": "application/json",
        "X-Liaison-Timestamp": timestamp,
        "X-Liaison-Signature": payloads.signature(secret, timestamp, body),
        "Idempotency-Key": notification.key,
    }
    refused = await _target_refused(notification.target or "", settings)
    if refused:
        raise DeliveryFailed(f"target refused: {refused}")
    try:
        answer = await client.post(
            notification.target or "", content=body, headers=headers, timeout=settings.webhook_timeout_seconds
        )
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        # A bad target (a newline, no scheme) fails this notification, never the delivery pass.
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
    if not 200 <= answer.status_code < 300:
        # The status only: the receiver's reply is not for the groups to read (issue 35.8).
        log.info("webhook %s answered %s: %r", notification.key, answer.status_code, answer.text[:200])
        raise DeliveryFailed(f"HTTP {answer.status_code}")


async def _target_refused(target: str, settings: Settings) -> str | None:
    """A target named by a host name, resolved now: refused when it points inside."""
    if settings.allow_private_webhooks:
        return None
    try:
        parts = urlsplit(target)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None  # the client says what is wrong with it
    if not host or _is_address(host):
        return None  # an address as written: the registry checked it when it took the target
    named = host_problem(host)  # localhost., metadata.google.internal., …
    if named is not None:
        return named
    return await to_thread.run_sync(resolved_problem, host, port)


def _is_address(host: str) -> bool:
    """An IP address in any form the client reads as one (127.1 and 2130706433 included)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return legacy_ipv4(host) is not None


def send_email(notification: Notification, subject: str, text: str, settings: Settings) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = notification.target or ""
    message["Subject"] = subject
    message["Message-ID"] = f"<{notification.key.replace('|', '.')}@liaison>"
    message.set_content(text)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.webhook_timeout_seconds
        ) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


async def deliver(client: httpx.AsyncClient, notification: Notification, settings: Settings) -> None:
    if notification.kind == "digest":
        if notification.channel == "webhook":
            body = jsonbytes.dumps(payloads.digest_webhook_payload(notification))
            await send_webhook(client, notification, body, settings)
        elif notification.channel == "email":
            await to_thread.run_sync(
                send_email, notification, notification.subject or "", notification.body or "", settings
            )
        return
    alert_ids = await to_thread.run_sync(alerts_of, notification)
    carried = await to_thread.run_sync(_carried_alerts, alert_ids)
    notification.alert_ids = alert_ids  # what this attempt carries, recorded on delivery
    if notification.channel == "webhook":
        await send_webhook(
            client, notification, jsonbytes.dumps(payloads.webhook_payload(notification, carried)), settings
        )
    elif notification.channel == "email":
        subject, text = payloads.email_text(notification, carried)
        await to_thread.run_sync(send_email, notification, subject, text, settings)


def _carried_alerts(alert_ids: list[str]) -> list[dict[str, Any]]:
    """The alerts, in order, one lookup by id each: FerretDB serves an _id equality from an
    index (infra/postgres/ferretdb-indexes.sql) but answers `$in` by reading every alert."""
    found = (Alert.objects(alert_id=alert_id).first() for alert_id in alert_ids)
    return [documents.alert_dict(alert) for alert in found if alert is not None]


def alerts_of(notification: Notification) -> list[str]:
    """The alerts a notification carries: its own list and the items planned into it, in order."""
    items = NotificationItem.objects(key=notification.key).order_by("created_at").only("alert_id")
    found = list(notification.alert_ids)
    found += [item.alert_id for item in items if item.alert_id not in found]
    return found
