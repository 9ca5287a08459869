"""What the rules worker remembers of earlier reports (the enterprise-history table's values):
snapshots, which report holds a period, and which types a report lets the detectors judge."""

from datetime import date, datetime

from liaison_common.events import INDICATOR_NAMES, EnterpriseReport, WorkgroupReport
from services.rules.domain.problems import INDICATORS_READ, Snapshot


def judged_types(report: EnterpriseReport) -> set[str]:
    """The problem types whose condition this report lets the detectors judge: those whose
    indicators it carries, and every type a stated problem can be (a report states its
    problems or does not)."""
    carried = {name for name, value in report.indicators if value is not None}
    judged = {kind for kind, names in INDICATORS_READ.items() if carried.intersection(names)}
    return judged | {"stated_problem"}


# What the history keeps of earlier reports: every indicator, since each is checked against its
# own history before detection (docs/contract.md §7); the detectors read sales, production and
# employees of it.
HISTORY_INDICATORS = INDICATOR_NAMES


def snapshot(report: EnterpriseReport, questioned: dict[str, float] | None = None) -> Snapshot:
    values = report.indicators
    questioned = questioned or {}
    indicators = {
        k: v for k in HISTORY_INDICATORS if (v := getattr(values, k)) is not None and k not in questioned
    }
    return Snapshot(
        report.report_id,
        report.period_end.isoformat(),
        indicators,
        report.submitted_at.isoformat(),
        questioned,
    )


def _instant(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def period_holder(history: list[Snapshot], report: EnterpriseReport) -> Snapshot | None:
    """Another report of the same period that the history holds (this one is then a correction
    of it, or a replaced report delivered again: see `is_replaced`)."""
    end = report.period_end.isoformat()
    return next((s for s in history if s.period_end == end and s.report_id != report.report_id), None)


def is_replaced(holder: Snapshot, report: EnterpriseReport) -> bool:
    """The report was submitted before the one that holds its period: it was corrected already
    (a redelivery of the typo after its correction changes nothing)."""
    held = _instant(holder.submitted_at)
    return held is not None and report.submitted_at < held


def workgroup_period_holder(held: list[dict[str, str]], report: WorkgroupReport) -> dict[str, str] | None:
    """Another report of the work group for the same period (this one corrects it, or was
    corrected by it: `workgroup_report_replaced`). `held`: the group's reports, as remembered."""
    end = report.period_end.isoformat()
    return next((h for h in held if h["period_end"] == end and h["report_id"] != report.report_id), None)


def workgroup_report_replaced(holder: dict[str, str], report: WorkgroupReport) -> bool:
    held = _instant(holder.get("submitted_at", ""))
    return held is not None and report.submitted_at < held


def remember_workgroup_report(
    held: list[dict[str, str]], report: WorkgroupReport, keep: int
) -> list[dict[str, str]]:
    """The work group's reports with this one holding its period (one per period), newest `keep`."""
    end = report.period_end.isoformat()
    kept = [h for h in held if h["period_end"] != end]
    kept.append(
        {"report_id": report.report_id, "period_end": end, "submitted_at": report.submitted_at.isoformat()}
    )
    return sorted(kept, key=lambda h: h["period_end"])[-keep:]


def remember(
    history: list[Snapshot], report: EnterpriseReport, keep: int, questioned: dict[str, float] | None = None
) -> list[Snapshot]:
    """The history with this report in it (replacing a redelivery, or the report it corrects:
    one per period), newest `keep` by period."""
    end = report.period_end.isoformat()
    kept = [s for s in history if s.report_id != report.report_id and s.period_end != end]
    kept.append(snapshot(report, questioned))
    return sorted(kept, key=lambda s: (s.period_end, s.report_id))[-keep:]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
