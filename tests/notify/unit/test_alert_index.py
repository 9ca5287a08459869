"""The alert index in memory: the inbox's filters and order, and records that come late."""

from datetime import UTC, datetime

from services.notify import alert_index
from services.notify.alert_index import View


def entry(
    minute: int,
    *,
    groups=("finance",),
    status="open",
    enterprise="chalco-qinghai",
    type="funding_gap",
    severity="high",
) -> dict:
    received = datetime(2011, 12, 19, 9, minute, tzinfo=UTC)
    return {"group_ids": list(groups), "enterprise_id": enterprise, "type": type, "status": status,
            "severity": severity, "t": received.timestamp()}  # fmt: skip


def test_newest_first_then_by_id_filtered_and_paged():
    view = View()
    view.apply("b", entry(1), 1)
    view.apply("a", entry(1), 1)
    view.apply("c", entry(2, groups=("finance", "comprehensive")), 1)
    view.apply("d", entry(3, groups=("sme",), status="resolved"), 1)
    assert view.ids({}, limit=10, offset=0) == ["d", "c", "a", "b"]
    assert view.ids({"group_ids": "finance"}, limit=10, offset=0) == ["c", "a", "b"]
    assert view.ids({"group_ids": "finance"}, limit=2, offset=1) == ["a", "b"]
    assert view.ids({"status": "resolved"}, limit=10, offset=0) == ["d"]
    assert view.ids({"group_ids": "comprehensive", "status": "open"}, limit=10, offset=0) == ["c"]
    assert view.ids({"enterprise_id": "western-mining"}, limit=10, offset=0) == []


def test_a_record_of_an_older_write_arriving_late_changes_nothing():
    view = View()
    view.apply("a", entry(1, status="acknowledged"), 20)  # this instance's own write, at once
    view.apply("a", entry(1, status="open"), 10)  # the topic's record of the write before it
    assert view.ids({"status": "acknowledged"}, limit=10, offset=0) == ["a"]
    view.apply("a", None, 30)  # archived
    assert view.ids({}, limit=10, offset=0) == []


def test_a_topic_record_that_is_no_entry_is_skipped():
    alert_index.view.clear()
    alert_index.apply_record(b"x", b'{"t": "not a time"}')
    alert_index.apply_record(b"y", b"[" * 5000)
    alert_index.apply_record(b"z", b'{"group_ids": ["finance"], "status": "open", "t": 1.0, "v": 5}')
    assert alert_index.view.ids({"group_ids": "finance"}, limit=10, offset=0) == ["z"]
    alert_index.apply_record(b"z", None)  # a tombstone
    assert len(alert_index.view) == 0


def test_an_entry_as_the_view_keeps_it():
    received = datetime(2011, 12, 19, 9, 30, 0, 123_456, tzinfo=UTC)  # stored as 09:30:00.123
    small = alert_index.compact({"_id": "a", "group_ids": ["finance"], "enterprise_id": "e", "type": "t",
                                 "status": "open", "received_at": received.replace(tzinfo=None),
                                 "severity": "high"})  # fmt: skip
    assert small == {"group_ids": ["finance"], "enterprise_id": "e", "type": "t", "status": "open",
                     "severity": "high", "t": 1324287000123, "level": 0, "primary": None,
                     "next": None}  # fmt: skip


def test_the_overview_counts_unresolved_alerts_per_enterprise_type_and_status_with_the_worst():
    view = View()
    view.apply("a", entry(1, severity="medium"), 1)
    view.apply("b", entry(2, severity="critical"), 1)
    view.apply("c", entry(3, severity="low", status="acknowledged"), 1)
    view.apply("d", entry(4, severity="critical", status="resolved"), 1)
    view.apply("e", entry(5, groups=("sme",), type="stockpile", enterprise="small-firm", severity="low"), 1)
    view.apply("f", {**entry(6), "severity": None}, 1)  # an entry from before severities were kept
    assert view.tally({}, statuses=("open", "acknowledged")) == [
        {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "acknowledged", "count": 1,
         "worst_severity": "low"},
        {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "open", "count": 3,
         "worst_severity": "critical"},
        {"enterprise_id": "small-firm", "type": "stockpile", "status": "open", "count": 1, "worst_severity": "low"},
    ]  # fmt: skip
    finance = view.tally({"group_ids": "finance"}, statuses=("open",))
    assert [(c["enterprise_id"], c["count"]) for c in finance] == [("chalco-qinghai", 3)]
    assert view.tally({}, statuses=("resolved",))[0]["count"] == 1


def test_the_gauges_and_the_escalation_resync_read_the_view_not_the_database():
    escalated = datetime(2011, 12, 19, 13, 0, tzinfo=UTC)
    stored = {"_id": "a", "group_ids": ["finance", "comprehensive"], "enterprise_id": "e", "type": "funding_gap",
              "status": "open", "severity": "high", "received_at": escalated.replace(tzinfo=None),
              "escalation_level": 1, "primary_group": "finance",
              "next_escalation_at": escalated.replace(tzinfo=None)}  # fmt: skip
    view = View()
    view.apply("a", alert_index.compact(stored), 1)
    view.apply("b", {**entry(2, severity="low"), "level": 0, "next": None}, 1)
    view.apply("c", {**entry(3, status="acknowledged"), "next": 1324300000000}, 1)
    view.apply("d", {**entry(4, status="resolved"), "next": 1324300000000}, 1)  # resolved: no escalation
    counts, overdue = view.open_counts()
    assert counts == {("finance", "high"): 1, ("comprehensive", "high"): 1, ("finance", "low"): 1}
    assert overdue == {"finance": 1}  # escalated at least once: not acknowledged in time
    assert sorted(view.escalations()) == [
        ("a", escalated),
        ("c", alert_index.moment_of(1324300000000)),
    ]
