"""The indexes infra/postgres/ferretdb-indexes.sql puts under FerretDB, on the PostgreSQL cluster
`make up` runs: a collection created later gets a GIN index on `_id` without a pending list, and
PostgreSQL uses it for FerretDB's form of a lookup by `_id`."""

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from liaison_client.local import local_secret

POSTGRES_PORT = 5433  # scripts/platform.sh


def _psql() -> list[str]:
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", POSTGRES_PORT)) != 0:
            pytest.skip(
                f"no PostgreSQL on 127.0.0.1:{POSTGRES_PORT}: the database is not `make up`'s FerretDB"
            )
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    if not bins:
        pytest.skip("psql is not installed here (make install does it)")
    return [str(bins[-1]), "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", "postgres", "-d", "ferretdb"]


def sql(psql: list[str], query: str, **variables: str) -> str:
    """One statement read from stdin, so that psql puts in each :'name' (a literal) and :"name"
    (an identifier) safely."""
    names = [arg for name, value in variables.items() for arg in ("-v", f"{name}={value}")]
    run = subprocess.run(
        [*psql, "-tA", "-v", "ON_ERROR_STOP=1", *names],
        input=query,
        check=True,
        capture_output=True,
        text=True,
        # The local cluster asks for passwords: the superuser's, from `make up`'s secrets.
        env={**os.environ, "PGPASSWORD": local_secret("postgres-password") or ""},
    )
    return run.stdout.strip()


@pytest.fixture
def collection(mongodb_uri: str) -> Iterator[tuple[str, pymongo.collection.Collection]]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=3000)
    database = client.get_default_database()
    yield database.name, database["probe"]
    client.close()


def test_a_new_collection_gets_a_gin_index_on_id_without_a_pending_list(collection) -> None:
    psql = _psql()
    schema, probe = collection
    probe.insert_many([{"_id": f"alert-{i}", "status": "open"} for i in range(2000)])
    table = sql(
        psql,
        "SELECT tablename FROM pg_tables WHERE schemaname = :'schema' AND tablename LIKE 'probe\\_%'",
        schema=schema,
    )
    assert table, f"FerretDB made no table for the collection in schema {schema}"
    options = sql(
        psql,
        "SELECT coalesce(array_to_string(c.reloptions, ','), '') FROM pg_index AS i"
        " JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam"
        " WHERE i.indrelid = format('%I.%I', :'schema', :'table')::regclass AND a.amname = 'gin'"
        " AND pg_get_indexdef(i.indexrelid) LIKE '%''_id''%'",
        schema=schema,
        table=table,
    )
    assert options == "fastupdate=off", f"the GIN index on _id of {schema}.{table}: options {options!r}"

    sql(psql, 'ANALYZE :"schema".:"table"', schema=schema, table=table)
    plan = sql(
        psql,
        """EXPLAIN SELECT _jsonb FROM :"schema".:"table" WHERE _jsonb -> '_id' @> '"alert-1234"'""",
        schema=schema,
        table=table,
    )
    assert "Seq Scan" not in plan and "liaison_gin_" in plan, plan
    assert probe.find_one({"_id": "alert-1234"}) == {"_id": "alert-1234", "status": "open"}
