from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "liaison_rules_events_total",
    "Events the rules workers processed, by input topic and outcome (ok, dead_lettered).",
    ["topic", "outcome"],
)
PROBLEMS = Counter("liaison_rules_problems_total", "Problems detected, by type.", ["type"])
ALERTS = Counter(
    "liaison_rules_alerts_total",
    "Alerts routed, by group and role (an alert counts once for each group it goes to).",
    ["group_id", "role"],
)
PROCESSING_SECONDS = Histogram(
    "liaison_rules_processing_seconds",
    "Time from taking an event off its topic to handing its output to the producer.",
    ["topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
SUBMISSION_TO_ALERT_SECONDS = Histogram(
    "liaison_rules_submission_to_alert_seconds",
    "Time from a report's submitted_at to its alert leaving rules (meaningful for live reports only).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TABLE_KEYS = Gauge("liaison_rules_table_keys", "Keys held in each Faust table on this worker.", ["table"])
CONSUMER_LAG = Gauge(
    "liaison_rules_consumer_lag",
    "Messages not yet processed on each assigned input partition of this worker.",
    ["topic", "partition"],
)
REGISTRY_ENTITIES = Gauge(
    "liaison_rules_registry_entities", "Entities this worker knows from liaison.registry.v1.", ["entity_type"]
)
