"""Cases: one alert per (subject, problem type) while the problem lasts (docs/contract.md §6).

Pure state, no I/O. The detection agent keeps one `CaseBook` per enterprise in a table (the
enterprise's partition owns it) and asks it, for each report, which case each detected
problem belongs to and which open cases the report ends:

- a problem detected again in a later period updates its case: same id (the first period's),
  `last_period_end` moves on, `occurrences` counts the periods;
- a case whose problem is absent from two consecutive reports is resolved by data;
- the same problem within four weeks of that reopens the case (same id); later, a new case;
  and never a case last detected more than nine weeks before (STALE_AFTER_DAYS): a problem of
  last winter, resolved only because reports resumed, is not this winter's problem;
- a problem detected again more than five weeks after its case's last detection, with no
  reports between to resolve it, opens a new case (the old one is left to the groups);
- a redelivered report (a period the case has already seen) changes nothing, so the same
  input always gives the same ids and counts; that holds for the earlier cases of the type too
  (the last EARLIER_CASES are remembered): a worker that takes a partition over reads again
  from the last commit, maybe past the end of a case that a newer one has replaced since;
- a back-filled week (its report arrives after later ones) follows event time: inside the
  case's span it joins the case (counted once); from more than five weeks before the current
  case began it leaves the case alone and joins the back-filled case it adjoins, or opens one by
  its period: a stretch of old weeks is one case, never one a week (issue 37.13).
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

ABSENT_REPORTS_TO_RESOLVE = 2
REOPEN_WITHIN_DAYS = 28
# The longest an ordinary case takes from its last detection to a reopening: resolved by the
# second report without it (up to five weekly periods when one is late), then reopened within
# REOPEN_WITHIN_DAYS. A detection further from the case's last one than this is a new case.
STALE_AFTER_DAYS = REOPEN_WITHIN_DAYS + 35
KEEP_PERIODS = 12  # the periods a case remembers, to recognise a redelivered report
# Earlier cases of a type, remembered by their span: a report redelivered after its case was
# replaced by a newer one is a repeat of that case (make bench-rebalance found it taken for a
# back-filled report, an alert of its own, when a worker took the partition over).
EARLIER_CASES = 8


def case_id(problem_type: str, subject_id: str, first_period_end: str) -> str:
    """Deterministic: the type, the subject and the first period in which it was detected."""
    return f"{problem_type}.{subject_id}.{first_period_end}"


@dataclass(frozen=True)
class CaseUpdate:
    """What one report means for one case."""

    case_id: str
    problem_type: str
    first_period_end: str
    last_period_end: str
    occurrences: int
    change: str  # opened, updated, reopened, repeat (a redelivery), resolved, historical


def _days(later: str, earlier: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


class CaseBook:
    """The cases of one subject, as a plain dict (the table's value) underneath."""

    def __init__(self, data: dict[str, Any] | None = None):
        self.data: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (data or {}).items()}

    def detected(self, problem_type: str, subject_id: str, period_end: str) -> CaseUpdate:
        """The problem was detected in this period: open, update or reopen its case."""
        case = self.data.get(problem_type)
        if case is not None and period_end in case["periods"]:
            # Seen already: a redelivery (after a crash, up to a commit interval of reports
            # comes again) counts nothing and reopens nothing.
            return self._update(case, problem_type, "repeat")
        if case is not None and case["first"] <= period_end <= case["last"]:
            if len(case["periods"]) < case["occurrences"]:
                # The case has forgotten some of its periods (KEEP_PERIODS): a week inside its
                # span may be one of them, redelivered; it counts nothing.
                return self._update(case, problem_type, "repeat")
            # A back-filled week inside the case's span that it never counted (cases follow
            # event time, issue 37.13): it joins the case.
            case["periods"] = sorted({*case["periods"], period_end})[-KEEP_PERIODS:]
            case["occurrences"] += 1
            return self._update(case, problem_type, "updated")
        earlier_cases = case.get("earlier", []) if case is not None else []
        for old_id, first, last, occurrences in earlier_cases:
            if first <= period_end <= last:  # a redelivery from an earlier case's span
                return CaseUpdate(
                    case_id=old_id,
                    problem_type=problem_type,
                    first_period_end=first,
                    last_period_end=last,
                    occurrences=occurrences,
                    change="repeat",
                )
        if case is not None and _days(case["first"], period_end) > REOPEN_WITHIN_DAYS + 7:
            return self._back_filled(case, problem_type, subject_id, period_end)
        if (
            case is None
            or (case.get("resolved_on") and _days(period_end, case["resolved_on"]) > REOPEN_WITHIN_DAYS)
            or (case.get("resolved_on") and _days(period_end, case["last"]) > STALE_AFTER_DAYS)
            # Not detected for longer than that, and no reports said so: the old case is stale
            # (left to the groups), this is a new one.
            or (not case.get("resolved_on") and _days(period_end, case["last"]) > REOPEN_WITHIN_DAYS + 7)
        ):
            earlier = (
                []
                if case is None
                else [
                    *case.get("earlier", []),
                    [case["id"], case["first"], case["last"], case["occurrences"]],
                ]
            )
            case = {
                "id": case_id(problem_type, subject_id, period_end),
                "first": period_end,
                "last": period_end,
                "occurrences": 1,
                "periods": [period_end],
                "absent": [],
                "resolved_on": None,
                "earlier": earlier[-EARLIER_CASES:],
            }
            self.data[problem_type] = case
            return self._update(case, problem_type, "opened")
        change = "reopened" if case.get("resolved_on") else "updated"
        case["periods"] = sorted({*case["periods"], period_end})[-KEEP_PERIODS:]
        case["occurrences"] += 1
        case["last"] = max(case["last"], period_end)
        case["absent"] = [p for p in case["absent"] if p > case["last"]]
        case["resolved_on"] = None
        return self._update(case, problem_type, change)

    @staticmethod
    def _back_filled(case: dict[str, Any], problem_type: str, subject_id: str, period_end: str) -> CaseUpdate:
        """A report from long before the case began (a back-filled year) leaves the current case
        alone. It joins the back-filled case whose span it adjoins (within the reopening window),
        else opens one by its period: one case for a stretch of old weeks, never one a week
        (issue 37.13)."""
        earlier_cases = case.get("earlier", [])
        window = REOPEN_WITHIN_DAYS + 7
        for index, (old_id, first, last, occurrences) in enumerate(earlier_cases):
            if _days(first, period_end) <= window and _days(period_end, last) <= window:
                joined = [old_id, min(first, period_end), max(last, period_end), occurrences + 1]
                # A new list, not the stored one changed in place: the caller compares the book
                # with what the table holds to know whether to write it.
                case["earlier"] = [*earlier_cases[:index], joined, *earlier_cases[index + 1 :]]
                return CaseUpdate(old_id, problem_type, joined[1], joined[2], joined[3], "updated")
        own_id = case_id(problem_type, subject_id, period_end)
        case["earlier"] = [*earlier_cases, [own_id, period_end, period_end, 1]][-EARLIER_CASES:]
        return CaseUpdate(
            case_id=own_id,
            problem_type=problem_type,
            first_period_end=period_end,
            last_period_end=period_end,
            occurrences=1,
            change="historical",
        )

    def absent(self, detected_types: set[str], period_end: str) -> list[CaseUpdate]:
        """The report did not show these open cases' problems: the second such report in a row
        (after the case's last detection) resolves the case."""
        resolved = []
        for problem_type, case in self.data.items():
            if problem_type in detected_types or case.get("resolved_on"):
                continue
            if period_end <= case["last"] or period_end in case["absent"]:
                continue  # an older or redelivered report says nothing new
            case["absent"] = sorted({*case["absent"], period_end})
            if len(case["absent"]) >= ABSENT_REPORTS_TO_RESOLVE:
                case["resolved_on"] = period_end
                resolved.append(self._update(case, problem_type, "resolved"))
        return resolved

    def settle(self, problem_type: str, period_end: str) -> CaseUpdate | None:
        """Resolve an open case at once, by this period's report (a data query whose figures the
        next report confirmed); None when there is no open case of the type."""
        case = self.data.get(problem_type)
        if case is None or case.get("resolved_on") or period_end <= case["last"]:
            return None
        case["resolved_on"] = period_end
        return self._update(case, problem_type, "resolved")

    def withdraw(self, problem_type: str, period_end: str) -> CaseUpdate | None:
        """A correction no longer shows the problem in this period (docs/contract.md §7): the case
        loses the period; a case whose only period it was is withdrawn whole ("withdrawn", and
        forgotten, so that a later detection opens a case of its own), a longer one is recounted
        ("shortened"). None when the case never counted this period."""
        case = self.data.get(problem_type)
        if case is None or period_end not in case["periods"]:
            return None
        periods = [p for p in case["periods"] if p != period_end]
        if not periods or case["occurrences"] <= 1:
            del self.data[problem_type]
            if case.get("earlier"):  # the earlier cases still recognise their redeliveries
                old_id, first, last, occurrences = case["earlier"][-1]
                self.data[problem_type] = {
                    "id": old_id, "first": first, "last": last, "occurrences": occurrences,
                    "periods": [last], "absent": [], "resolved_on": last, "earlier": case["earlier"][:-1],
                }  # fmt: skip
            return self._update(case, problem_type, "withdrawn")
        case["periods"] = periods
        case["occurrences"] -= 1
        case["last"] = max(periods)
        return self._update(case, problem_type, "shortened")

    def forget_old(self, today: str, *, keep_days: int = 366) -> None:
        """Resolved cases past the reopening window are kept a year, then dropped."""
        for problem_type in list(self.data):
            resolved_on = self.data[problem_type].get("resolved_on")
            if resolved_on and _days(today, resolved_on) > keep_days:
                del self.data[problem_type]

    @staticmethod
    def _update(case: dict[str, Any], problem_type: str, change: str) -> CaseUpdate:
        return CaseUpdate(
            case_id=case["id"],
            problem_type=problem_type,
            first_period_end=case["first"],
            last_period_end=case["last"],
            occurrences=case["occurrences"],
            change=change,
        )
