"""Fixtures shared by the suite. Integration tests use the real local Kafka and FerretDB
(`make up` or `make test` starts them); each test gets its own database and topics."""

import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liaison_client.local import local_mongodb_uri, with_database
from liaison_common.kafka_auth import use_local_kafka_admin

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed" / "000_41750fd7ee36e10e.txt"
KAFKA = "127.0.0.1:9092"
# The local FerretDB asks for credentials (the application user `make up` made): the suite's
# clients and the services it runs in process use them.
MONGO = local_mongodb_uri("liaison")
ADMIN_TOKEN = "test-admin-token-0123456789"
# The broker `make up` runs wants SASL: the suite's own clients (and the services it runs in
# process) are its admin, from the properties file `make up` writes.
use_local_kafka_admin()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED.exists():
        # A user's fresh clone has no ../shared beside it; CI and developers do. The seed's own
        # text is what these checks compare against, so without it there is nothing to check.
        if os.environ.get("LIAISON_REQUIRE_SEED") == "1":
            pytest.fail(f"the seed document is expected at {SEED} (LIAISON_REQUIRE_SEED=1)")
        pytest.skip(
            f"the seed document is not at {SEED} (../shared/seed beside the repo): seed-text checks skipped"
        )
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _listening(9092):
        pytest.fail("Kafka is not running on 127.0.0.1:9092: run `make up` (or `make test`, which starts it)")
    return KAFKA


@pytest.fixture(scope="session")
def mongo_base_uri() -> str:
    if not _listening(27017):
        pytest.fail(
            "FerretDB is not running on 127.0.0.1:27017: run `make up` (or `make test`, which starts it)"
        )
    return MONGO


@pytest.fixture
def unique_name() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def mongodb_uri(mongo_base_uri: str, unique_name: str) -> Iterator[str]:
    """A database of its own for one test, dropped afterwards."""
    import pymongo

    name = f"liaison_test_{unique_name}"
    yield with_database(mongo_base_uri, name)
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_base_uri, serverSelectionTimeoutMS=3000)
    client.drop_database(name)
    client.close()


# `make test` runs pytest -n 2 (pytest-xdist) with the scheduler below: each group runs whole on
# one worker, in file order. The fault suite and the three brokers start clusters of their own;
# rules' and notify's integration tests make their own topics, consumer groups and databases, so
# they run beside the rest. Every other test that talks to a service shares the platform `make up`
# runs (one of them stops the console and starts it again), so those stay in one group, in order,
# as before. Pure-logic tests have no group: any worker takes them.
#
# The groups go by path, because the scheduler sees only node ids. (xdist 3.8's own loadgroup
# marks a test's node id, which pytest 9 no longer lets it change: every test went to either
# worker, and the console's tests ran while another test had stopped it.)
GROUPS = (
    ("tests/faults/", "faults"),
    ("tests/scale/", "scale"),
    ("tests/rules/integration/", "rules-integration"),
    ("tests/notify/integration/", "notify-integration"),
    ("tests/e2e/", "platform"),
    ("tests/contract/", "platform"),
    ("tests/client/", "platform"),
    ("tests/console/browser/", "platform"),
    ("tests/console/integration/", "platform"),
    ("tests/ingest/integration/", "platform"),
    ("tests/registry/integration/", "platform"),
)


def group_of(nodeid: str) -> str | None:
    return next((name for prefix, name in GROUPS if nodeid.startswith(prefix)), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test that talks to the running services must be in a group, or it would run beside the
    # one that stops the console (or beside another that expects the platform as it left it).
    loose = [i.nodeid for i in items if i.get_closest_marker("integration") and group_of(i.nodeid) is None]
    if loose:
        raise pytest.UsageError(f"integration tests outside every group of tests/conftest.py: {loose[:5]}")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

        def schedule(self) -> None:
            # Work goes out by node id: of tests sharing one, all but one would silently not run.
            collection = next(iter(self.registered_collections.values()), [])
            shared = sorted(nodeid for nodeid, n in Counter(collection).items() if n > 1)
            if shared:
                raise pytest.UsageError(f"tests sharing a node id cannot run on workers: {shared}")
            super().schedule()

    return ByGroup(config, log)
