"""Which webhook targets Liaison will call (pure).

A subscription's target is an http(s) URL without whitespace or control characters. Loopback,
link-local (the cloud metadata address 169.254.169.254 among them), unspecified and private
addresses are refused unless the operator allows them: a local installation, where the
receivers run on the same machine, does (`make up` sets it); a shared deployment should not.
"""

import ipaddress
from urllib.parse import urlsplit

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def webhook_target_problem(target: str | None, *, allow_private: bool) -> str | None:
    """Why this target may not be called, or None when it may."""
    if not target:
        return "a webhook subscription needs a target URL"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "the URL contains whitespace or control characters"
    try:
        parts = urlsplit(target)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as error:
        return f"not a URL: {error}"
    if parts.scheme not in ("http", "https") or not host:
        return "the URL must be http:// or https:// with a host"
    if parts.username or parts.password:
        return "the URL must not carry credentials; the payload is signed instead"
    if allow_private:
        return None
    if host.lower() in METADATA_HOSTS or host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return f"host {host} is a local or metadata address"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: resolved by the network at delivery time
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    ):
        return f"address {host} is loopback, link-local, private or reserved"
    return None
