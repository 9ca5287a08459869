"""Who holds an id, against the real FerretDB: claimed before publishing, marked once Kafka has it
(a document of its own in ingest_published, one insert per batch), released when Kafka refused
it, taken over by its own submitter only when it was never published (docs/contract.md §6)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from liaison_common import db
from services.ingest.claims import DuplicateStore
from services.ingest.documents import AcceptedSubmission

pytestmark = pytest.mark.integration


@pytest.fixture
def store(mongodb_uri: str) -> Iterator[DuplicateStore]:
    db.connect(mongodb_uri)
    yield DuplicateStore()
    db.disconnect()


def claim(key: str, subject: str, *, minutes_ago: float = 0) -> dict:
    return {
        "_id": key,
        "kind": "enterprise_report",
        "subject_id": subject,
        "source": "http",
        "accepted_at": datetime.now(UTC) - timedelta(minutes=minutes_ago),
        "topic": "t",
        "published": False,
    }


def acknowledged(key: str, subject: str, offset: int = 0) -> dict:
    return {"_id": key, "subject_id": subject, "partition": 0, "offset": offset}


def test_a_claim_never_published_is_taken_over_by_its_own_submitters_retry_after_a_minute(store):
    assert store.record([claim("r:crashed", "chalco-qinghai", minutes_ago=2)]) == {}
    # Its own retry takes it over (the instance that claimed it died before publishing) ...
    assert store.record([claim("r:crashed", "chalco-qinghai")]) == {}
    # ... but nobody else may; once its retry is published, it is a duplicate.
    assert store.record([claim("r:crashed", "western-mining")]) == {"r:crashed": "chalco-qinghai"}
    store.published([acknowledged("r:crashed", "chalco-qinghai")])
    assert store.record([claim("r:crashed", "chalco-qinghai")]) == {"r:crashed": "chalco-qinghai"}
    # A claim made a moment ago is no one's to take over: its instance may be publishing it.
    store.record([claim("r:fresh", "chalco-qinghai")])
    assert store.record([claim("r:fresh", "chalco-qinghai")]) == {"r:fresh": "chalco-qinghai"}


def test_a_published_claim_is_a_duplicate_however_old(store):
    store.record(
        [
            claim("r:old", "chalco-qinghai", minutes_ago=30),
            claim("r:also-old", "chalco-qinghai", minutes_ago=30),
        ]
    )
    store.published(
        [acknowledged("r:old", "chalco-qinghai", 1), acknowledged("r:also-old", "chalco-qinghai", 2)]
    )
    assert store.record([claim("r:old", "chalco-qinghai"), claim("r:also-old", "chalco-qinghai")]) == {
        "r:old": "chalco-qinghai",
        "r:also-old": "chalco-qinghai",
    }
    assert store.owner("r:old") == "chalco-qinghai"  # memory knows it too


def test_release_frees_what_kafka_refused_but_not_what_it_took_after_all(store):
    store.record([claim("r:refused", "chalco-qinghai"), claim("r:late", "chalco-qinghai")])
    store.published([acknowledged("r:late", "chalco-qinghai")])  # the acknowledgement beat the 503's release
    store.release(["r:refused", "r:late"])
    assert store.record([claim("r:refused", "western-mining")]) == {}  # free again: anyone may use it
    assert store.record([claim("r:late", "western-mining")]) == {"r:late": "chalco-qinghai"}


def test_an_acknowledgement_after_the_release_claims_the_id_again(store):
    store.record([claim("r:503", "chalco-qinghai")])
    store.release(["r:503"])
    store.published_late(acknowledged("r:503", "chalco-qinghai", 7))
    assert store.record([claim("r:503", "chalco-qinghai")]) == {"r:503": "chalco-qinghai"}
    stored = AcceptedSubmission._get_collection().find_one({"_id": "r:503"})
    assert stored is not None and stored["subject_id"] == "chalco-qinghai"
