from prometheus_client import Counter, Gauge

OUTBOX_PENDING = Gauge(
    "liaison_registry_outbox_pending",
    "Registry changes written to the database and not yet acknowledged by Kafka.",
)
OUTBOX_PUBLISHED = Counter(
    "liaison_registry_outbox_published_total",
    "Registry change events acknowledged by Kafka, by entity type.",
    ["entity_type"],
)
OUTBOX_ERRORS = Counter(
    "liaison_registry_outbox_errors_total",
    "Failed attempts to publish registry changes (retried).",
)
ENTITIES = Gauge(
    "liaison_registry_entities",
    "Entities held by the registry (not deleted), by entity type.",
    ["entity_type"],
)
REGISTRY_WRITES = Counter(
    "liaison_registry_writes_total",
    "Registry writes through the API or the seed loader, by entity type and operation.",
    ["entity_type", "operation"],
)
TOPIC_DEAD_LETTERS = Counter(
    "liaison_registry_topic_dead_letters_total",
    "Messages on liaison.registry.v1 that are not change events, sent to the dead-letter topic.",
)
