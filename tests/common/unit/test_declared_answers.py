"""Each operation's OpenAPI declares the error answers it can give, not a blanket list.

The fault suite's schemathesis run checks every status code it meets against these declarations;
a blanket 400–503 on every operation would make that check pass whatever a service answered.
"""

from typing import Any

import pytest

ADMIN_TOKEN = "declared-answers-admin-token-0123456789"


def _operations(service: str, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], set[str]]:
    monkeypatch.setenv("LIAISON_ADMIN_TOKEN", ADMIN_TOKEN)
    module: Any = __import__(f"services.{service}.app", fromlist=["create_app"])
    spec = module.create_app().openapi()
    return {
        (method.upper(), path): set(operation["responses"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


@pytest.mark.parametrize("service", ["ingest", "registry", "notify"])
def test_health_declares_no_authentication_answers(service, monkeypatch):
    health = _operations(service, monkeypatch)[("GET", "/healthz")]
    assert "503" in health
    assert not health & {"401", "403", "404", "409"}


def test_registry_reads_declare_no_conflict_and_writes_do(monkeypatch):
    operations = _operations("registry", monkeypatch)
    assert "409" not in operations[("GET", "/v1/groups")]
    assert "409" not in operations[("GET", "/v1/groups/{entity_id}")]
    assert "404" not in operations[("GET", "/v1/groups")]  # a list is never "not found"
    assert "409" in operations[("POST", "/v1/groups")]  # the id is in use
    assert "409" in operations[("DELETE", "/v1/groups/{entity_id}")]  # still named by others
    assert "400" in operations[("PATCH", "/v1/groups/{entity_id}")]  # a body that is not text


def test_notify_declares_conflicts_only_where_an_alert_changes(monkeypatch):
    operations = _operations("notify", monkeypatch)
    for action in ("ack", "resolve", "comments"):
        assert "409" in operations[("POST", f"/v1/alerts/{{alert_id}}/{action}")]
    conflicting = sorted(op for op, codes in operations.items() if "409" in codes)
    assert all(method == "POST" and path.startswith("/v1/alerts/") for method, path in conflicting)
    assert "404" not in operations[("GET", "/v1/alerts")]


def test_ingest_submissions_declare_a_conflict_across_submitters(monkeypatch):
    reports = _operations("ingest", monkeypatch)[("POST", "/v1/reports")]
    assert {"202", "207", "401", "403", "409", "413", "422", "503"} <= reports
    assert "404" not in reports
