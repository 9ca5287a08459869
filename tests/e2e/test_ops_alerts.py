"""Issue 40.2 on the running platform: a service stops, Prometheus' rule fires, Alertmanager has
the alert and routes it to the operators' receiver (by default the local log of `make up`); the
service starts again and the receiver is told it resolved."""

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER = "http://127.0.0.1:9094"
OPS_LOG = REPO / ".local" / "logs" / "ops-alerts.log"


def console_down_alerts() -> list[dict]:
    answer = httpx.get(
        f"{ALERTMANAGER}/api/v2/alerts", params={"filter": 'alertname="LiaisonServiceDown"'}, timeout=5
    )
    answer.raise_for_status()
    return [a for a in answer.json() if a["labels"].get("job") == "liaison-console"]


def logged_since(moment: str, status: str) -> list[dict]:
    if not OPS_LOG.exists():
        return []
    lines = [json.loads(line) for line in OPS_LOG.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        line
        for line in lines
        if line["received_at"] >= moment
        and line["alertname"] == "LiaisonServiceDown"
        and line["labels"].get("job") == "liaison-console"
        and line["status"] == status
    ]


def wait(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(2)


@pytest.mark.skipif(
    os.environ.get("LIAISON_OPS_WEBHOOK_URL") is not None, reason="the operators set their own receiver"
)
def test_a_stopped_service_alerts_the_operators_and_its_return_resolves_it():
    assert httpx.get(f"{ALERTMANAGER}/api/v2/status", timeout=5).status_code == 200
    started = datetime.now(UTC).isoformat()
    pid = int((REPO / ".local" / "run" / "console.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    try:
        wait("the alert at Alertmanager", lambda: console_down_alerts() != [], timeout=240)
        [alert] = console_down_alerts()
        assert alert["labels"]["severity"] == "critical" and alert["status"]["state"] == "active"
        wait(
            "the firing alert in the operators' log",
            lambda: logged_since(started, "firing") != [],
            timeout=120,
        )
    finally:
        subprocess.run(
            ["bash", "scripts/platform.sh", "up"], cwd=REPO, env={**os.environ, "DEMO": "0"},
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    wait("the resolution in the operators' log", lambda: logged_since(started, "resolved") != [], timeout=300)
    assert console_down_alerts() == [] or all(a["status"]["state"] != "active" for a in console_down_alerts())
