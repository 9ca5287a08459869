from liaison_common.registry_view import RegistryView
from services.rules import reporting

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
