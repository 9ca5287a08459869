"""API tokens: issued by the registry, accepted by every service.

A token is 32 random bytes shown once; only its SHA-256 is stored. SHA-256 (not a slow
password hash) is right here because the secret has 256 bits of entropy: nothing to
brute-force, and every request can check it cheaply.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import mongoengine as me

TOKEN_PREFIX = "lsn_"  # noqa: S105  (a marker that makes leaked tokens easy to grep for)
SUBJECT_TYPES = ("enterprise", "work_group", "group", "admin")


class ApiToken(me.Document):
    meta = {"collection": "api_tokens", "indexes": [{"fields": ["token_hash"], "unique": True}]}

    token_id = me.StringField(primary_key=True)
    token_hash = me.StringField(required=True)
    subject_type = me.StringField(required=True, choices=SUBJECT_TYPES)
    subject_id = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    expires_at = me.DateTimeField()
    revoked_at = me.DateTimeField()
    description = me.StringField()


@dataclass(frozen=True)
class Principal:
    subject_type: str
    subject_id: str
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.subject_type == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(
    *, subject_type: str, subject_id: str, expires_at: datetime | None = None, description: str = ""
) -> tuple[str, ApiToken]:
    """Store a new token's hash; return the token (shown once) and its record."""
    token = new_token()
    record = ApiToken(
        token_id=secrets.token_hex(8),
        token_hash=hash_token(token),
        subject_type=subject_type,
        subject_id=subject_id,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
        description=description,
    )
    record.save(force_insert=True)
    return token, record


# Recent answers per token hash, so that a busy client does not cost a database read per
# request. A revocation therefore takes effect within CACHE_SECONDS on every service.
CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, "Principal | None"]] = {}


NOT_CACHED = Principal("", "")  # authenticate_from_memory's answer when only the store knows


ADMIN_DIGEST_PREFIX = "sha256:"


def is_admin_token(token: str, admin_token: str) -> bool:
    """The admin token as the service holds it: the token itself, or `sha256:<hex digest>` for a
    service that only checks it and never sends it (ingest faces the internet, so a copy of its
    environment must not hand out the admin's powers; issue 35.12)."""
    if admin_token.startswith(ADMIN_DIGEST_PREFIX):
        expected = admin_token[len(ADMIN_DIGEST_PREFIX) :].strip().lower()
        return hmac.compare_digest(hash_token(token).encode(), expected.encode())
    return hmac.compare_digest(token.encode(), admin_token.encode())


def authenticate_from_memory(token: str, *, admin_token: str) -> Principal | None:
    """authenticate's answer when it needs no database read (the admin token, or a token
    answered in the last CACHE_SECONDS), else NOT_CACHED: cheap enough for the event loop."""
    if admin_token and is_admin_token(token, admin_token):
        return Principal("admin", "admin")
    cached = _cache.get(hash_token(token))  # looked up by hash: timing reveals nothing of the secret
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return NOT_CACHED


def authenticate(token: str, *, admin_token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is unknown, revoked or expired."""
    remembered = authenticate_from_memory(token, admin_token=admin_token)
    if remembered is not NOT_CACHED:
        return remembered
    token_hash = hash_token(token)
    principal, expires_at = _lookup(token_hash)
    if len(_cache) > 10_000:
        _cache.clear()
    keep = CACHE_SECONDS
    if expires_at is not None:  # never answer from the cache past the token's expiry
        keep = min(keep, max((expires_at - datetime.now(UTC)).total_seconds(), 0.0))
    _cache[token_hash] = (time.monotonic() + keep, principal)
    return principal


def forget(token_hash: str | None = None) -> None:
    """Drop cached answers (all, or one token's): the registry calls it when it revokes."""
    if token_hash is None:
        _cache.clear()
    else:
        _cache.pop(token_hash, None)


def _lookup(token_hash: str) -> tuple[Principal | None, datetime | None]:
    """The token's principal (None when unknown, revoked or expired), and when it expires."""
    record = ApiToken.objects(token_hash=token_hash).first()
    if record is None or record.revoked_at is not None:
        return None, None
    expires_at = record.expires_at.replace(tzinfo=UTC) if record.expires_at is not None else None
    if expires_at is not None and expires_at <= datetime.now(UTC):
        return None, None
    return Principal(record.subject_type, record.subject_id, record.token_id), expires_at
