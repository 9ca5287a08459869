"""The fault suite's fixtures: a Liaison of its own (see cluster.py) and the report's rows."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import report
from tests.faults.cluster import Cluster

SCENARIOS: list[report.Scenario] = []


# Package scope: the cluster (a broker, FerretDB and four services) stops once the fault suite
# is done, instead of loading the machine under every later test of `make test` (a rules test
# that shares a busy machine with it fell short of its cases in two full runs).
@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = Path(tmp_path_factory.mktemp("fault-cluster"))
    cluster = Cluster(root)
    started = time.monotonic()
    try:
        cluster.start()
        print(f"fault cluster up in {time.monotonic() - started:.0f} s; logs in {root / 'logs'}")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def healthy_cluster(cluster: Cluster) -> Cluster:
    """The cluster with every process running (a test before may have stopped one)."""
    cluster.ensure_running()
    return cluster


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> report.Scenario:
    area = Path(str(request.node.fspath)).stem.removeprefix("test_").replace("_", " ")
    row = report.Scenario(key=request.node.name, area=area)
    row.run_at = report.now()
    row.seconds = time.monotonic()
    SCENARIOS.append(row)
    return row


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    result = outcome.get_result()  # type: ignore[attr-defined]
    row = getattr(item, "funcargs", {}).get("scenario")
    if not isinstance(row, report.Scenario):
        return
    if result.when == "call" or (result.when == "setup" and result.failed):
        row.seconds = time.monotonic() - row.seconds
        if result.passed:
            row.result = "passed"
        else:
            message = str(getattr(result.longrepr, "reprcrash", None) or result.longrepr)
            row.result = "failed: " + message.splitlines()[-1][:160].replace("|", "/")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    done = [row for row in SCENARIOS if row.result != "not run"]
    if done:
        path = report.write(done)
        print(f"\nreliability report: {path} ({len(done)} scenarios)")
