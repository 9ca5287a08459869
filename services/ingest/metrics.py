from prometheus_client import Counter, Gauge

SUBMISSIONS = Counter(
    "liaison_ingest_submissions_total",
    "Submissions by kind, source (http or kafka) and outcome (accepted, duplicate, rejected).",
    ["kind", "source", "outcome"],
)
REJECTIONS = Counter(
    "liaison_ingest_rejections_total",
    "Rejected submissions by source and reason class.",
    ["source", "reason"],
)
DLQ_EVENTS = Counter(
    "liaison_ingest_dlq_total",
    "Inbound Kafka messages sent to the dead-letter topic, by reason.",
    ["reason"],
)
BROKER_ERRORS = Counter(
    "liaison_ingest_broker_errors_total",
    "Kafka produce failures and timeouts (answered 503, or retried for inbound messages).",
)
REGISTRY_ENTITIES = Gauge(
    "liaison_ingest_registry_entities",
    "Entities ingest knows from liaison.registry.v1, by entity type.",
    ["entity_type"],
)
INBOUND_LAG = Gauge(
    "liaison_ingest_inbound_lag",
    "Messages on liaison.inbound.v1 not yet processed by this instance.",
)
