"""The dead-letter topic: what is kept of a message that could not be used, and why."""

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The largest dead letter: a 10 MB input, base64-encoded, with its reason. Every producer that
# writes to the dead-letter topic allows this much (the topic is created with this limit).
MAX_DEAD_LETTER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> bytes | None:
        """The first header of that name (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def dead_letter(
    message: RawMessage, *, reason: str, detail: Any, rejected_by: str, now: datetime
) -> dict[str, Any]:
    """The original bytes whole (base64), where they came from, and why they were refused."""
    value = message.value or b""
    return {
        "reason": reason,
        "detail": detail,
        "source": {"topic": message.topic, "partition": message.partition, "offset": message.offset},
        "original_key": message.key.decode("utf-8", "replace") if message.key is not None else None,
        "original_value_base64": base64.b64encode(value).decode("ascii"),
        "original_size": len(value),
        "original_sha256": hashlib.sha256(value).hexdigest(),
        "rejected_at": now.isoformat(),
        "rejected_by": rejected_by,
    }
