"""JSON as Kafka values: UTF-8, Chinese kept as is, datetimes in ISO 8601.

orjson writes it (several times faster than the standard library, which showed in the rules
worker's profile); what orjson refuses (an integer beyond 64 bits, a key that is not a string)
falls back to the standard library, so every value that was JSON before still is.
"""

import json
from datetime import date, datetime
from typing import Any

import orjson


def _default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_default)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":")).encode("utf-8")
