"""Working days, so that an escalation timer does not run out over a weekend or a holiday.

Pure: `WorkingCalendar` says which days are worked (Monday to Friday, less the days off and
plus the make-up working days of data/holidays.json), and `add_working_time` counts a delay
only on worked days, in Beijing time, the officials' day. Used when NOTIFY_WORKING_DAYS_ONLY
is set; otherwise a delay is wall-clock time.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

BEIJING = timezone(timedelta(hours=8))
HOLIDAYS = Path(__file__).parent / "data" / "holidays.json"


@dataclass(frozen=True)
class WorkingCalendar:
    days_off: frozenset[date] = field(default_factory=frozenset)
    working_days: frozenset[date] = field(default_factory=frozenset)  # make-up days on a weekend

    @classmethod
    def load(cls, path: Path = HOLIDAYS) -> "WorkingCalendar":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            days_off=frozenset(date.fromisoformat(d) for d in data["days_off"]),
            working_days=frozenset(date.fromisoformat(d) for d in data["working_days"]),
        )

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day not in self.days_off and day.weekday() < 5


def add_working_time(start: datetime, seconds: float, calendar: WorkingCalendar) -> datetime:
    """`start` plus `seconds` counted on working days only (whole days, Beijing time), in UTC."""
    moment = start.astimezone(BEIJING)
    remaining = timedelta(seconds=seconds)
    for _ in range(3700):  # ten years of days: a delay longer than that is a configuration error
        day = moment.date()
        midnight = datetime.combine(day + timedelta(days=1), time(), BEIJING)
        if calendar.is_working_day(day):
            if remaining <= midnight - moment:
                return (moment + remaining).astimezone(UTC)
            remaining -= midnight - moment
        moment = midnight
    raise ValueError(f"a delay of {seconds} s does not end within ten years of working days")
