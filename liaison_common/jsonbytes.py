"""JSON as Kafka values: UTF-8, Chinese kept as is, datetimes in ISO 8601."""

import json
from datetime import date, datetime
from typing import Any


def _default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":")).encode("utf-8")
