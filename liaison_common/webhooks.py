"""Which webhook targets Liaison will call (pure).

A subscription's target is an http(s) URL without whitespace or control characters. Loopback,
link-local (the cloud metadata address 169.254.169.254 among them), unspecified and private
addresses are refused unless the operator allows them: a local installation, where the
receivers run on the same machine, does (`make up` sets it); a shared deployment should not.
"""

import ipaddress
import socket
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
    return host_problem(host)


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address an HTTP client's resolver makes of `2130706433`, `0x7f000001`, `127.1` or
    `0` (inet_aton's forms), which `ipaddress` does not read."""
    if not host or any(ch not in "0123456789abcdefxABCDEFX." for ch in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def host_problem(host: str) -> str | None:
    """Why a host (a name or an address, as the URL gives it) is not a public address."""
    name = host.lower().rstrip(".")
    if (
        name in METADATA_HOSTS
        or name == "localhost"
        or name.endswith(".localhost")
        or name.endswith(".internal")
    ):
        return f"host {host} is a local or metadata address"
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        address = legacy_ipv4(name)
    if address is None:
        return None  # a name: checked again, resolved, when notify connects (address_problem)
    return address_problem(address)


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Loopback, private, link-local, CGNAT (100.64.0.0/10: one cloud's metadata address is
    100.100.100.200), reserved or any other non-global address is refused."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return f"address {address} is loopback, private, link-local, shared (CGNAT) or reserved"
    return None


def resolved_problem(host: str, port: int | None) -> str | None:
    """At connect time: every address the name resolves to must be public (a name that pointed
    outside when the subscription was made may point inside now: DNS rebinding)."""
    try:
        found = socket.getaddrinfo(host.rstrip("."), port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        return f"host {host} does not resolve: {error}"
    for *_, sockaddr in found:
        problem = address_problem(ipaddress.ip_address(sockaddr[0]))
        if problem:
            return f"host {host} resolves to a refused address ({problem})"
    return None
