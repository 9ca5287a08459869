"""docs/contract.md §7 on the running platform: a correction replaces a report's figures and withdraws
what they no longer show; a case is resolved by data only by reports that carry its indicators."""

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from liaison_client.local import local_admin_token
from tests.kafka_helpers import wait_for_events

pytestmark = pytest.mark.integration
REGISTRY = "http://127.0.0.1:8002"
INGEST = "http://127.0.0.1:8001"
NOTIFY = "http://127.0.0.1:8003"
MONDAY = date(2004, 3, 1)


@pytest.fixture(scope="module")
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {local_admin_token() or ''}"}


@pytest.fixture
def enterprise(admin: dict[str, str]) -> str:
    """A new enterprise of the test's own (no history, no cases), known to ingest and rules."""
    enterprise_id = f"e2e-corr-{time.time_ns()}"
    body = {
        "id": enterprise_id,
        "name": f"更正测试企业{enterprise_id[-6:]}",
        "work_group_ids": ["wg-light-textile"],
    }
    created = httpx.post(f"{REGISTRY}/v1/enterprises", json=body, headers=admin, timeout=10)
    assert created.status_code == 201, created.text
    return enterprise_id


def report(
    enterprise_id: str, week: int, report_id: str, hour: int = 9, **indicators: float
) -> dict[str, Any]:
    start = MONDAY + timedelta(weeks=week)
    end = start + timedelta(days=6)
    return {
        "report_id": report_id,
        "enterprise_id": enterprise_id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "submitted_at": f"{(end + timedelta(days=1)).isoformat()}T{hour:02d}:00:00+08:00",
        "indicators": indicators,
    }


def submit(item: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """Submitted once the registry's new enterprise has reached ingest (a moment after creation)."""
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.post(f"{INGEST}/v1/reports", json=item, headers=headers, timeout=10)
        if answer.status_code != 422 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def case(alert_id: str, headers: dict[str, str], until: Callable[[dict], bool], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        answer = httpx.get(f"{NOTIFY}/v1/alerts/{alert_id}", headers=headers, timeout=10)
        if answer.status_code == 200:
            seen = answer.json()
            if until(seen):
                return seen
        time.sleep(0.5)
    raise AssertionError(f"{alert_id} never reached the expected state; last seen: {seen}")


def stock(sales: float, inventory: float) -> dict[str, float]:
    return {"sales_t": sales, "production_t": sales, "inventory_t": inventory}


def test_a_correction_withdraws_a_one_period_case_and_shortens_a_longer_one(enterprise, admin):
    # A typo (200,000 t for 2,000) in week 0: a stockpile case of that week alone.
    typo = report(enterprise, 0, f"{enterprise}-w0", **stock(1000, 200000))
    assert submit(typo, admin).status_code == 202
    alert_id = f"stockpile.{enterprise}.{typo['period_end']}"
    opened = case(alert_id, admin, lambda a: a["status"] == "open")
    assert opened["occurrences"] == 1
    # The group acknowledges it before the correction arrives.
    group = httpx.post(
        f"{REGISTRY}/v1/tokens",
        json={"subject_type": "group", "subject_id": "industry-matching"},
        headers=admin,
    ).json()["token"]
    acked = httpx.post(
        f"{NOTIFY}/v1/alerts/{alert_id}/ack",
        json={"comment": "核实中"},
        headers={"Authorization": f"Bearer {group}"},
    )
    assert acked.status_code == 200, acked.text
    fixed = report(enterprise, 0, f"{enterprise}-w0-fixed", hour=15, **stock(1000, 2000))
    answer = submit(fixed, admin)
    assert (answer.status_code, answer.json()) == (
        202,
        {"id": fixed["report_id"], "status": "correction", "replaces": typo["report_id"]},
    )
    withdrawn = case(alert_id, admin, lambda a: a["status"] == "resolved")
    assert withdrawn["resolved_by"] == "correction"
    events = [entry["event"] for entry in withdrawn["history"]]
    assert "acknowledged" in events and "corrected" in events  # who acknowledged is kept
    changes = wait_for_events(
        "127.0.0.1:9092",
        "liaison.alert-events.v1",
        lambda e: any(x["alert_id"] == alert_id and x["event"] == "corrected" for x in e),
        timeout=60,
    )
    corrected = next(x for x in changes if x["alert_id"] == alert_id and x["event"] == "corrected")
    assert corrected["detail"]["replaces"] == typo["report_id"] and corrected["by"] == "rules"

    # A longer case: weeks 2 and 3 both show a stockpile; week 3 corrected, the case is recounted.
    for week in (2, 3):
        assert (
            submit(report(enterprise, week, f"{enterprise}-w{week}", **stock(1000, 9000)), admin).status_code
            == 202
        )
    long_id = f"stockpile.{enterprise}.{report(enterprise, 2, 'x')['period_end']}"
    case(long_id, admin, lambda a: a["occurrences"] == 2)
    fix3 = report(enterprise, 3, f"{enterprise}-w3-fixed", hour=15, **stock(1000, 1500))
    assert submit(fix3, admin).json()["status"] == "correction"
    shortened = case(long_id, admin, lambda a: a["occurrences"] == 1)
    assert (
        shortened["status"] == "open"
        and shortened["last_period_end"] == report(enterprise, 2, "x")["period_end"]
    )


def test_a_report_silent_on_a_cases_indicators_does_not_resolve_it(enterprise, admin):
    gap = {"working_capital_need": 5000, "cash_on_hand": 1000, "credit_available": 1000}
    assert submit(report(enterprise, 10, f"{enterprise}-w10", **gap), admin).status_code == 202
    alert_id = f"funding_gap.{enterprise}.{report(enterprise, 10, 'x')['period_end']}"
    case(alert_id, admin, lambda a: a["status"] == "open")
    # Two reports carrying output figures only: nothing said of funding.
    for week in (11, 12):
        assert (
            submit(report(enterprise, week, f"{enterprise}-w{week}", production_t=100), admin).status_code
            == 202
        )
    # A marker through the same partition: once its case is stored, the reports before it were read.
    assert submit(report(enterprise, 13, f"{enterprise}-w13", lines_halted=1), admin).status_code == 202
    case(f"production_halt.{enterprise}.{report(enterprise, 13, 'x')['period_end']}", admin, lambda a: True)
    assert case(alert_id, admin, lambda a: True)["status"] == "open"
    # Two reports that carry the funding figures and show no gap: resolved by data.
    calm = {"working_capital_need": 1000, "cash_on_hand": 5000}
    for week in (14, 15):
        assert submit(report(enterprise, week, f"{enterprise}-w{week}", **calm), admin).status_code == 202
    resolved = case(alert_id, admin, lambda a: a["status"] == "resolved")
    assert resolved["resolved_by"] == "data"


def test_a_typo_is_questioned_for_the_statistics_group_and_its_correction_closes_the_query(enterprise, admin):
    """docs/contract.md §7: 200,000 t typed for 2,000 after four ordinary weeks is a data query (low,
    wg-statistics), readable by the enterprise's own token; no stockpile fires on it; the
    correction resolves the query by data."""
    for week in range(4):
        assert (
            submit(report(enterprise, week, f"{enterprise}-w{week}", **stock(2000, 4000)), admin).status_code
            == 202
        )
    typo = report(enterprise, 4, f"{enterprise}-w4", **stock(2000, 200000))
    assert submit(typo, admin).status_code == 202
    query_id = f"data_query.{enterprise}.{typo['period_end']}"
    query = case(query_id, admin, lambda a: a["status"] == "open")
    assert query["severity"] == "low" and query["routes"][0] == {
        "group_id": "wg-statistics",
        "role": "primary",
        "reason": query["routes"][0]["reason"],
    }
    [finding] = query["evidence"]["findings"]
    assert (finding["indicator"], finding["value"]) == ("inventory_t", 200000)
    assert finding["expected_max"] is not None and finding["expected_max"] <= 40000
    own = httpx.post(
        f"{REGISTRY}/v1/tokens", json={"subject_type": "enterprise", "subject_id": enterprise}, headers=admin
    ).json()["token"]
    mine = httpx.get(
        f"{NOTIFY}/v1/alerts", params={"type": "data_query"}, headers={"Authorization": f"Bearer {own}"}
    )
    assert mine.status_code == 200 and [a["alert_id"] for a in listed(mine.json())] == [query_id]
    # No stockpile on the questioned figure (a marker on the same partition shows rules read past it).
    assert submit(report(enterprise, 5, f"{enterprise}-w5", lines_halted=1), admin).status_code == 202
    case(f"production_halt.{enterprise}.{report(enterprise, 5, 'x')['period_end']}", admin, lambda a: True)
    stockpiles = httpx.get(
        f"{NOTIFY}/v1/alerts", params={"enterprise_id": enterprise, "type": "stockpile"}, headers=admin
    )
    assert listed(stockpiles.json()) == []
    fixed = report(enterprise, 4, f"{enterprise}-w4-fixed", hour=15, **stock(2000, 4100))
    assert submit(fixed, admin).json()["status"] == "correction"
    closed = case(query_id, admin, lambda a: a["status"] == "resolved")
    assert closed["resolved_by"] == "data"


def test_a_new_level_confirmed_by_the_next_report_closes_the_query_and_is_judged(enterprise, admin):
    for week in range(4):
        assert (
            submit(report(enterprise, week, f"{enterprise}-w{week}", **stock(2000, 4000)), admin).status_code
            == 202
        )
    jump = report(enterprise, 4, f"{enterprise}-w4", **stock(2000, 60000))
    assert submit(jump, admin).status_code == 202
    query_id = f"data_query.{enterprise}.{jump['period_end']}"
    case(query_id, admin, lambda a: a["status"] == "open")
    again = report(enterprise, 5, f"{enterprise}-w5", **stock(2000, 62000))
    assert submit(again, admin).status_code == 202
    assert case(query_id, admin, lambda a: a["status"] == "resolved")["resolved_by"] == "data"
    # The confirmed level is judged: 62,000 t is 31 weeks of sales.
    case(f"stockpile.{enterprise}.{again['period_end']}", admin, lambda a: a["status"] == "open")


def listed(body: object) -> list[dict]:
    return body["items"] if isinstance(body, dict) else body  # type: ignore[return-value]


def test_reporting_rates_are_for_the_comprehensive_group_and_the_admin(admin):
    params = {"from": "2011-W49", "to": "2012-W13"}
    answer = httpx.get(f"{NOTIFY}/v1/reporting-rates", params=params, headers=admin, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"]) == ("2011-W49", "2012-W13") and isinstance(body["subjects"], list)
    for subject in body["subjects"]:
        assert subject["received"] <= subject["expected"] and subject["on_time"] <= subject["received"]

    def token(subject_id: str) -> dict[str, str]:
        issued = httpx.post(
            f"{REGISTRY}/v1/tokens", json={"subject_type": "group", "subject_id": subject_id}, headers=admin
        ).json()["token"]
        return {"Authorization": f"Bearer {issued}"}

    assert (
        httpx.get(f"{NOTIFY}/v1/reporting-rates", params=params, headers=token("comprehensive")).status_code
        == 200
    )
    assert (
        httpx.get(f"{NOTIFY}/v1/reporting-rates", params=params, headers=token("finance")).status_code == 403
    )
    backwards = httpx.get(
        f"{NOTIFY}/v1/reporting-rates", params={"from": "2012-W13", "to": "2011-W49"}, headers=admin
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "to"]
