"""Weekly reports of one enterprise from the week of 2011-12-12 on, and the history the rules
keep of them: what the detector and route tests feed the domain."""

from datetime import date, timedelta

from liaison_common.events import EnterpriseReport
from services.rules.domain.history import remember
from services.rules.domain.problems import Snapshot

START = date(2011, 12, 12)


def weekly_report(enterprise_id: str, week: int, **indicators: float) -> EnterpriseReport:
    start = START + timedelta(weeks=week)
    return EnterpriseReport(
        report_id=f"r{week}",
        enterprise_id=enterprise_id,
        period_start=start,
        period_end=start + timedelta(days=6),
        submitted_at=f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
        indicators=indicators,
    )


def weekly_history(enterprise_id: str, *weeks: dict) -> list[Snapshot]:
    out: list[Snapshot] = []
    for week, indicators in enumerate(weeks):
        out = remember(out, weekly_report(enterprise_id, week, **indicators), keep=8)
    return out
