from liaison_common import tokens
from liaison_common.tokens import TOKEN_PREFIX, hash_token, new_token


def test_new_tokens_are_random_prefixed_and_long():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith(TOKEN_PREFIX) and len(t) >= 40 for t in tokens)


def test_only_a_hash_is_stored_and_it_is_stable():
    token = new_token()
    assert hash_token(token) == hash_token(token)
    assert token not in hash_token(token)
    assert hash_token(token) != hash_token(token + "x")


def test_the_admin_token_is_compared_in_constant_time(monkeypatch):
    """Every service authenticates through liaison_common.tokens.authenticate (the one place),
    which compares the admin token with hmac.compare_digest."""
    compared: list[tuple[bytes, bytes]] = []
    real = tokens.hmac.compare_digest
    monkeypatch.setattr(tokens.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    admin = "admin-token-0123456789abcdef"
    assert tokens.authenticate(admin, admin_token=admin) == tokens.Principal("admin", "admin")
    assert compared == [(admin.encode(), admin.encode())]


def test_every_service_authenticates_through_the_shared_dependency():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    sources = {path: path.read_text(encoding="utf-8") for path in (root / "services").rglob("*.py")}
    users = {
        path.parent.name
        for path, text in sources.items()
        if "CurrentPrincipal" in text or "AdminPrincipal" in text
    }
    assert {"ingest", "registry", "notify", "console"} <= users
    # Nobody reads the Authorization header its own way (liaison_common.web does it once).
    assert [path.name for path, text in sources.items() if "authenticate_request(" in text] == []


def test_a_service_may_hold_only_the_admin_tokens_digest():
    """Issue 35.12: the internet-facing ingest pod holds `sha256:<digest>`, never the admin token,
    and still knows the admin when it comes."""
    admin = "admin-token-0123456789abcdef"
    digest = f"sha256:{hash_token(admin)}"
    assert tokens.authenticate_from_memory(admin, admin_token=digest) == tokens.Principal("admin", "admin")
    assert tokens.authenticate_from_memory(digest, admin_token=digest) != tokens.Principal("admin", "admin")
    assert tokens.authenticate_from_memory(admin + "x", admin_token=digest) != tokens.Principal(
        "admin", "admin"
    )
