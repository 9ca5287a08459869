from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from liaison_common import topics
from liaison_common.settings import CommonSettings


class Settings(CommonSettings):
    """Notify settings: the shared ones plus NOTIFY_* variables."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    alerts_topic: str = topics.ALERTS
    alert_events_topic: str = topics.ALERT_EVENTS
    alert_index_topic: str = topics.ALERT_INDEX
    reporting_topic: str = topics.REPORTING
    registry_topic: str = topics.REGISTRY
    dlq_topic: str = topics.DLQ
    consumer_group: str = "liaison-notify"
    # Once the alert index is loaded, freeze what start-up built out of later garbage collections
    # (liaison_common/heap.py): full collections over it paused every alert 147-243 ms. Off by
    # default: after a year's load notify then held 257 MB, not 172-182 (docs/benchmarks.md).
    settle_heap: bool = False

    # Webhook payloads are signed with HMAC-SHA256 under this key (X-Liaison-Signature).
    webhook_secret: SecretStr = SecretStr("liaison-dev-webhook-secret")
    webhook_timeout_seconds: float = 5.0
    # A webhook target named by a host name is resolved when notify connects, and refused when it
    # resolves to a loopback, private, link-local, CGNAT or metadata address (DNS rebinding: the
    # registry checked the name when the subscription was made). `make up` allows them (its
    # receivers run on this machine), as REGISTRY_ALLOW_PRIVATE_WEBHOOKS does.
    allow_private_webhooks: bool = False
    # Per-token caps (issue 35.11; a clear 429 past them): each stream is fed every alert, and
    # every active silence is re-read every 10 s and scanned at each planning.
    max_streams_per_token: int = Field(default=5, ge=1, le=1000)
    max_silences_per_creator: int = Field(default=100, ge=1, le=100_000)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_from: str = "liaison@localhost"

    # Alerts for the same group and type within this window go out as one notification.
    group_wait_seconds: float = 5.0
    # A window's notification carries at most this many alerts; the next ones open a new window.
    # It bounds a payload (and the cost of each retry to a receiver that is down).
    max_alerts_per_notification: int = 100
    # Delivery retries: exponential backoff with jitter, from `retry_initial` up to `retry_max`,
    # until delivered or `delivery_expiry` after the notification was created.
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    delivery_expiry_seconds: float = 24 * 3600.0
    # High and critical alerts, and every major incident, not acknowledged within this delay
    # are escalated to the comprehensive group, and reminded every `escalation_repeat`.
    escalation_delay_seconds: float = 2 * 3600.0
    escalation_repeat_seconds: float = 3600.0
    # Count those delays on working days only (weekends, and the days off and make-up working
    # days of services/notify/data/holidays.json; Beijing time), so that none runs out over a
    # holiday. Off by default: a delay is wall-clock time.
    working_days_only: bool = False
    # A case acknowledged and left unresolved this long is re-triggered: open again, its groups
    # told again, its escalation timer restarted (72 h; 0 turns it off).
    ack_timeout_seconds: float = 72 * 3600.0
    escalation_group: str = "comprehensive"
    # Alerts resolved longer ago than this move to the read-only archive (26 weeks by default).
    archive_after_days: float = 182.0
    archive_every_seconds: float = 3600.0
    # How often the open-alerts gauge is recounted: a count reads every open alert (FerretDB
    # cannot count from an index), so an idle notify does it rarely.
    open_alerts_count_seconds: float = 300.0
    # How often the dispatcher looks for due notifications, and for due escalations.
    poll_seconds: float = 0.5
    # An acknowledgement or resolution answers once the alert's writer has applied it, or 503
    # after this long (the change is recorded and will still be applied).
    action_timeout_seconds: float = 15.0
