"""The platform that `make up` leaves running, seen from outside as a user sees it."""

import json
import os
import time

import httpx
import pytest

pytestmark = pytest.mark.integration
REGISTRY = "http://127.0.0.1:8002"
PROMETHEUS = "http://127.0.0.1:9090"


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=5)
    except httpx.TransportError as error:
        pytest.fail(f"{url} is not answering ({error}); run `make up` first")
    return response.status_code, response.content


@pytest.fixture(scope="module")
def admin_token() -> str:
    return os.environ.get("LIAISON_ADMIN_TOKEN", "liaison-dev-admin-token")


def test_registry_is_healthy_and_seeded(admin_token):
    status, body = get(f"{REGISTRY}/healthz")
    assert status == 200
    entities = json.loads(body)["entities"]
    assert (entities["group"], entities["work_group"]) == (8, 20)
    status, body = get(f"{REGISTRY}/v1/enterprises?is_key=true", admin_token)
    assert status == 200 and len(json.loads(body)) == 14


def test_registry_refuses_a_caller_without_a_token():
    status, body = get(f"{REGISTRY}/v1/groups")
    assert status == 401 and "detail" in json.loads(body)


def test_prometheus_scrapes_the_registry():
    deadline = time.monotonic() + 30
    while True:
        status, body = get(f"{PROMETHEUS}/api/v1/targets")
        assert status == 200
        targets = json.loads(body)["data"]["activeTargets"]
        registry = [t for t in targets if t["labels"].get("job") == "liaison-registry"]
        if registry and registry[0]["health"] == "up":
            break
        assert time.monotonic() < deadline, f"registry target not up in Prometheus: {registry}"
        time.sleep(1)
    status, body = get(f"{PROMETHEUS}/api/v1/query?query=liaison_registry_entities")
    series = json.loads(body)["data"]["result"]
    assert {s["metric"]["entity_type"] for s in series} >= {"group", "work_group", "enterprise"}
