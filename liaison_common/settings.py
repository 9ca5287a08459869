"""Settings every service shares; each service extends them with its own env prefix.

The contract (docs/contract.md §5) fixes three unprefixed variables: KAFKA_BOOTSTRAP_SERVERS,
MONGODB_URI and LIAISON_ADMIN_TOKEN. They are read under exactly those names; everything a
service adds is read under its prefix (REGISTRY_..., INGEST_...).
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Just the broker address: enough for tools such as topic creation."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default="localhost:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")


class CommonSettings(KafkaSettings):
    mongodb_uri: str = Field(default="mongodb://localhost:27017/liaison", validation_alias="MONGODB_URI")
    admin_token: SecretStr = Field(validation_alias="LIAISON_ADMIN_TOKEN", min_length=16)
    # Request bodies above this many bytes are refused with 413 before they are parsed.
    max_body_bytes: int = 1_048_576
