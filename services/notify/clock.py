"""Notify's clock: the time now in UTC, and the database's dates made comparable with it."""

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A grouping window's notification leaves this long after the window ends, so that an alert
# planned at the window's last moment is in it.


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """mongoengine may hand back naive UTC datetimes; make them comparable."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------ pure rules
