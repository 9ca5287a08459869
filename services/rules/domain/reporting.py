"""Who has reported, who is overdue, and how complete each week is: pure functions over one state.

Event time throughout. Each source (a topic partition) has its own clock: the newest
submission date it has carried (never more than two weeks past that report's period). The
watermark is the slowest clock among the sources still active, as in Flink: enterprise
reports and work-group reports travel on different topics and partitions and are read at
different speeds, so a work group is never late just because its partition is read after the
enterprises' next week. A source that has carried nothing for IDLE_SECONDS of processing
time (a partition whose reporters all stopped) no longer holds time back. A replay of 2011's
reports gives the same overdue alerts as the live run did. Time may run some days behind the
slowest source (the rules file's allowed lateness), because the producers in between may
reorder a little. The state is a
plain JSON-able dict, kept by one Faust agent on a one-partition topic:

  {"watermark": "2011-12-19", "first_period_end": "2011-12-11",
   "last_end": {"enterprise:chalco-qinghai": "2011-12-18", ...},
   "flagged": {"enterprise:chalco-qinghai": ["2011-12-11"], ...},
   "weeks": {"2011-W50": {"period_end": "2011-12-18", "received": {"enterprise:chalco-qinghai": true}}}}
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from liaison_common.events import EARLIEST_PERIOD
from liaison_common.registry_view import RegistryView
from services.rules.domain.history import iso_week
from services.rules.domain.problems import Problem

WEEK = timedelta(days=7)
MAX_FLAGGED_KEPT = 60
MAX_WEEKS_JUDGED = 8
MAX_SUBMISSION_DELAY = timedelta(days=14)
IDLE_SECONDS = 120.0


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
    return {
        "watermark": None,
        "sources": {},
        "first_period_end": None,
        "last_end": {},
        "flagged": {},
        "weeks": {},
    }


def week_sunday(day: date) -> date:
    """The Sunday that ends the ISO week of `day`: overdue weeks are counted on this grid, so a
    report whose period ends on another weekday never shifts the schedule (nor the alert ids)."""
    return day + timedelta(days=7 - day.isoweekday())


def observe(
    state: dict[str, Any],
    seen: dict[str, Any],
    *,
    on_time_days: int,
    days_after: int = 8,
    now: float = 0.0,
    lateness_days: int = 0,
    idle_seconds: float = IDLE_SECONDS,
    today: str | None = None,
) -> str:
    """Take one 'period seen' event; return the ISO week it counts for. A period outside the
    bounds of docs/contract.md §6 raises ValueError (the record is dead-lettered): a week of year 1
    would make every week since then due."""
    period_end = date.fromisoformat(seen["period_end"])
    latest = (date.fromisoformat(today) if today else date.today()) + timedelta(days=1)
    if not EARLIEST_PERIOD <= period_end <= latest:
        raise ValueError(f"period_end {period_end} is outside {EARLIEST_PERIOD}..{latest}")
    submitted = datetime.fromisoformat(seen["submitted_at"]).date()
    reporter = seen["reporter"]
    # A late report (or a wrong clock) moves event time no further than two weeks past its period.
    event_day = min(submitted, period_end + MAX_SUBMISSION_DELAY).isoformat()
    clock = state.setdefault("sources", {}).setdefault(
        seen.get("source", "default"), {"day": "", "seen_at": 0.0}
    )
    clock["day"] = max(clock["day"], event_day)
    clock["seen_at"] = now
    advance(state, now=now, lateness_days=lateness_days, idle_seconds=idle_seconds, today=today)
    anchor = week_sunday(period_end).isoformat()
    if state["first_period_end"] is None or anchor < state["first_period_end"]:
        state["first_period_end"] = anchor
    if seen["period_end"] > state["last_end"].get(reporter, ""):
        state["last_end"][reporter] = seen["period_end"]
    week = iso_week(period_end)
    bucket = state["weeks"].setdefault(week, {"period_end": seen["period_end"], "received": {}})
    on_time = submitted <= period_end + timedelta(days=on_time_days)
    # A report counts as on time if any copy of it was; a redelivery changes nothing.
    bucket["received"][reporter] = bool(bucket["received"].get(reporter)) or on_time
    if seen.get("corrected"):  # a correction of the week's report (docs/contract.md §7)
        bucket.setdefault("corrected", {})[reporter] = True
    return week


def advance(
    state: dict[str, Any],
    *,
    now: float,
    lateness_days: int = 0,
    idle_seconds: float = IDLE_SECONDS,
    today: str | None = None,
) -> None:
    """Move the watermark: the slowest clock among the sources heard from within IDLE_SECONDS
    (all of them quiet: the fastest, since everything sent has been read), and never past
    `today` (wall-clock): a report dated in the future must not make weeks look missed."""
    clocks = list(state.get("sources", {}).values())
    if not clocks:
        return
    active = [c["day"] for c in clocks if now - c["seen_at"] <= idle_seconds]
    slowest = min(active) if active else max(c["day"] for c in clocks)
    if not slowest:
        return
    # Allowed lateness: the producers in between may reorder a little, so time may be taken to
    # run some days behind the slowest source.
    watermark = (date.fromisoformat(slowest) - timedelta(days=lateness_days)).isoformat()
    if today is not None:
        watermark = min(watermark, today)
    if state["watermark"] is None or watermark > state["watermark"]:
        state["watermark"] = watermark


def expect_sources(state: dict[str, Any], sources: list[str], *, now: float) -> None:
    """Sources known to exist hold time back from the start, until they speak or go idle:
    at start-up one topic may be read well before another."""
    clocks = state.setdefault("sources", {})
    for source in sources:
        clocks.setdefault(source, {"day": "", "seen_at": now})


def overdue(
    state: dict[str, Any], expected: dict[str, list[str]], *, days_after: int
) -> list[tuple[str, str]]:
    """(reporter, period end) for each week not reported `days_after` days after the end of the
    week before, now that event time has passed that day. Week by week from the first week any
    report covered, so the order reports arrive in does not matter: a week counts as reported
    once any report for it has been seen. Each missed week is returned once.
    """
    if state["watermark"] is None or state["first_period_end"] is None or not state["weeks"]:
        return []
    watermark = date.fromisoformat(state["watermark"])
    oldest_kept = min(state["weeks"])  # older weeks' counts were forgotten: not judged again
    first = week_sunday(date.fromisoformat(state["first_period_end"]))
    # Only the last weeks are judged: a report dated far ahead must not flag years at once.
    skip = max((watermark - first).days // 7 - MAX_WEEKS_JUDGED, 0)
    found = []
    for reporter in sorted(expected):
        flagged = set(state["flagged"].get(reporter, []))
        week_end = first + WEEK * skip
        while week_end - WEEK + timedelta(days=days_after) < watermark:
            week = iso_week(week_end)
            received = state["weeks"].get(week, {}).get("received", {})
            if week >= oldest_kept and reporter not in received and week_end.isoformat() not in flagged:
                found.append((reporter, week_end.isoformat()))
                flagged.add(week_end.isoformat())
            week_end += WEEK
        state["flagged"][reporter] = sorted(flagged)[-MAX_FLAGGED_KEPT:]
    return found


def overdue_problem(
    reporter: str,
    period_end: str,
    names: dict[str, str],
    state: dict[str, Any],
    *,
    days_after: int,
    source: str,
) -> Problem:
    kind, subject_id = reporter.split(":", 1)
    last = state["last_end"].get(reporter)
    name = names.get(reporter, subject_id)
    return Problem(
        type="report_overdue",
        subject_id=subject_id,
        period_end=period_end,
        severity="medium",
        summary=f"{name}截至{period_end}的一周未按时报送（上期结束{days_after}天后仍未收到）。",
        evidence={
            "values": {"last_period_end": last, "watermark": state["watermark"]},
            "threshold": {"days_after_period_end": days_after},
            "rule": "报告期结束若干天后仍未报送",
            "source": source,
        },
        source_ids=[],
        subject_kind=kind,
    )


def forget_old_weeks(state: dict[str, Any], keep: int = 60) -> list[str]:
    """Keep the newest `keep` weeks of counts (more than a year): the state must not grow forever.
    Returns the table keys of what was forgotten."""
    dropped: list[str] = []
    for week in sorted(state["weeks"])[:-keep]:
        dropped += [WEEK_PREFIX + week, *(got_key(week, r) for r in state["weeks"][week]["received"])]
        dropped += [CORRECTED_PREFIX + f"{week}|{r}" for r in state["weeks"][week].get("corrected", {})]
        del state["weeks"][week]
    return dropped


# The state is kept in the reporting-state table in small parts, one key per fact, so that an
# event writes what it changed - the clocks, its reporter's last period, its week's end, and
# that the reporter reported that week - whatever the number of reporters: the table's
# changelog is a Kafka topic, and a part that held every reporter (the week's "received", every
# reporter's last period) grew each write with the installation, past the broker's 1 MB at
# about 12,000 reporters (docs/scaling.md). Older layouts still load (state_from_parts).
META_KEY = "meta"  # watermark, source clocks, first week
WEEK_PREFIX = "week:"  # week:2011-W50 -> {"period_end": ...}
GOT_PREFIX = "got:"  # got:2011-W50|enterprise:chalco-qinghai -> on time (bool)
LAST_PREFIX = "last:"  # last:enterprise:chalco-qinghai -> the latest period_end reported
FLAGGED_PREFIX = "flagged:"  # flagged:enterprise:chalco-qinghai -> the weeks found missed
CORRECTED_PREFIX = "corr:"  # corr:2011-W50|enterprise:chalco-qinghai -> True: the week was corrected
META_FIELDS = ("watermark", "sources", "first_period_end")


def got_key(week: str, reporter: str) -> str:
    return f"{GOT_PREFIX}{week}|{reporter}"


def meta_part(state: dict[str, Any]) -> dict[str, Any]:
    return {META_KEY: {k: state.get(k) for k in META_FIELDS}}


def event_parts(state: dict[str, Any], week: str, reporter: str, *, new_week: bool) -> dict[str, Any]:
    """What one period event changed, as table entries: two, or three for a week's first report,
    however many report. The clocks are written by the check that follows within half a second
    (a worker that dies before it reads the events since its last commit again, and the clocks
    only move forward), so not once per event: each entry is a record on the changelog."""
    bucket = state["weeks"][week]
    parts = {
        LAST_PREFIX + reporter: state["last_end"][reporter],
        got_key(week, reporter): bucket["received"][reporter],
    }
    if bucket.get("corrected", {}).get(reporter):
        parts[CORRECTED_PREFIX + f"{week}|{reporter}"] = True
    if new_week:
        parts[WEEK_PREFIX + week] = {"period_end": bucket["period_end"]}
    return parts


def flagged_parts(state: dict[str, Any], reporters: Iterable[str]) -> dict[str, Any]:
    return {FLAGGED_PREFIX + r: state["flagged"][r] for r in reporters if r in state["flagged"]}


def all_parts(state: dict[str, Any]) -> dict[str, Any]:
    """Every table entry of the state (to migrate an older layout)."""
    parts = meta_part(state)
    parts.update({LAST_PREFIX + r: end for r, end in state["last_end"].items()})
    parts.update(flagged_parts(state, state["flagged"]))
    for week, bucket in state["weeks"].items():
        parts[WEEK_PREFIX + week] = {"period_end": bucket["period_end"]}
        parts.update({got_key(week, r): on_time for r, on_time in bucket["received"].items()})
        parts.update({CORRECTED_PREFIX + f"{week}|{r}": True for r in bucket.get("corrected", {})})
    return parts


def older_layout(parts: dict[str, Any]) -> list[str]:
    """The keys of an older layout among the table's entries (to rewrite and delete at start):
    the whole state under "state", every reporter's flags under "flagged", the last periods in
    the clocks' entry, a week holding every reporter."""
    old: list[str] = [k for k in ("state", "flagged") if k in parts]
    if "last_end" in (parts.get(META_KEY) or {}):
        old.append(META_KEY)
    old += [k for k, v in parts.items() if k.startswith(WEEK_PREFIX) and "received" in (v or {})]
    return old


def state_from_parts(parts: dict[str, Any]) -> dict[str, Any]:
    """The state again from its table entries, in this layout or an older one (a new state when
    there are none)."""
    if "state" in parts:  # the whole state under one key, as written first
        return dict(parts["state"])
    if META_KEY not in parts:
        return new_state()
    meta = parts[META_KEY]
    state = {**new_state(), **{k: meta[k] for k in META_FIELDS if k in meta}}
    state["last_end"] = dict(meta.get("last_end") or {})
    state["flagged"] = dict(parts.get("flagged") or {})
    for key, value in parts.items():
        if key.startswith(WEEK_PREFIX):
            bucket = state["weeks"].setdefault(key[len(WEEK_PREFIX) :], {"period_end": None, "received": {}})
            bucket["period_end"] = value["period_end"]
            bucket["received"].update(value.get("received") or {})
        elif key.startswith(LAST_PREFIX):
            reporter = key[len(LAST_PREFIX) :]
            state["last_end"][reporter] = max(state["last_end"].get(reporter, ""), value)
        elif key.startswith(FLAGGED_PREFIX):
            state["flagged"][key[len(FLAGGED_PREFIX) :]] = value
    for key, value in parts.items():
        if key.startswith(GOT_PREFIX):
            week, reporter = key[len(GOT_PREFIX) :].split("|", 1)
            bucket = state["weeks"].setdefault(week, {"period_end": None, "received": {}})
            bucket["received"][reporter] = bool(bucket["received"].get(reporter)) or bool(value)
        elif key.startswith(CORRECTED_PREFIX):
            week, reporter = key[len(CORRECTED_PREFIX) :].split("|", 1)
            bucket = state["weeks"].setdefault(week, {"period_end": None, "received": {}})
            bucket.setdefault("corrected", {})[reporter] = True
    return state


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
        # Per reporter, for reporting rates over a range (issue 38.4): on time or not, corrected.
        "received_by": dict(sorted(received.items())),
        "corrected": sorted(r for r in bucket.get("corrected", {}) if r in expected),
        "by_work_group": {wg: rates(sorted(members)) for wg, members in sorted(by_work_group.items())},
    }
