"""What the reporting agent pays per report, by the number of reporters (issue: the single-
partition reporting agent must not cost more as more enterprises report).

  make bench-reporting        (REPORTERS=35,1000,10000 WEEKS=12 by default; no services needed)

The agent (services/rules/reporting_agent.py) takes each report's period event, updates its
state (services/rules/domain/reporting.py, pure) and writes what the event changed to its Faust table,
whose changelog is a Kafka topic: those bytes are what grows with the installation. This runs
that per-event work - `reporting.observe` and the table entries an event writes, encoded as the
table encodes them - for every reporter in every week, and prints, for the last week's events,
the microseconds and the bytes written per event; and, per check (completeness of a week and the
overdue scan, which the agent runs at most every 0.5 s whatever the rate), the milliseconds.
"""

import os
import time
from datetime import date, timedelta
from statistics import fmean
from typing import Any

from liaison_common import jsonbytes
from services.rules.domain import reporting

FIRST_SUNDAY = date(2011, 12, 11)


def event_writes(state: dict[str, Any], week: str, reporter: str, new_week: bool) -> dict[str, Any]:
    """The table entries the agent writes for one period event (before, through
    `reporting.state_parts`: the clocks with every reporter's last period, and the whole week)."""
    return reporting.event_parts(state, week, reporter, new_week=new_week)


def run(reporters: int, weeks: int) -> dict[str, float]:
    state = reporting.new_state()
    expected = {f"enterprise:firm-{n:05d}": ["wg-liaison"] for n in range(reporters)}
    reporting.expect_sources(state, ["liaison.reports.v1:0"], now=0.0)
    micros: list[float] = []
    written: list[int] = []
    for number in range(weeks):
        end = FIRST_SUNDAY + timedelta(weeks=number)
        submitted = f"{(end + timedelta(days=1)).isoformat()}T09:00:00+08:00"
        last = number == weeks - 1
        for reporter in expected:
            seen = {
                "reporter": reporter,
                "report_id": f"{reporter}-{end}",
                "period_end": end.isoformat(),
                "submitted_at": submitted,
                "source": "liaison.reports.v1:0",
            }
            started = time.perf_counter()
            weeks_before = len(state["weeks"])
            week = reporting.observe(state, seen, on_time_days=1, days_after=8, now=1.0, today="2012-12-31")
            parts = event_writes(state, week, reporter, len(state["weeks"]) > weeks_before)
            size = sum(len(key) + len(jsonbytes.dumps(value)) for key, value in parts.items())
            if last:
                micros.append((time.perf_counter() - started) * 1e6)
                written.append(size)
    started = time.perf_counter()
    reporting.completeness(state, reporting.iso_week(FIRST_SUNDAY + timedelta(weeks=weeks - 1)), expected)
    reporting.overdue(state, expected, days_after=8)
    check_ms = (time.perf_counter() - started) * 1e3
    return {"micros": fmean(micros), "bytes": fmean(written), "check_ms": check_ms}


def main() -> None:
    counts = [int(n) for n in os.environ.get("REPORTERS", "35,1000,10000").split(",")]
    weeks = int(os.environ.get("WEEKS", "12"))
    print(f"reporting agent, per period event (last of {weeks} weeks), by reporters:")
    print(f"{'reporters':>10} {'µs/event':>10} {'bytes written/event':>20} {'check ms':>10}")
    for count in counts:
        figures = run(count, weeks)
        print(
            f"{count:>10} {figures['micros']:>10.1f} {figures['bytes']:>20.0f} {figures['check_ms']:>10.1f}"
        )


if __name__ == "__main__":
    main()
