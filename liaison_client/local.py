"""Where a local installation keeps its admin token (for tools and tests on the same machine)."""

import os
from pathlib import Path

LOCAL_SECRETS = Path(__file__).resolve().parents[1] / ".local" / "secrets"


def local_admin_token() -> str | None:
    """$LIAISON_ADMIN_TOKEN, else the token `make up` generated in .local/secrets/admin-token."""
    token = os.environ.get("LIAISON_ADMIN_TOKEN")
    if token:
        return token
    path = LOCAL_SECRETS / "admin-token"
    return path.read_text(encoding="utf-8").strip() if path.exists() else None
