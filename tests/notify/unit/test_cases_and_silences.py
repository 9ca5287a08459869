"""Pure rules of notify's cases, silences and timers (no services)."""

from datetime import UTC, datetime, timedelta

from services.notify import access, merging, planning, silences
from services.notify.config import Settings
from services.notify.timers import DueQueue

CASE = {"alert_id": "funding_gap.e.2011-12-04", "type": "funding_gap", "severity": "medium", "summary": "a",
        "evidence": {"gap": 1}, "period_end": "2011-12-04", "last_period_end": "2011-12-11", "occurrences": 2,
        "source_ids": ["r1", "r2"], "routes": [{"group_id": "finance", "role": "primary"}],
        "group_ids": ["finance"], "measures": [], "status": "open"}  # fmt: skip


def test_a_later_period_brings_the_latest_severity_evidence_and_count():
    later = {**CASE, "severity": "low", "summary": "b", "evidence": {"gap": 2}, "last_period_end": "2011-12-18",
             "occurrences": 3, "source_ids": ["r3"]}  # fmt: skip
    merged = merging.merge(CASE, later)
    assert (merged["severity"], merged["summary"], merged["occurrences"]) == ("low", "b", 3)
    assert merged["last_period_end"] == "2011-12-18" and merged["source_ids"] == ["r1", "r2", "r3"]


def test_an_older_message_changes_nothing_and_the_same_period_keeps_the_worse_severity():
    older = {**CASE, "severity": "critical", "last_period_end": "2011-12-04", "occurrences": 1}
    assert merging.merge(CASE, older)["severity"] == "medium"
    same = {**CASE, "severity": "high", "summary": "worse"}
    assert (merging.merge(CASE, same)["severity"], merging.merge(CASE, same)["summary"]) == ("high", "worse")


def test_resolution_by_data_and_reopening():
    resolution = {**CASE, "state": "resolved", "resolved_by": "data", "source_ids": ["r9"]}
    assert merging.status_change(CASE, resolution) == "resolved"
    assert merging.merge(CASE, resolution)["source_ids"] == ["r1", "r2"]  # named in history instead
    resolved = {**CASE, "status": "resolved"}
    assert merging.status_change(resolved, resolution) is None  # told once
    assert merging.status_change(resolved, {**CASE, "last_period_end": "2011-12-25"}) == "reopened"
    assert merging.status_change(resolved, CASE) is None  # a redelivery of an old message


def test_a_silence_matches_every_matcher_it_names_while_it_lasts():
    now = datetime(2011, 12, 20, tzinfo=UTC)
    silence = {"matchers": {"enterprise_id": "e", "group_id": "finance"},
               "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
    alert = {"enterprise_id": "e", "type": "funding_gap"}
    assert silences.matches(silence, alert, "finance", now)
    assert not silences.matches(silence, alert, "sme", now)
    assert not silences.matches(silence, {**alert, "enterprise_id": "f"}, "finance", now)
    assert not silences.matches(silence, alert, "finance", now + timedelta(hours=2))


def test_a_grouping_window_opens_with_its_first_alert():
    settings = Settings(admin_token="admin-token-0123456789")  # type: ignore[call-arg]
    start = datetime(2011, 12, 20, 10, 0, 4, 900_000, tzinfo=UTC)  # just before a 5 s boundary
    opened = planning.grouping_window("sub|alerts|unit-test", start, settings)
    key, leaves = opened.key, opened.leaves
    later_key = planning.grouping_window("sub|alerts|unit-test", start + timedelta(seconds=2), settings).key
    assert later_key == key and leaves > start + timedelta(seconds=settings.group_wait_seconds)
    next_key = planning.grouping_window("sub|alerts|unit-test", leaves, settings).key
    assert next_key != key


def test_a_full_grouping_window_makes_way_for_a_new_one():
    settings = Settings(admin_token="admin-token-0123456789", max_alerts_per_notification=3)  # type: ignore[call-arg]
    start = datetime(2011, 12, 20, 10, 0, 0, tzinfo=UTC)
    keys = [planning.grouping_window("sub|alerts|full-test", start, settings).key for _ in range(7)]
    # 3 + 3 + 1 alerts, in three notifications, all opened in the same millisecond
    assert [keys.count(k) for k in dict.fromkeys(keys)] == [3, 3, 1]


def test_error_messages_lose_the_target():
    assert (
        access.without_target("POST https://h.example/x failed", "https://h.example/x")
        == "POST <target> failed"
    )


def test_the_due_queue_pops_what_is_due_once_and_keeps_the_latest_schedule():
    queue, now = DueQueue(), datetime(2011, 12, 20, tzinfo=UTC)
    queue.schedule("a", now - timedelta(seconds=1))
    queue.schedule("b", now + timedelta(seconds=10))
    queue.schedule("a", now + timedelta(seconds=5))  # rescheduled: not due any more
    assert queue.pop_due(now) == []
    assert queue.pop_due(now + timedelta(seconds=6)) == ["a"]
    assert queue.pop_due(now + timedelta(seconds=60)) == ["b"] and len(queue) == 0
