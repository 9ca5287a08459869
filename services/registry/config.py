from pydantic_settings import SettingsConfigDict

from liaison_common import topics
from liaison_common.settings import CommonSettings


class Settings(CommonSettings):
    """Registry settings: the shared ones plus REGISTRY_* variables."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", populate_by_name=True)

    topic: str = topics.REGISTRY
    dlq_topic: str = topics.DLQ
    # The consumer group of the guard that sends what is unusable on the topic to the DLQ.
    guard_group: str = "liaison-registry-guard"
    # Every write wakes the outbox at once; this poll only catches changes made by another
    # process (the seed loader, a second instance), so an idle registry stays quiet.
    outbox_poll_seconds: float = 10.0
    outbox_batch_size: int = 500
    # Webhook targets on loopback, private or link-local addresses are refused unless allowed:
    # `make up` allows them (the receivers of a local installation run on the same machine).
    allow_private_webhooks: bool = False
    # Off only in tests that exercise the HTTP API without a broker.
    publish_enabled: bool = True
