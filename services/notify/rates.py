"""Reporting rates per subject over a range of weeks (issue 38.4; DHIS2's reporting-rate summary).

Counted from the weekly completeness records rules publishes (liaison.reporting.v1, stored as
ReportingWeek): a week counts for a subject when the subject was expected that week (it was
received or missing); `received` and `on_time` from the week's `received_by`, `corrected` from its
`corrected`; `questioned` is the number of the subject's `data_query` cases whose period is in the
range. A week recorded by an earlier version (without `received_by`) is left out and counted in
`weeks_without_detail`.
"""

from collections import Counter
from typing import Any

from services.notify.digests import iso_week_bounds
from services.notify.documents import Alert, ReportingWeek


def rates_of(records: list[dict[str, Any]], questioned: Counter[str]) -> dict[str, Any]:
    """Pure: the per-subject rates of these weekly records (in any order)."""
    rows: dict[str, dict[str, Any]] = {}
    without_detail = 0
    for record in records:
        received_by: dict[str, bool] | None = record.get("received_by")
        if received_by is None:
            without_detail += 1
            continue
        corrected = set(record.get("corrected") or [])
        for reporter in sorted(set(record.get("missing") or []) | set(received_by)):
            row = rows.setdefault(reporter, {"expected": 0, "received": 0, "on_time": 0, "corrected": 0})
            row["expected"] += 1
            if reporter in received_by:
                row["received"] += 1
                row["on_time"] += int(bool(received_by[reporter]))
            row["corrected"] += int(reporter in corrected)
    subjects = []
    for reporter, row in sorted(rows.items()):
        kind, subject_id = reporter.split(":", 1)
        expected = row["expected"]
        subjects.append(
            {
                "subject_type": kind,
                "subject_id": subject_id,
                **row,
                "questioned": questioned.get(subject_id, 0),
                "reporting_rate": round(row["received"] / expected, 4) if expected else None,
                "timeliness_rate": round(row["on_time"] / expected, 4) if expected else None,
            }
        )
    return {
        "weeks": len(records) - without_detail,
        "weeks_without_detail": without_detail,
        "subjects": subjects,
    }


def reporting_rates(first_week: str, last_week: str) -> dict[str, Any]:
    """The rates over the weeks from `first_week` to `last_week` (ISO weeks, both included)."""
    records = [doc.record for doc in ReportingWeek.objects(week__gte=first_week, week__lte=last_week)]
    start, _ = iso_week_bounds(first_week)
    _, end = iso_week_bounds(last_week)
    questioned: Counter[str] = Counter(
        doc.enterprise_id
        for doc in Alert.objects(type="data_query").only("enterprise_id", "period_end")
        if doc.enterprise_id and start.isoformat() <= (doc.period_end or "") <= end.isoformat()
    )
    return {"from": first_week, "to": last_week, **rates_of(records, questioned)}
