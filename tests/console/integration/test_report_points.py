"""The console's indicator history in a real FerretDB: stored once, corrections win."""

from datetime import UTC, datetime

import pytest

from liaison_common import db
from liaison_common.events import EnterpriseReport
from services.console import service

pytestmark = pytest.mark.integration


def report(report_id: str, period_end: str, submitted: str, inventory: float) -> EnterpriseReport:
    return EnterpriseReport.model_validate(
        {
            "report_id": report_id,
            "enterprise_id": "chalco-qinghai",
            "period_start": "2011-12-12",
            "period_end": period_end,
            "submitted_at": datetime.fromisoformat(submitted).replace(tzinfo=UTC).isoformat(),
            "indicators": {"inventory_t": inventory},
        }
    )


def test_reports_are_stored_once_and_a_correction_replaces_its_week(mongodb_uri):
    db.connect(mongodb_uri)
    try:
        first = [
            report("w50", "2011-12-18", "2011-12-19T09:00", 100),
            report("w51", "2011-12-25", "2011-12-26T09:00", 90),
        ]
        assert service.store_report_points(first) == {"stored": 2, "duplicate": 0}
        # A redelivery (Kafka is at least once) and a corrected w51 sent later.
        again = [first[0], report("w51-fix", "2011-12-25", "2011-12-27T09:00", 80)]
        assert service.store_report_points(again) == {"stored": 1, "duplicate": 1}
        points = service.report_points("chalco-qinghai")
        assert [(p["period_end"], p["indicators"]["inventory_t"]) for p in points] == [
            ("2011-12-18", 100),
            ("2011-12-25", 80),
        ]
        assert service.report_points("someone-else") == []
    finally:
        db.disconnect()
