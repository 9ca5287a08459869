"""The writer keeps the cases it saved (services/notify/case_cache.py): a continuing case it
inserted is never read from the store, and nothing changed in between — an acknowledgement, a comment, a silenced
delivery — is lost when the next weekly update is saved from memory."""

from datetime import UTC, datetime

import pytest

from services.notify.documents import Alert, HistoryEntry
from services.notify.metrics import CASE_READS
from tests.notify.integration.helpers import ADMIN, alert, eventually, publish, token

pytestmark = pytest.mark.integration

CASE_ID = "funding_gap.chalco-qinghai.2011-12-18"
WEEKS = ["2011-12-18", "2011-12-25", "2012-01-01", "2012-01-08"]


def reads(source: str) -> float:
    return CASE_READS.labels(source)._value.get()


def week(n: int, **changes: object) -> dict:
    """The case's n-th weekly update (from 0), routed to sme alone unless told otherwise."""
    return alert(
        last_period_end=WEEKS[n],
        occurrences=n + 1,
        source_ids=[f"chalco-qinghai-{WEEKS[n]}"],
        **{"routes": [{"group_id": "sme", "role": "primary"}], **changes},
    )


def stored() -> Alert | None:
    return Alert.objects(alert_id=CASE_ID).first()


def test_a_continuing_case_is_never_read_and_keeps_every_change_made_between_its_updates(
    notify, kafka_bootstrap, topics
):
    with notify() as client:
        sme, finance = token("group", "sme"), token("group", "finance")
        publish(kafka_bootstrap, topics["alerts_topic"], week(0))
        eventually(lambda: stored())
        from_database, from_memory = reads("database"), reads("memory")

        publish(kafka_bootstrap, topics["alerts_topic"], week(1))
        eventually(lambda: stored().occurrences == 2)
        acked = client.post(f"/v1/alerts/{CASE_ID}/ack", json={"comment": "在办"}, headers=sme)
        assert acked.status_code == 200, acked.text
        commented = client.post(f"/v1/alerts/{CASE_ID}/comments", json={"comment": "已约谈银行"}, headers=sme)
        assert commented.status_code in (200, 201), commented.text
        # Finance holds back its deliveries for the enterprise; the next update routes the case to
        # finance too, so its planning records the silenced delivery (a write beside the case's).
        window = {"starts_at": "2011-01-01T00:00:00+00:00", "ends_at": "2099-01-01T00:00:00+00:00"}
        silence = client.post(
            "/v1/silences", json={"matchers": {"enterprise_id": "chalco-qinghai"}, **window}, headers=finance
        )
        assert silence.status_code == 201, silence.text
        routes = [{"group_id": "sme", "role": "primary"}, {"group_id": "finance", "role": "cc"}]
        publish(kafka_bootstrap, topics["alerts_topic"], week(2, routes=routes))
        eventually(lambda: stored().occurrences == 3)
        publish(kafka_bootstrap, topics["alerts_topic"], week(3, routes=routes))
        eventually(lambda: stored().occurrences == 4)

        case = stored()
        events = [entry.event for entry in case.history]
        assert case.status == "acknowledged"
        assert events.count("updated") == 3
        assert {"received", "acknowledged", "commented", "silenced"} <= set(events)
        assert [s["group_id"] for s in case.suppressions] == ["finance"]
        assert client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).json()["occurrences"] == 4
        # The case was kept as it was inserted: the three updates, the acknowledgement and the
        # comment all started from what this writer had written, none from a read.
        assert reads("database") - from_database == 0
        assert reads("memory") - from_memory == 5
        # Ended, so that no later test of this process finds finance silenced (silences.py keeps
        # the active ones in memory).
        assert client.delete(f"/v1/silences/{silence.json()['id']}", headers=finance).status_code == 200


def test_a_writer_started_again_reads_the_store_not_what_it_kept(notify, kafka_bootstrap, topics):
    """What another writer (or an operator) did meanwhile is in the store: a new round of the
    consumer forgets what the writer kept."""
    with notify():
        publish(kafka_bootstrap, topics["alerts_topic"], week(0))
        eventually(lambda: stored())
        publish(kafka_bootstrap, topics["alerts_topic"], week(1))
        eventually(lambda: stored().occurrences == 2)  # now kept in memory
    with notify():
        # Changed by someone else while this writer was away (read after its start, which is
        # when the new round forgets what it kept).
        note = HistoryEntry(at=datetime.now(UTC), event="commented", by="group:finance", detail="meanwhile")
        Alert.objects(alert_id=CASE_ID).update_one(push__history=note)
        from_database = reads("database")
        publish(kafka_bootstrap, topics["alerts_topic"], week(2))
        eventually(lambda: stored().occurrences == 3)
        assert reads("database") - from_database == 1
        assert "meanwhile" in [entry.detail for entry in stored().history]  # not overwritten
