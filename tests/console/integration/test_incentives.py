"""The 金融办's calculators in the console: the JSON API and the page a group signs in to."""

import socket

import pytest
from fastapi.testclient import TestClient

from liaison_common import tokens
from services.console.app import create_app
from services.console.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.kafka_helpers import make_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def console(kafka_bootstrap, mongodb_uri, unique_name):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        away = f"http://127.0.0.1:{sock.getsockname()[1]}"  # the calculators need no upstream
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap, mongodb_uri=mongodb_uri, admin_token=ADMIN_TOKEN,
        notify_url=away, registry_url=away, rules_url=away, consumer_group=f"test-console-{unique_name}",
        reports_topic=make_topic(kafka_bootstrap, f"test.console-reports.{unique_name}"),
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(subject_type: str, subject_id: str) -> dict[str, str]:
    secret, _ = tokens.issue_token(subject_type=subject_type, subject_id=subject_id)
    return {"Authorization": f"Bearer {secret}"}


def test_the_finance_group_computes_a_reward_through_the_api(console):
    finance = bearer("group", "finance")
    listed = console.get("/v1/incentives", headers=finance)
    assert listed.status_code == 200
    names = [c["name"] for c in listed.json()]
    assert len(names) == 11 and "risk_compensation" in names
    assert "non_performing_ratio" in listed.json()[names.index("risk_compensation")]["inputs"]["properties"]
    answer = console.post("/v1/incentives/direct_financing", headers=finance,
                          json={"financing_wan": 50_000, "intermediary_fees_wan": 600})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["amount_wan"] == 700
    assert (
        answer.json()["clause"]["ref"] == "三" and "最高限额不超过200万元" in answer.json()["clause"]["quote"]
    )


def test_the_api_names_the_bad_field_and_refuses_strangers(console):
    finance = bearer("group", "finance")
    bad = console.post("/v1/incentives/bill_discount", headers=finance, json={"discount_fees_wan": -5})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "discount_fees_wan"]
    assert console.post("/v1/incentives/nothing", headers=finance, json={}).status_code == 404
    assert console.get("/v1/incentives").status_code == 401
    assert console.get("/v1/incentives", headers={"Authorization": "Bearer lsn_wrong"}).status_code == 401
    enterprise = bearer("enterprise", "chalco-qinghai")
    assert console.get("/v1/incentives", headers=enterprise).status_code == 403


def test_a_signed_in_group_uses_the_page(console):
    finance_token = bearer("group", "finance")["Authorization"].removeprefix("Bearer ")
    assert console.post("/login", data={"token": finance_token}, follow_redirects=False).status_code == 303
    page = console.get("/incentives")
    assert page.status_code == 200 and "风险补偿" in page.text
    banks = "甲银行, 900, 100\n乙银行, 800, 100\n丙银行, 700, 100\n丁银行, 600, 100\n退步银行, 50, 100"
    answer = console.post("/incentives", data={"calculator": "bank_small_micro_ranking",
                                               "bank_small_micro_ranking.institutions": banks})  # fmt: skip
    assert answer.status_code == 200
    assert 'data-amount="55.0"' in answer.text  # 3 × 15万 + 10万
    assert "排名1-3位的银行业金融机构奖励15万元" in answer.text and "退步银行" in answer.text
    wrong = console.post(
        "/incentives", data={"calculator": "bill_discount", "bill_discount.discount_fees_wan": "abc"}
    )
    assert wrong.status_code == 200 and "应为数字" in wrong.text
