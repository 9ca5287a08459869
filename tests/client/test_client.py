import uuid
from pathlib import Path

import pytest

from liaison_client.__main__ import main
from liaison_client.client import describe, load_file, rows_from_csv
from liaison_client.local import local_admin_token

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_csv_becomes_one_report_per_row_with_indicators_and_problems():
    items = rows_from_csv(EXAMPLES / "weekly-2011-W50.csv")
    assert len(items) == 5
    salt = items[1]
    assert salt["report_id"] == "qinghai-salt-lake-2011-12-18"
    assert (
        salt["indicators"]["awaiting_shipment_t"] == 310000 and "energy_kwh_per_t" not in salt["indicators"]
    )
    assert salt["problems"] == [
        {"category": "transport", "text": "钾肥待运积压"},
        {"category": "market", "text": "价格下行"},
    ]
    assert salt["submitted_at"].endswith("+00:00")


def test_json_files_may_hold_one_object_or_an_array():
    assert len(load_file(EXAMPLES / "report.json")) == 1


def test_errors_are_described_by_field():
    detail = [{"loc": ["body", "indicators", "inventory_t"], "msg": "must be ≥ 0"}]
    assert describe(detail) == "indicators.inventory_t: must be ≥ 0"


@pytest.mark.integration
def test_the_command_submits_a_csv_to_the_running_ingest_and_summarises(tmp_path, capsys, monkeypatch):
    run = uuid.uuid4().hex[:8]
    csv_file = tmp_path / "week.csv"
    csv_file.write_text(
        "report_id,enterprise_id,period_start,period_end,inventory_t,sales_t\n"
        f"cli-{run}-1,chalco-qinghai,2011-12-19,2011-12-25,100,20\n"
        f"cli-{run}-2,chalco-qinghai,2011-12-19,2011-12-25,-1,20\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LIAISON_TOKEN", local_admin_token() or "")
    assert main([str(csv_file)]) == 1
    out = capsys.readouterr().out
    assert "2 submitted: 1 accepted, 0 duplicate, 1 rejected" in out
    assert "indicators.inventory_t" in out
    assert main([str(csv_file)]) == 1
    assert "0 accepted, 1 duplicate, 1 rejected" in capsys.readouterr().out
