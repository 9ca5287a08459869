"""Small helpers for aiokafka clients that every service uses."""

import logging
from typing import Any

log = logging.getLogger(__name__)


async def stop_quietly(*clients: Any) -> None:
    """Stop each client; a half-started one may fail to stop, and there is nothing to save then."""
    for client in clients:
        try:
            await client.stop()
        except Exception as error:
            log.debug("stopping a Kafka client: %r", error)
