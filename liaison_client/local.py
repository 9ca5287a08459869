"""Where a local installation keeps its admin token (for tools and tests on the same machine)."""

import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

LOCAL_SECRETS = Path(__file__).resolve().parents[1] / ".local" / "secrets"


def local_admin_token() -> str | None:
    """$LIAISON_ADMIN_TOKEN, else the token `make up` generated in .local/secrets/admin-token."""
    token = os.environ.get("LIAISON_ADMIN_TOKEN")
    if token:
        return token
    path = LOCAL_SECRETS / "admin-token"
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


DATABASE_USER = "liaison"  # the one application user of the local PostgreSQL under FerretDB


def local_secret(name: str) -> str | None:
    path = LOCAL_SECRETS / name
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def local_mongodb_uri(database: str = "liaison", *, host: str = "127.0.0.1:27017") -> str:
    """$MONGODB_URI's server with `database`, else the local FerretDB with the application user's
    credentials that `make up` generated (.local/secrets/database-password). FerretDB 1.x takes
    them as PLAIN and hands them to PostgreSQL, which checks them (scram-sha-256)."""
    configured = os.environ.get("MONGODB_URI")
    if configured:
        return with_database(configured, database)
    password = local_secret("database-password")
    if password is None:
        return f"mongodb://{host}/{database}"
    return f"mongodb://{DATABASE_USER}:{quote(password, safe='')}@{host}/{database}?authMechanism=PLAIN"


def with_database(uri: str, database: str) -> str:
    """The same server, user and options, another database."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
