from prometheus_client import Counter, Gauge, Histogram

ALERTS_RECEIVED = Counter(
    "liaison_notify_alerts_received_total",
    "Alert events consumed, by outcome (new, updated, repeat).",
    ["outcome"],
)
DELIVERIES = Counter(
    "liaison_notify_deliveries_total",
    "Notification delivery attempts, by channel and outcome (delivered, retry, expired).",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "liaison_notify_delivery_seconds",
    "Time from a notification's creation to its delivery, by channel.",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)
END_TO_END_SECONDS = Histogram(
    "liaison_end_to_end_seconds",
    "Time from a report's submitted_at to the first delivery of its alert.",
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)
OPEN_ALERTS = Gauge(
    "liaison_notify_open_alerts",
    "Open (unacknowledged) alerts, by group and severity.",
    ["group_id", "severity"],
)
OVERDUE_ALERTS = Gauge(
    "liaison_notify_overdue_alerts",
    "Open cases escalated because their primary group did not acknowledge them in time, by that group.",
    ["group_id"],
)
ESCALATIONS = Counter(
    "liaison_notify_escalations_total", "Escalations and reminders sent to the comprehensive group."
)
PENDING_DELIVERIES = Gauge(
    "liaison_notify_pending_deliveries", "Notifications waiting for delivery or a retry."
)
ACTIONS = Counter("liaison_notify_actions_total", "Acknowledgements and resolutions, by action.", ["action"])
TIME_TO_ACT = Histogram(
    "liaison_notify_time_to_act_seconds",
    "How long a group took from an alert's arrival to acknowledging or resolving it, by group and action.",
    ["group_id", "action"],
    buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400),
)
REGISTRY_ENTITIES = Gauge(
    "liaison_notify_registry_entities",
    "Entities notify knows from liaison.registry.v1 (subscriptions among them), by entity type.",
    ["entity_type"],
)
CASE_READS = Counter(
    "liaison_notify_case_reads_total",
    "Stored cases read to merge a repeat or apply a command, by source: memory (as this writer"
    " saved it last) or database.",
    ["source"],
)
