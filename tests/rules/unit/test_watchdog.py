"""The rules worker's progress watch: when does waiting work with no commit count as a stall."""

from services.rules.watchdog import ProgressWatch

REPORTS_0 = ("liaison.reports.v1", 0)
REPORTS_1 = ("liaison.reports.v1", 1)


def test_waiting_messages_and_no_commit_for_the_limit_is_a_stall():
    watch = ProgressWatch(limit_seconds=120)
    assert watch.observe({REPORTS_0: (10, 50)}, now=0) == []
    assert watch.observe({REPORTS_0: (10, 60)}, now=119) == []  # more arrive, none committed
    assert watch.observe({REPORTS_0: (10, 60)}, now=120) == [REPORTS_0]


def test_a_commit_starts_the_clock_again():
    watch = ProgressWatch(limit_seconds=120)
    watch.observe({REPORTS_0: (10, 50)}, now=0)
    watch.observe({REPORTS_0: (11, 50)}, now=100)  # slow, but moving
    assert watch.observe({REPORTS_0: (11, 50)}, now=200) == []
    assert watch.observe({REPORTS_0: (11, 50)}, now=220) == [REPORTS_0]


def test_an_idle_partition_is_never_a_stall():
    watch = ProgressWatch(limit_seconds=120)
    for now in (0, 100, 200, 300):
        assert watch.observe({REPORTS_0: (50, 50), REPORTS_1: (7, 7)}, now=now) == []


def test_caught_up_then_waiting_again_counts_from_when_it_began_to_wait():
    watch = ProgressWatch(limit_seconds=120)
    watch.observe({REPORTS_0: (10, 50)}, now=0)
    watch.observe({REPORTS_0: (50, 50)}, now=60)  # caught up
    watch.observe({REPORTS_0: (50, 80)}, now=100)  # new work, the clock starts here
    assert watch.observe({REPORTS_0: (50, 80)}, now=200) == []
    assert watch.observe({REPORTS_0: (50, 80)}, now=221) == [REPORTS_0]


def test_a_partition_taken_away_is_forgotten():
    watch = ProgressWatch(limit_seconds=120)
    watch.observe({REPORTS_0: (10, 50), REPORTS_1: (3, 9)}, now=0)
    watch.observe({REPORTS_1: (3, 9)}, now=60)  # reports-0 went to another worker
    watch.observe({REPORTS_0: (10, 50), REPORTS_1: (9, 9)}, now=130)  # and came back
    assert watch.observe({REPORTS_0: (10, 50)}, now=200) == []
    assert watch.observe({REPORTS_0: (10, 50)}, now=250) == [REPORTS_0]
