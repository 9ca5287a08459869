"""Issue 35.1: the databases ask for credentials, as the broker does. A local user without
them reads and writes nothing: not FerretDB on 27017, not PostgreSQL on 5433."""

import socket
import struct

import pymongo
import pytest
from pymongo.errors import OperationFailure

from liaison_client.local import local_mongodb_uri

pytestmark = pytest.mark.integration


def test_ferretdb_without_credentials_is_refused_and_with_them_answers():
    anonymous: pymongo.MongoClient = pymongo.MongoClient(
        "mongodb://127.0.0.1:27017/liaison", serverSelectionTimeoutMS=5000
    )
    try:
        with pytest.raises(OperationFailure):
            anonymous.liaison.api_tokens.find_one()
        with pytest.raises(OperationFailure):
            anonymous.liaison.api_tokens.insert_one({"_id": "anyone-can-write", "subject_type": "admin"})
    finally:
        anonymous.close()
    wrong: pymongo.MongoClient = pymongo.MongoClient(
        "mongodb://liaison:not-the-password@127.0.0.1:27017/liaison?authMechanism=PLAIN",
        serverSelectionTimeoutMS=5000,
    )
    try:
        with pytest.raises(OperationFailure):
            wrong.liaison.list_collection_names()
    finally:
        wrong.close()
    trusted: pymongo.MongoClient = pymongo.MongoClient(
        local_mongodb_uri("liaison"), serverSelectionTimeoutMS=5000
    )
    try:
        assert "alerts" in trusted.liaison.list_collection_names()
    finally:
        trusted.close()


def postgres_authentication_request(user: str, database: str = "ferretdb") -> int:
    """What PostgreSQL on 127.0.0.1:5433 asks of a client that names only a user: the code of
    its Authentication message (0: in, no password asked; 10: SASL, i.e. scram-sha-256)."""
    params = b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", database))
    )
    body = struct.pack("!i", 196608) + params + b"\0"  # protocol 3.0
    with socket.create_connection(("127.0.0.1", 5433), timeout=5) as sock:
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        kind = sock.recv(1)
        assert kind in (b"R", b"E"), kind
        length = struct.unpack("!i", sock.recv(4))[0]
        payload = sock.recv(length - 4)
        return struct.unpack("!i", payload[:4])[0] if kind == b"R" else -1


@pytest.mark.parametrize("user", ["postgres", "liaison"])
def test_postgresql_asks_every_tcp_client_for_a_password(user):
    assert postgres_authentication_request(user) == 10  # SASL (scram-sha-256), never 0 (trust)
