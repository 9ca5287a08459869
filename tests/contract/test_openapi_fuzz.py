"""A bounded schemathesis run over each running service's OpenAPI: no input gets a 5xx.

Positive and negative cases (wrong types, missing fields, junk) are generated from the
published OpenAPI and sent to the services `make up` left running.
The schemas are loaded when this module is collected, so the services must be up
(`make test` starts them; `make test-unit` leaves this folder out).
"""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from liaison_client.local import local_admin_token

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {local_admin_token()}"}
BOUND = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _schema(port: int) -> schemathesis.BaseSchema:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
    except httpx.TransportError:
        pytest.fail(f"nothing answers on 127.0.0.1:{port}; run `make up` first", pytrace=False)
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")


ingest_api = _schema(8001)
# Reads only: fuzzed writes would scatter junk entities over the running registry.
registry_api = _schema(8002).include(method="GET")
# Ingest is fuzzed with a coordination group's token: every input is parsed and validated as
# usual, but one that passes is refused (403) instead of joining the platform's real data.
GROUP = {
    "Authorization": "Bearer "
    + httpx.post(
        "http://127.0.0.1:8002/v1/tokens",
        json={"subject_type": "group", "subject_id": "comprehensive", "description": "schemathesis"},
        headers=ADMIN,
        timeout=10,
    ).json()["token"]
}


def _no_server_error(case, headers) -> None:
    response = case.call(headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    )


@ingest_api.parametrize()
@BOUND
def test_ingest_answers_no_5xx(case):
    _no_server_error(case, GROUP)


@registry_api.parametrize()
@BOUND
def test_registry_answers_no_5xx(case):
    _no_server_error(case, ADMIN)


# The console's JSON API (the 金融办's calculators), writes included: they compute, store nothing.
# Notify's writes are fuzzed by the fault suite against a cluster of its own (tests/faults/
# test_bad_input.py), where a fuzzed silence or acknowledgement disturbs no other test.
console_api = _schema(8005)


@console_api.parametrize()
@BOUND
def test_console_answers_no_5xx(case):
    _no_server_error(case, GROUP)
