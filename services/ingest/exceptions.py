class IngestError(Exception):
    """Base of the errors ingest answers on purpose."""


class BrokerUnavailable(IngestError):
    """Kafka did not acknowledge in time: the caller should retry (503 with Retry-After)."""


class RegistryNotReady(IngestError):
    """The registry topic has not been read to its end yet, so ids cannot be checked."""
