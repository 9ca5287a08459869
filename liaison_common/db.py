"""One MongoDB connection per process, through mongoengine."""

import mongoengine as me


def connect(uri: str) -> None:
    """Connect the default alias; short timeouts so that a database outage answers 503 fast."""
    me.disconnect()
    me.connect(
        host=uri,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        tz_aware=True,
        uuidRepresentation="standard",
    )


def disconnect() -> None:
    me.disconnect()
