"""Who has reported, who is overdue, and how complete each week is: pure functions over one state.

Event time throughout: the watermark is the newest submission date seen in any report (but
never more than two weeks past that report's period), so a replay of 2011's reports gives
the same overdue alerts as the live run did. The state is a
plain JSON-able dict, kept by one Faust agent on a one-partition topic:

  {"watermark": "2011-12-19", "first_period_end": "2011-12-11",
   "last_end": {"enterprise:chalco-qinghai": "2011-12-18", ...},
   "flagged": {"enterprise:chalco-qinghai": "2011-12-11", ...},
   "weeks": {"2011-W50": {"period_end": "2011-12-18", "received": {"enterprise:chalco-qinghai": true}}}}
"""

from datetime import date, datetime, timedelta
from typing import Any

from liaison_common.registry_view import RegistryView
from services.rules.detectors import Problem, iso_week

WEEK = timedelta(days=7)
MAX_WEEKS_FLAGGED_AT_ONCE = 8
MAX_SUBMISSION_DELAY = timedelta(days=14)


def reporter_key(kind: str, subject_id: str) -> str:
    return f"{kind}:{subject_id}"


def expected_reporters(view: RegistryView) -> dict[str, list[str]]:
    """reporter key → the work groups it reports under: the key enterprises and every work group."""
    expected: dict[str, list[str]] = {}
    for enterprise_id in view.ids("enterprise"):
        data = view.get("enterprise", enterprise_id) or {}
        if data.get("is_key"):
            expected[reporter_key("enterprise", enterprise_id)] = list(data.get("work_group_ids") or [])
    for work_group_id in view.ids("work_group"):
        expected[reporter_key("work_group", work_group_id)] = [work_group_id]
    return expected


def new_state() -> dict[str, Any]:
    return {"watermark": None, "first_period_end": None, "last_end": {}, "flagged": {}, "weeks": {}}


def observe(state: dict[str, Any], seen: dict[str, Any], *, on_time_days: int) -> str:
    """Take one 'period seen' event; return the ISO week it counts for."""
    period_end = date.fromisoformat(seen["period_end"])
    submitted = datetime.fromisoformat(seen["submitted_at"]).date()
    reporter = seen["reporter"]
    # A late report (or a wrong clock) moves event time no further than two weeks past its period.
    event_day = min(submitted, period_end + MAX_SUBMISSION_DELAY).isoformat()
    if state["watermark"] is None or event_day > state["watermark"]:
        state["watermark"] = event_day
    if state["first_period_end"] is None or seen["period_end"] < state["first_period_end"]:
        state["first_period_end"] = seen["period_end"]
    if seen["period_end"] > state["last_end"].get(reporter, ""):
        state["last_end"][reporter] = seen["period_end"]
    week = iso_week(period_end)
    bucket = state["weeks"].setdefault(week, {"period_end": seen["period_end"], "received": {}})
    on_time = submitted <= period_end + timedelta(days=on_time_days)
    # A report counts as on time if any copy of it was; a redelivery changes nothing.
    bucket["received"][reporter] = bool(bucket["received"].get(reporter)) or on_time
    return week


def overdue(
    state: dict[str, Any], expected: dict[str, list[str]], *, days_after: int
) -> list[tuple[str, str]]:
    """(reporter, missed period end) for each week not reported `days_after` days after its end.

    Each missed week is returned once (the state remembers what was flagged).
    """
    if state["watermark"] is None or state["first_period_end"] is None:
        return []
    watermark = date.fromisoformat(state["watermark"])
    baseline = date.fromisoformat(state["first_period_end"]) - WEEK  # never reported: due from the first week
    found = []
    for reporter in sorted(expected):
        last = date.fromisoformat(state["last_end"][reporter]) if reporter in state["last_end"] else baseline
        flagged = state["flagged"].get(reporter, "")
        missed = []
        k = 1
        # The week ending last + 7k is overdue once event time is past last + 7(k−1) + days_after:
        # strictly past, so that the day a report is due is not yet overdue.
        while last + WEEK * (k - 1) + timedelta(days=days_after) < watermark:
            missed.append((last + WEEK * k).isoformat())
            k += 1
        for period_end in missed[-MAX_WEEKS_FLAGGED_AT_ONCE:]:
            if period_end > flagged:
                found.append((reporter, period_end))
                state["flagged"][reporter] = period_end
    return found


def overdue_problem(reporter: str, period_end: str, names: dict[str, str], state: dict[str, Any],
                    *, days_after: int, source: str) -> Problem:  # fmt: skip
    kind, subject_id = reporter.split(":", 1)
    last = state["last_end"].get(reporter)
    since = f"自{last}所在周之后" if last else "本阶段"
    name = names.get(reporter, subject_id)
    return Problem(
        "report_overdue", subject_id, period_end, "medium",
        f"{name}{since}未按时报送截至{period_end}的周报（已过{days_after}天）。",
        {"values": {"last_period_end": last, "watermark": state["watermark"]},
         "threshold": {"days_after_period_end": days_after}, "rule": "no report days_after the period's end",
         "source": source},
        [], subject_kind=kind,
    )  # fmt: skip


def forget_old_weeks(state: dict[str, Any], keep: int = 60) -> None:
    """Keep the newest `keep` weeks of counts (more than a year): the state must not grow forever."""
    for week in sorted(state["weeks"])[:-keep]:
        del state["weeks"][week]


def completeness(state: dict[str, Any], week: str, expected: dict[str, list[str]]) -> dict[str, Any]:
    """The week's reporting rate and timeliness, the way DHIS2 counts them, overall and per work group."""
    bucket = state["weeks"].get(week, {"period_end": None, "received": {}})
    received = {r: on_time for r, on_time in bucket["received"].items() if r in expected}

    def rates(reporters: list[str]) -> dict[str, Any]:
        got = [r for r in reporters if r in received]
        on_time = [r for r in got if received[r]]
        return {
            "expected": len(reporters),
            "received": len(got),
            "on_time": len(on_time),
            "reporting_rate": round(len(got) / len(reporters), 4) if reporters else None,
            "timeliness_rate": round(len(on_time) / len(reporters), 4) if reporters else None,
        }

    by_work_group: dict[str, list[str]] = {}
    for reporter, work_groups in expected.items():
        for work_group in work_groups:
            by_work_group.setdefault(work_group, []).append(reporter)
    return {
        "week": week,
        "period_end": bucket["period_end"],
        **rates(sorted(expected)),
        "missing": sorted(r for r in expected if r not in received),
        "by_work_group": {wg: rates(sorted(members)) for wg, members in sorted(by_work_group.items())},
    }
