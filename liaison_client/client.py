"""Submitting reports to ingest over HTTP, in batches, retrying while Kafka is unavailable."""

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

PATHS = {"reports": "/v1/reports", "incidents": "/v1/incidents", "workgroup-reports": "/v1/workgroup-reports"}
# CSV columns that are fields of the report itself; every other column is an indicator.
REPORT_COLUMNS = (
    "report_id",
    "enterprise_id",
    "period_start",
    "period_end",
    "submitted_at",
    "reporter",
    "notes",
)


@dataclass
class SubmitSummary:
    accepted: int = 0
    corrected: int = 0  # accepted as corrections of an earlier report for the same period
    duplicate: int = 0
    rejected: int = 0
    retried: int = 0  # requests sent again after a 503 (Kafka or the registry was away)
    # (row number, id, reason) of each rejection, in order
    rejections: list[tuple[int, str | None, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.corrected + self.duplicate + self.rejected

    def lines(self, limit: int = 20) -> list[str]:
        corrected = f", {self.corrected} corrections" if self.corrected else ""
        counts = f"{self.accepted} accepted{corrected}, {self.duplicate} duplicate, {self.rejected} rejected"
        if self.retried:
            counts += f" ({self.retried} requests retried after a 503)"
        out = [f"{self.total} submitted: {counts}"]
        for row, item_id, reason in self.rejections[:limit]:
            out.append(f"  row {row} ({item_id or 'no id'}): {reason}")
        if len(self.rejections) > limit:
            out.append(f"  … and {len(self.rejections) - limit} more rejections")
        return out


def describe(detail: Any) -> str:
    """One line from an error detail: 'indicators.inventory_t: Input should be ≥ 0; …'."""
    if isinstance(detail, list):
        parts = []
        for error in detail:
            loc = [str(p) for p in error.get("loc", []) if p != "body"]
            parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg')}")
        return "; ".join(parts)
    return str(detail)


def _number(text: str) -> float | int | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # left for the server to reject, naming the column


def rows_from_csv(path: Path) -> list[dict[str, Any]]:
    """One enterprise report per row; empty cells are absent; `problems` is 'category:text; …'."""
    items = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            item: dict[str, Any] = {"kind": "enterprise_report", "indicators": {}}
            for column, cell in row.items():
                if column is None or cell is None or cell.strip() == "":
                    continue
                cell = cell.strip()
                if column in REPORT_COLUMNS:
                    item[column] = cell
                elif column == "problems":
                    item["problems"] = [
                        {"category": part.split(":", 1)[0].strip(), "text": part.split(":", 1)[-1].strip()}
                        for part in cell.split(";")
                        if part.strip()
                    ]
                else:
                    item["indicators"][column] = _number(cell)
            if "report_id" not in item and "enterprise_id" in item and "period_end" in item:
                item["report_id"] = f"{item['enterprise_id']}-{item['period_end']}"
            item.setdefault("submitted_at", datetime.now(UTC).isoformat(timespec="seconds"))
            items.append(item)
    return items


def load_file(path: Path) -> list[dict[str, Any]]:
    """A JSON file (one object or an array) or a CSV of weekly indicators."""
    if path.suffix.lower() == ".csv":
        return rows_from_csv(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


class LiaisonClient:
    def __init__(self, url: str, token: str, *, timeout: float = 30.0, max_retries: int = 10):
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        self.max_retries = max_retries

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: Any, summary: "SubmitSummary | None" = None) -> httpx.Response:
        for attempt in range(self.max_retries):
            if attempt and summary is not None:
                summary.retried += 1
            response = self.http.post(path, json=body)
            if response.status_code != 503:
                return response
            # Kafka or the registry is unavailable: sending again is safe (a report published
            # after all is recorded by ingest and answered as a duplicate).
            time.sleep(float(response.headers.get("Retry-After", "2")))
        return response

    def submit(
        self,
        kind: str,
        items: list[dict[str, Any]],
        *,
        batch_size: int = 500,
        progress: Callable[[int], None] | None = None,
    ) -> SubmitSummary:
        """Send items in batches; count what was accepted, duplicate and rejected (with reasons)."""
        summary = SubmitSummary()
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            answers = self._submit_batch(PATHS[kind], batch, summary)
            for answer in answers:
                row = start + int(answer.get("index", 0)) + 1
                status = answer.get("status")
                if status == "accepted":
                    summary.accepted += 1
                elif status == "correction":  # docs/contract.md §7: it replaces an earlier report
                    summary.corrected += 1
                elif status == "duplicate":
                    summary.duplicate += 1
                else:
                    summary.rejected += 1
                    summary.rejections.append((row, answer.get("id"), describe(answer.get("detail"))))
            if progress is not None:
                progress(len(batch))
        return summary

    def _submit_batch(
        self, path: str, batch: list[dict[str, Any]], summary: SubmitSummary
    ) -> list[dict[str, Any]]:
        """One answer per item of the batch, in order. Items that Kafka did not take while the
        rest of the batch went through (a 207 naming them broker_unavailable) are sent again."""
        answers: list[dict[str, Any]] = [{} for _ in batch]
        pending = list(range(len(batch)))
        for attempt in range(self.max_retries):
            response = self._post(path, [batch[i] for i in pending], summary)
            if response.status_code not in (202, 207):  # the whole batch refused (or 503 after retries)
                reason = f"HTTP {response.status_code}: {describe(_detail(response))}"
                for i in pending:
                    answers[i] = {"status": "rejected", "detail": reason, "index": i}
                break
            again = []
            for sent, answer in zip(pending, response.json(), strict=True):
                answers[sent] = {**answer, "index": sent}
                if answer.get("reason") == "broker_unavailable":
                    again.append(sent)
            if not again or attempt == self.max_retries - 1:
                break
            pending = again
            summary.retried += 1
            time.sleep(float(response.headers.get("Retry-After", "2")))
        return answers


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
