"""Escalation timers that count working days only (NOTIFY_WORKING_DAYS_ONLY)."""

from datetime import UTC, datetime, timedelta

from services.notify.calendar import BEIJING, WorkingCalendar, add_working_time

CALENDAR = WorkingCalendar.load()
HOUR = 3600.0


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_a_delay_within_a_working_day_is_wall_clock_time():
    assert add_working_time(beijing(2011, 12, 14, 9), 2 * HOUR, CALENDAR) == beijing(2011, 12, 14, 11)


def test_a_delay_over_a_weekend_waits_for_monday():
    # Friday 23:00 + 2 h: one hour on Friday, the other on Monday.
    assert add_working_time(beijing(2011, 12, 16, 23), 2 * HOUR, CALENDAR) == beijing(2011, 12, 19, 1)


def test_a_timer_started_on_a_sunday_starts_counting_on_monday():
    assert add_working_time(beijing(2011, 12, 18, 15), 2 * HOUR, CALENDAR) == beijing(2011, 12, 19, 2)


def test_the_spring_festival_holiday_is_skipped_and_its_make_up_days_are_worked():
    # Saturday 21 January 2012 is a working day; 22–28 are the holiday; Sunday 29 is worked.
    assert CALENDAR.is_working_day(beijing(2012, 1, 21).date())
    assert not CALENDAR.is_working_day(beijing(2012, 1, 25).date())
    assert CALENDAR.is_working_day(beijing(2012, 1, 29).date())
    assert add_working_time(beijing(2012, 1, 21, 22), 4 * HOUR, CALENDAR) == beijing(2012, 1, 29, 2)


def test_the_answer_is_in_utc_and_a_utc_start_is_read_in_beijing_time():
    start = datetime(2011, 12, 16, 15, tzinfo=UTC)  # Friday 23:00 in Beijing
    due = add_working_time(start, 2 * HOUR, CALENDAR)
    assert due.tzinfo == UTC and due == start + timedelta(days=2, hours=2)


def test_notify_counts_escalation_delays_on_working_days_only_when_set(monkeypatch):
    monkeypatch.setenv("LIAISON_ADMIN_TOKEN", "calendar-test-admin-token-0123456789")
    from services.notify.config import Settings
    from services.notify.escalation import escalation_due

    friday_night = beijing(2011, 12, 16, 23)
    wall_clock = escalation_due(friday_night, 2 * HOUR, Settings())
    assert wall_clock == beijing(2011, 12, 17, 1)
    working = escalation_due(friday_night, 2 * HOUR, Settings(working_days_only=True))
    assert working == beijing(2011, 12, 19, 1)


def test_a_groups_timers_come_from_the_registry_and_fall_back_to_notifys(monkeypatch):
    monkeypatch.setenv("LIAISON_ADMIN_TOKEN", "calendar-test-admin-token-0123456789")
    from liaison_common.registry_view import RegistryView
    from services.notify.config import Settings
    from services.notify.escalation import group_timers

    view = RegistryView()
    view.apply({"entity_type": "group", "id": "finance", "version": 1,
                "data": {"id": "finance", "escalation_hours": 48, "ack_timeout_hours": 120}})  # fmt: skip
    settings = Settings(
        escalation_delay_seconds=2 * HOUR, escalation_repeat_seconds=HOUR, ack_timeout_seconds=72 * HOUR
    )
    routes = [{"group_id": "wg-credit", "role": "cc"}, {"group_id": "finance", "role": "primary"}]
    timers = group_timers(routes, view, settings)
    assert (timers.escalation_seconds, timers.reminder_seconds, timers.ack_timeout_seconds) == (
        48 * HOUR,
        HOUR,
        120 * HOUR,
    )
    # Another primary group, or none, keeps notify's own.
    other = group_timers([{"group_id": "operations", "role": "primary"}], view, settings)
    assert other.escalation_seconds == 2 * HOUR and other.ack_timeout_seconds == 72 * HOUR
    assert group_timers([], view, settings).reminder_seconds == HOUR
