import json

import pytest

from liaison_common import jsonbytes
from liaison_common.registry_view import RegistryView
from services.rules.domain import reporting

EXPECTED = {"enterprise:a": ["wg-x"], "enterprise:b": ["wg-x"], "work_group:wg-x": ["wg-x"]}


def seen(reporter, period_end, submitted):
    return {"reporter": reporter, "period_end": period_end, "submitted_at": f"{submitted}T09:00:00+08:00"}


def test_overdue_fires_eight_days_after_the_last_period_and_once_per_missed_week():
    state = reporting.new_state()
    for reporter in EXPECTED:
        reporting.observe(state, seen(reporter, "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1)
    # 2011-12-19 is 8 days after 12-11, the day the week ending 12-18 is due: not overdue yet.
    assert reporting.overdue(state, EXPECTED, days_after=8) == []
    reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-20"), on_time_days=1)
    assert reporting.overdue(state, EXPECTED, days_after=8) == [
        ("enterprise:b", "2011-12-18"), ("work_group:wg-x", "2011-12-18"),
    ]  # fmt: skip
    assert reporting.overdue(state, EXPECTED, days_after=8) == []  # flagged once
    reporting.observe(state, seen("enterprise:a", "2011-12-25", "2011-12-27"), on_time_days=1)
    assert ("enterprise:b", "2011-12-25") in reporting.overdue(state, EXPECTED, days_after=8)


def test_not_overdue_one_day_too_early():
    state = reporting.new_state()
    reporting.observe(state, seen("enterprise:a", "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.observe(state, seen("enterprise:b", "2011-12-11", "2011-12-18"), on_time_days=1)
    assert reporting.overdue(state, {"enterprise:a": []}, days_after=8) == []


def test_a_reporter_that_never_reported_is_due_from_the_first_week():
    state = reporting.new_state()
    reporting.observe(state, seen("enterprise:a", "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1)
    assert reporting.overdue(state, {"enterprise:b": []}, days_after=8) == [("enterprise:b", "2011-12-11")]


def test_completeness_counts_received_and_on_time_overall_and_per_work_group():
    state = reporting.new_state()
    week = reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1)
    reporting.observe(state, seen("enterprise:b", "2011-12-18", "2011-12-22"), on_time_days=1)
    record = reporting.completeness(state, week, EXPECTED)
    assert (record["week"], record["expected"], record["received"], record["on_time"]) == (
        "2011-W50",
        3,
        2,
        1,
    )
    assert record["missing"] == ["work_group:wg-x"]
    assert record["by_work_group"]["wg-x"]["reporting_rate"] == round(2 / 3, 4)


def test_expected_reporters_are_the_key_enterprises_and_the_work_groups():
    view = RegistryView()
    view.apply(
        {
            "entity_type": "enterprise",
            "id": "k",
            "version": 1,
            "data": {"is_key": True, "work_group_ids": ["wg-liaison"]},
        }
    )
    view.apply({"entity_type": "enterprise", "id": "s", "version": 1, "data": {"is_key": False}})
    view.apply({"entity_type": "work_group", "id": "wg-liaison", "version": 1, "data": {}})
    assert reporting.expected_reporters(view) == {
        "enterprise:k": ["wg-liaison"],
        "work_group:wg-liaison": ["wg-liaison"],
    }


def test_a_wrong_clock_moves_event_time_no_further_than_two_weeks_past_the_period():
    state = reporting.new_state()
    reporting.observe(state, seen("enterprise:a", "2011-12-11", "2030-01-01"), on_time_days=1)
    assert state["watermark"] == "2011-12-25"


def test_old_weeks_are_forgotten_so_the_state_stays_small():
    state = reporting.new_state()
    for week in range(80):
        day = f"2012-{1 + week // 28:02d}-{1 + week % 28:02d}"
        reporting.observe(state, seen("enterprise:a", day, day), on_time_days=1)
    reporting.forget_old_weeks(state, keep=10)
    assert len(state["weeks"]) == 10


def test_a_slower_source_holds_event_time_back_so_its_reporters_are_not_flagged_early():
    state = reporting.new_state()
    reporting.expect_sources(state, ["reports:0", "wg:0"], now=0)
    expected = {"enterprise:a": [], "work_group:w": []}
    for week_end, submitted in (
        ("2011-12-11", "2011-12-12"),
        ("2011-12-18", "2011-12-19"),
        ("2011-12-25", "2011-12-26"),
    ):
        reporting.observe(
            state, {**seen("enterprise:a", week_end, submitted), "source": "reports:0"}, on_time_days=1
        )
    # The work group's topic is read later: only its first week so far.
    reporting.observe(
        state, {**seen("work_group:w", "2011-12-11", "2011-12-12"), "source": "wg:0"}, on_time_days=1
    )
    assert state["watermark"] == "2011-12-12"
    assert reporting.overdue(state, expected, days_after=8) == []


def test_an_idle_source_does_not_stop_the_clock():
    state = reporting.new_state()
    reporting.expect_sources(state, ["reports:0", "reports:1"], now=0)
    b_reports = {**seen("enterprise:b", "2011-12-11", "2011-12-12"), "source": "reports:1"}
    reporting.observe(state, b_reports, on_time_days=1, now=0)
    for week_end, submitted in (
        ("2011-12-18", "2011-12-19"),
        ("2011-12-25", "2011-12-26"),
        ("2012-01-01", "2012-01-02"),
    ):
        a_reports = {**seen("enterprise:a", week_end, submitted), "source": "reports:0"}
        reporting.observe(state, a_reports, on_time_days=1, now=10)
    assert state["watermark"] == "2011-12-12"  # reports:1 is slow, not yet idle
    # Two minutes without a word from reports:1 (b stopped reporting): it no longer holds time back.
    reporting.advance(state, now=10 + reporting.IDLE_SECONDS + 1)
    assert state["watermark"] == "2012-01-02"
    assert ("enterprise:b", "2011-12-18") in reporting.overdue(state, {"enterprise:b": []}, days_after=8)


def test_a_skipped_week_is_flagged_when_the_next_report_shows_the_gap():
    state = reporting.new_state()
    expected = {"work_group:w": []}
    reporting.observe(
        state, {**seen("work_group:w", "2012-01-29", "2012-01-30"), "source": "wg:0"}, on_time_days=1
    )
    # No report for the week ending 02-05; the next one (02-12) arrives before event time has moved on.
    reporting.observe(
        state, {**seen("work_group:w", "2012-02-12", "2012-02-13"), "source": "wg:0"}, on_time_days=1
    )
    reporting.observe(
        state, {**seen("enterprise:x", "2012-01-29", "2012-01-30"), "source": "reports:0"}, on_time_days=1
    )
    assert reporting.overdue(state, expected, days_after=8) == [("work_group:w", "2012-02-05")]
    assert reporting.overdue(state, expected, days_after=8) == []


def test_a_source_not_heard_from_yet_holds_time_back_until_it_goes_idle():
    state = reporting.new_state()
    reporting.expect_sources(state, ["reports:0", "wg:0"], now=0)
    reporting.observe(
        state,
        {**seen("enterprise:a", "2011-12-25", "2011-12-26"), "source": "reports:0"},
        on_time_days=1,
        now=5,
    )
    assert state["watermark"] is None
    reporting.advance(state, now=reporting.IDLE_SECONDS + 1)
    assert state["watermark"] == "2011-12-26"


def test_a_gap_filled_in_the_same_batch_is_not_flagged():
    state = reporting.new_state()
    for week_end, submitted in (
        ("2012-01-29", "2012-01-30"),
        ("2012-02-12", "2012-02-13"),
        ("2012-02-05", "2012-02-06"),
    ):
        reporting.observe(
            state, {**seen("work_group:w", week_end, submitted), "source": "wg:0"}, on_time_days=1
        )
    assert reporting.overdue(state, {"work_group:w": []}, days_after=8) == []


def test_allowed_lateness_holds_event_time_back():
    state = reporting.new_state()
    reporting.observe(
        state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1, lateness_days=2
    )
    assert state["watermark"] == "2011-12-17"


def test_a_report_dated_far_ahead_flags_at_most_the_last_weeks():
    # Such a period is refused against today's date (above); were the clock itself far ahead,
    # at most the last weeks would still be judged.
    state = reporting.new_state()
    reporting.observe(state, seen("enterprise:a", "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.observe(
        state, seen("enterprise:a", "2099-12-27", "2099-12-28"), on_time_days=1, today="2100-01-01"
    )
    flagged = reporting.overdue(state, {"enterprise:b": []}, days_after=8)
    assert 0 < len(flagged) <= reporting.MAX_WEEKS_JUDGED + 1


def test_the_state_is_stored_one_fact_per_key_and_an_event_writes_a_constant_few():
    state = reporting.new_state()
    for reporter in EXPECTED:
        reporting.observe(state, seen(reporter, "2011-12-11", "2011-12-12"), on_time_days=1)
    week = reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-20"), on_time_days=1)
    reporting.overdue(state, EXPECTED, days_after=8)
    table = reporting.all_parts(state)
    assert reporting.state_from_parts(table) == state
    one_event = reporting.event_parts(state, week, "enterprise:a", new_week=True)
    assert set(one_event) == {"last:enterprise:a", "week:2011-W50", "got:2011-W50|enterprise:a"}
    assert set(reporting.event_parts(state, week, "enterprise:a", new_week=False)) == {
        "last:enterprise:a",
        "got:2011-W50|enterprise:a",
    }
    # The same event among 10,000 reporters writes no more than among three.
    many = reporting.new_state()
    for n in range(10_000):
        reporting.observe(many, seen(f"enterprise:{n}", "2011-12-18", "2011-12-19"), on_time_days=1)
    big = reporting.event_parts(many, week, "enterprise:9999", new_week=True)
    assert len(jsonbytes.dumps(big)) <= len(jsonbytes.dumps(one_event)) + 20
    # A table written whole under one key, as before, still loads; an empty one is a new state.
    assert reporting.state_from_parts({"state": state}) == state
    assert reporting.state_from_parts({}) == reporting.new_state()


def test_the_layout_before_one_fact_per_key_loads_and_is_found_for_rewriting():
    state = reporting.new_state()
    for reporter in EXPECTED:
        reporting.observe(state, seen(reporter, "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.overdue(state, EXPECTED, days_after=8)
    # As session 5 wrote it: the clocks with every last period, every flag, whole weeks.
    older = {
        reporting.META_KEY: {k: v for k, v in state.items() if k not in ("weeks", "flagged")},
        "flagged": state["flagged"],
        **{reporting.WEEK_PREFIX + w: bucket for w, bucket in state["weeks"].items()},
    }
    assert reporting.state_from_parts(older) == state
    assert sorted(reporting.older_layout(older)) == sorted(["flagged", reporting.META_KEY, "week:2011-W49"])
    assert reporting.older_layout(reporting.all_parts(state)) == []


def test_forgetting_a_week_names_its_keys():
    state = reporting.new_state()
    reporting.observe(state, seen("enterprise:a", "2011-12-11", "2011-12-12"), on_time_days=1)
    reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1)
    assert reporting.forget_old_weeks(state, keep=1) == ["week:2011-W49", "got:2011-W49|enterprise:a"]


def test_a_period_of_year_1_or_of_next_year_is_refused_and_changes_nothing():
    state = reporting.new_state()
    reporting.observe(
        state, seen("enterprise:a", "2011-12-11", "2011-12-12"), on_time_days=1, today="2026-01-01"
    )
    before = json.dumps(state, sort_keys=True)
    for period_end in ("0001-01-07", "2099-01-04", "2026-01-03"):
        with pytest.raises(ValueError, match="period_end"):
            reporting.observe(state, seen("enterprise:a", period_end, "2011-12-12"), on_time_days=1,
                              today="2026-01-01")  # fmt: skip
    assert json.dumps(state, sort_keys=True) == before


def test_a_weeks_record_names_each_reporter_on_time_or_late_and_its_corrections_across_a_restart():
    """Issue 38.4: per-subject reporting rates over a range are counted from these."""
    state = reporting.new_state()
    week = reporting.observe(state, seen("enterprise:a", "2011-12-18", "2011-12-19"), on_time_days=1)
    reporting.observe(state, seen("enterprise:b", "2011-12-18", "2011-12-22"), on_time_days=1)
    corrected = {**seen("enterprise:a", "2011-12-18", "2011-12-20"), "corrected": True}
    reporting.observe(state, corrected, on_time_days=1)
    parts = reporting.event_parts(state, week, "enterprise:a", new_week=False)
    assert parts[reporting.CORRECTED_PREFIX + "2011-W50|enterprise:a"] is True
    record = reporting.completeness(state, week, EXPECTED)
    assert record["received_by"] == {"enterprise:a": True, "enterprise:b": False}
    assert record["corrected"] == ["enterprise:a"]
    again = reporting.state_from_parts(reporting.all_parts(state))  # a restart reads the table
    assert reporting.completeness(again, week, EXPECTED)["corrected"] == ["enterprise:a"]
