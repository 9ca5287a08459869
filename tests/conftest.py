"""Fixtures shared by the suite. Integration tests use the real local Kafka and FerretDB
(`make up` or `make test` starts them); each test gets its own database and topics."""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

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


# `make test` runs pytest -n 2 --dist loadgroup: tests that own everything they touch run beside
# the rest. The fault suite and the three brokers start clusters of their own; rules' and
# notify's integration tests make their own topics, consumer groups and databases. Everything
# else that talks to a service shares the platform `make up` runs, so it stays in one group, in
# order, as before. Pure-logic tests have no group: any worker takes them.
OWN_GROUPS = {
    ("faults",): "faults",
    ("scale",): "scale",
    ("rules", "integration"): "rules-integration",
    ("notify", "integration"): "notify-integration",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(REPO / "tests").parts
        group = next((name for prefix, name in OWN_GROUPS.items() if parts[: len(prefix)] == prefix), None)
        if group is None and item.get_closest_marker("integration") is not None:
            group = "platform"
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
