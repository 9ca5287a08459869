"""Real rules workers (Faust processes) on topics of the test's own."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.kafka_helpers import make_topic, registry_topic_with_the_seed

TOPIC_SETTINGS = (
    "reports_topic", "incidents_topic", "workgroup_reports_topic", "problems_topic",
    "alerts_topic", "dlq_topic", "reporting_topic",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def seeded_registry_topic(kafka_bootstrap: str) -> str:
    return registry_topic_with_the_seed(kafka_bootstrap, f"test.rules-registry.{time.time_ns()}")


@pytest.fixture
def rules_topics(kafka_bootstrap: str, unique_name: str, seeded_registry_topic: str) -> dict[str, str]:
    names = {
        setting: f"test.rules.{setting.removesuffix('_topic')}.{unique_name}" for setting in TOPIC_SETTINGS
    }
    for name in names.values():
        make_topic(kafka_bootstrap, name, partitions=3)
    names["periods_topic"] = make_topic(kafka_bootstrap, f"test.rules.periods.{unique_name}", partitions=1)
    names["registry_topic"] = seeded_registry_topic
    return names


class Worker:
    """One `python -m services.rules worker` process with its own web port and data folder."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.env = {**env, "RULES_WEB_PORT": str(self.port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Worker":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.rules", "worker", "-l", "info", "--web-port", str(self.port)],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if answer.status_code == 200 and answer.json()["assigned_partitions"] > 0:
                    return answer.json()
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"rules worker not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def health(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).json()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def rules_env(
    kafka_bootstrap: str, rules_topics: dict[str, str], unique_name: str, tmp_path: Path
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RULES_")}
    env.update({f"RULES_{setting.upper()}": topic for setting, topic in rules_topics.items()})
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "RULES_APP_ID": f"test-rules-{unique_name}",
            "RULES_DATADIR": str(tmp_path / "rules-data"),
            "RULES_OVERDUE_CHECK_SECONDS": "1",
            # Few reporters leave some partitions empty: let them stop holding time back soon.
            "RULES_IDLE_SOURCE_SECONDS": "3",
        }
    )
    return env


@pytest.fixture
def spawn_worker(rules_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """`spawn_worker()` starts a worker; every one is stopped at the end of the test."""
    started: list[Worker] = []

    def spawn(datadir_suffix: str = "") -> Worker:
        env = {**rules_env, "RULES_DATADIR": rules_env["RULES_DATADIR"] + datadir_suffix}
        worker = Worker(env, tmp_path / f"worker-{len(started)}.log").start()
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()
    # An agent that crashes is restarted by Faust's supervisor, so the test may still pass: a
    # crash is a defect all the same (one made the reporting agent restart at every report).
    crashes = [
        line
        for worker in started
        for line in worker.log.read_text(errors="replace").splitlines()
        if "Crashed reason=" in line
    ]
    assert not crashes, "an agent crashed:\n" + "\n".join(crashes[:5])
