from pydantic_settings import SettingsConfigDict

from liaison_common import topics
from liaison_common.settings import CommonSettings


class Settings(CommonSettings):
    """Ingest settings: the shared ones plus INGEST_* variables."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", populate_by_name=True)

    # A batch of 1,000 weekly reports is about 0.5 MB; leave room.
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch_items: int = 1000
    # How many accepted ids ingest remembers (the most recent); older ones are checked by the store.
    duplicate_memory_ids: int = 200_000
    # How long a submission waits for Kafka's acknowledgement before the answer is 503.
    publish_timeout_seconds: float = 5.0
    inbound_group: str = "liaison-ingest-inbound"
    inbound_enabled: bool = True

    inbound_topic: str = topics.INBOUND
    reports_topic: str = topics.REPORTS
    incidents_topic: str = topics.INCIDENTS
    workgroup_reports_topic: str = topics.WORKGROUP_REPORTS
    dlq_topic: str = topics.DLQ
    registry_topic: str = topics.REGISTRY

    def topic_for(self, kind: str) -> str:
        return {
            "enterprise_report": self.reports_topic,
            "incident": self.incidents_topic,
            "workgroup_report": self.workgroup_reports_topic,
        }[kind]
