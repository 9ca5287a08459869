"""The rules worker's domain work on one enterprise report, without Faust or Kafka: what
`services.rules.agents.handle_report` does between reading a report and sending its outputs.

The fair baseline of `make bench-rules` (issue: rules at the speed of its own work): the same
parse, history rebuild, detection, cases, routing and JSON on the same reports, so that the
worker is compared with a loop that does its work, not with one that does nothing. State lives
in two dicts, serialised as a table write would be (JSON of the whole value).
"""

from datetime import UTC, datetime

import orjson

from liaison_common import jsonbytes
from liaison_common.alert_contract import ProblemEvent
from liaison_common.events import EnterpriseReport
from liaison_common.registry_view import RegistryView
from services.rules.domain import quality
from services.rules.domain.alerts import build_alert, resolution_alert
from services.rules.domain.cases import CaseBook
from services.rules.domain.detectors import detect
from services.rules.domain.history import remember
from services.rules.domain.problems import EnterpriseFacts, Snapshot, history_before
from services.rules.domain.thresholds import Thresholds

HISTORY_SIZE = 8  # services.rules.config.Settings.history_size


class DomainWork:
    def __init__(self, view: RegistryView, *, check_outliers: bool = True):
        self.view = view
        self.thresholds = Thresholds.load()
        # The outlier check of docs/contract.md §7 (detection.question_figures); off only to measure
        # what it costs (issue 38.6).
        self.check_outliers = check_outliers
        self.outliers = quality.OutlierSettings.of(self.thresholds)
        self.history: dict[str, bytes] = {}  # as a table holds them: serialised
        self.cases: dict[str, bytes] = {}

    def facts(self, enterprise_id: str) -> EnterpriseFacts | None:
        data = self.view.get("enterprise", enterprise_id)
        if data is None:
            return None
        return EnterpriseFacts(
            enterprise_id, data.get("name") or enterprise_id, data.get("main_product"), data.get("region")
        )

    def handle(self, value: bytes) -> list[tuple[str, bytes, bytes]]:
        """One report's outputs as (topic name, key, value): problems, alerts, the period seen."""
        report = EnterpriseReport.model_validate_json(value)
        facts = self.facts(report.enterprise_id)
        if facts is None:
            return [("dlq", report.enterprise_id.encode(), value)]
        stored = self.history.get(report.enterprise_id)
        known = [
            Snapshot.of(item)
            for item in (orjson.loads(stored) if stored else [])
            if item["report_id"] != report.report_id
        ]
        submitted_at = report.submitted_at.isoformat()
        cases_stored = self.cases.get(report.enterprise_id)
        book = CaseBook(orjson.loads(cases_stored) if cases_stored else {})
        period_end = report.period_end.isoformat()
        outputs: list[tuple[str, bytes, bytes]] = []
        if self.check_outliers:  # as detection.question_figures: the admin's ranges, then the check
            past = history_before(known, report)
            ranges = {}
            for range_id in self.view.ids("indicator_range"):
                data = self.view.get("indicator_range", range_id) or {}
                if data.get("enterprise_id") == report.enterprise_id and data.get("indicator"):
                    ranges[data["indicator"]] = (data.get("min"), data.get("max"))
            values = {name: value for name, value in report.indicators if value is not None}
            confirming = past[-1].questioned if past else {}
            quality.check(
                values,
                [s.indicators for s in past],
                ranges=ranges,
                confirming=confirming,
                settings=self.outliers,
            )
        problems = detect(facts, report, known, self.thresholds)
        for problem in problems:
            case = book.detected(problem.type, report.enterprise_id, period_end)
            fields = {**problem.as_dict(), "submitted_at": submitted_at}
            problem_value = ProblemEvent.model_validate(fields).model_dump(mode="json", exclude_none=True)
            outputs.append(("problems", problem.subject_id.encode(), jsonbytes.dumps(problem_value)))
            alert = build_alert(
                problem_value, self.view, detected_at=datetime.now(UTC).isoformat(), case=case
            )
            outputs.append(("alerts", alert["alert_id"].encode(), jsonbytes.dumps(alert)))
        for ended in book.absent({problem.type for problem in problems}, period_end):
            alert = resolution_alert(
                facts, ended, self.view, report_id=report.report_id, detected_at=datetime.now(UTC).isoformat()
            )
            outputs.append(("alerts", alert["alert_id"].encode(), jsonbytes.dumps(alert)))
        book.forget_old(period_end)
        self.cases[report.enterprise_id] = jsonbytes.dumps(book.data)
        self.history[report.enterprise_id] = jsonbytes.dumps(
            [s.as_dict() for s in remember(known, report, HISTORY_SIZE)]
        )
        seen = {
            "reporter": f"enterprise:{report.enterprise_id}",
            "report_id": report.report_id,
            "period_end": period_end,
            "submitted_at": submitted_at,
            "source": "bench",
        }
        outputs.append(("periods", b"periods", jsonbytes.dumps(seen)))
        return outputs


def outputs_of(work: DomainWork, values: list[bytes]) -> int:
    """Every report's outputs (the domain work alone); how many there were."""
    return sum(len(work.handle(value)) for value in values)
