"""The dispatcher holds back a notification whose receiver is failing without reading it: with a
receiver down for a day, hundreds of pending notifications came off their timers at each backoff
step, and each was read from the database only to be put back."""

from datetime import UTC, datetime, timedelta

from services.notify import clock, delivery, timers
from services.notify.config import Settings


def settings_for_a_test(monkeypatch) -> Settings:
    monkeypatch.setenv("LIAISON_ADMIN_TOKEN", "dispatch-test-admin-token-0123456789")
    return Settings()


def test_a_pending_notification_of_a_failing_receiver_waits_without_a_database_read(monkeypatch):
    moment = datetime(2011, 12, 19, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    settings = settings_for_a_test(monkeypatch)
    delivery.resync_at_next_pass()  # a fresh Receivers()
    delivery.receivers.failed("http://finance.example/hook", moment, settings)
    held_until = delivery.receivers.down_until("http://finance.example/hook", moment)
    assert held_until is not None and held_until > moment
    timers.destinations.remember("sub-finance|alerts|funding_gap|w1", "http://finance.example/hook", moment)

    class Unreadable:
        @staticmethod
        def objects(**query):
            raise AssertionError("the notification was read from the database")

    monkeypatch.setattr(delivery, "Notification", Unreadable)
    assert delivery._claim("sub-finance|alerts|funding_gap|w1", settings) is None
    # Put back on its timer for the receiver's next try, not lost.
    assert timers.notifications.pop_due(held_until) == ["sub-finance|alerts|funding_gap|w1"]
    timers.destinations.forget("sub-finance|alerts|funding_gap|w1")


def test_one_old_enough_to_expire_is_read_so_that_its_expiry_is_recorded(monkeypatch):
    created = datetime(2011, 12, 19, 9, 0, tzinfo=UTC)
    settings = settings_for_a_test(monkeypatch)
    moment = created + timedelta(seconds=settings.delivery_expiry_seconds + 1)
    monkeypatch.setattr(clock, "now", lambda: moment)
    delivery.resync_at_next_pass()
    delivery.receivers.failed("http://down.example/", moment, settings)
    timers.destinations.remember("old-key", "http://down.example/", created)
    reads = []

    class Settled:
        @staticmethod
        def objects(**query):
            reads.append(query)
            return Settled()

        def first(self):
            return None  # delivered or expired meanwhile

    monkeypatch.setattr(delivery, "Notification", Settled)
    assert delivery._claim("old-key", settings) is None
    assert reads == [{"key": "old-key"}]
    assert timers.destinations.get("old-key") is None  # settled: forgotten
