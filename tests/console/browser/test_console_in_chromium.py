"""The web console in a real headless Chromium (Debian's), against the platform `make up` runs.

A report goes in through ingest, rules raises a funding-gap alert, notify stores it, and the
finance group sees it arrive live in its inbox, acknowledges and resolves it with comments.
Screenshots of every page land in .local/screenshots/console/.
"""

import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api  # a dev dependency: missing, the suite fails (never a silent skip)

from liaison_client.local import local_admin_token

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
SHOTS = REPO / ".local" / "screenshots" / "console"
DOC_SHOTS = REPO / ".local" / "screenshots" / "docs"
CHROMIUM = "/usr/bin/chromium"
CONSOLE = "http://127.0.0.1:8005"
REGISTRY = "http://127.0.0.1:8002"
INGEST = "http://127.0.0.1:8001"
NOTIFY = "http://127.0.0.1:8003"
PROMETHEUS = "http://127.0.0.1:9090"
ADMIN = {"Authorization": f"Bearer {local_admin_token()}"}


def token_for(subject_type: str, subject_id: str) -> str:
    answer = httpx.post(
        f"{REGISTRY}/v1/tokens",
        json={"subject_type": subject_type, "subject_id": subject_id, "description": "browser test"},
        headers=ADMIN,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `scripts/platform.sh test-deps` installs it", pytrace=False
        )
    try:
        httpx.get(f"{CONSOLE}/healthz", timeout=3)
    except httpx.TransportError:
        pytest.fail("the console is not answering on 8005; run `make up` first", pytrace=False)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def enterprise() -> dict[str, Any]:
    """An enterprise of its own, linked to the credit work group, so each run starts clean."""
    suffix = uuid.uuid4().hex[:8]
    body = {
        "id": f"browser-test-{suffix}",
        "name": f"浏览器测试铝业{suffix}",
        "work_group_ids": ["wg-credit"],
        "industry": "有色",
        "main_product": "电解铝",
    }
    answer = httpx.post(f"{REGISTRY}/v1/enterprises", json=body, headers=ADMIN, timeout=10)
    assert answer.status_code == 201, answer.text
    return body


def submit(enterprise_id: str, week: int, indicators: dict[str, float]) -> str:
    start = f"2011-12-{5 + 7 * week:02d}"
    end = f"2011-12-{11 + 7 * week:02d}"
    report = {
        "report_id": f"{enterprise_id}-2011-w{week}",
        "enterprise_id": enterprise_id,
        "period_start": start,
        "period_end": end,
        "submitted_at": f"{end}T18:00:00+08:00",
        "indicators": indicators,
    }
    deadline = time.monotonic() + 30
    while True:  # ingest learns of the new enterprise from the registry topic within moments
        answer = httpx.post(f"{INGEST}/v1/reports", json=report, headers=ADMIN, timeout=10)
        if answer.status_code != 422 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer.status_code in (200, 202), answer.text
    return end


def sign_in(page: Any, token: str) -> None:
    page.goto(f"{CONSOLE}/login")
    page.fill("#token", token)
    page.click("form[action='/login'] button[type=submit]")


def shot(page: Any, name: str, *, for_docs: bool = False) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if for_docs:  # the window as a reader sees it, small enough to commit (`make docs-screenshots`)
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_SHOTS / f"{name}.png"))


def alert_status(alert_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{NOTIFY}/v1/alerts/{alert_id}", headers=ADMIN, timeout=10).json())


def test_a_group_signs_in_sees_an_alert_arrive_live_and_acts_on_it(browser, enterprise):
    enterprise_id = enterprise["id"]
    # Two quiet weeks first, for the trend charts; then a week with a funding gap.
    healthy = {"inventory_t": 9000, "sales_t": 6000, "working_capital_need": 800, "cash_on_hand": 500,
               "credit_available": 600, "rail_requested_t": 5000, "rail_shipped_t": 4800,
               "power_demand_mwh": 9000, "power_supplied_mwh": 9000, "energy_kwh_per_t": 13800}  # fmt: skip
    submit(enterprise_id, 0, healthy)
    submit(enterprise_id, 1, {**healthy, "inventory_t": 9500})

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()

    # A wrong token is refused with a message, not an error page.
    sign_in(page, "lsn_not-a-real-token")
    assert "令牌无效" in page.locator("[role=alert]").inner_text()
    shot(page, "01-login-refused")

    finance = token_for("group", "finance")
    sign_in(page, finance)
    page.wait_for_url(f"{CONSOLE}/inbox")
    assert "金融组" in page.locator("#signed-in-as").inner_text()
    page.wait_for_selector("#live[data-state=live]", timeout=15_000)

    # The inbox is open when the problem week arrives: the alert appears without a reload.
    period_end = submit(
        enterprise_id,
        2,
        {**healthy, "working_capital_need": 30000, "cash_on_hand": 1000, "credit_available": 2000},
    )
    alert_id = f"funding_gap.{enterprise_id}.{period_end}"
    card = page.locator(f"article[data-alert-id='{alert_id}']")
    card.wait_for(timeout=120_000)
    assert "资金缺口" in card.inner_text() and enterprise["name"] in card.inner_text()
    assert card.locator(".status").inner_text() == "待处理"
    card.locator("summary").click()
    # The evidence by the names an official reads, never the field names of the contract.
    evidence = card.locator(".evidence").inner_text()
    assert "流动资金需求（万元）" in evidence and "working_capital_need" not in evidence
    # Groups by their Chinese names (the registry's), never their ids.
    assert "金融组（主办）" in card.locator(".routes").inner_text()
    assert "金融信贷保增稳产工作组（抄送）" in card.locator(".routes").inner_text()
    assert "finance" not in card.locator(".routes").inner_text()
    # The seed's measures on the card itself, each with its place in the seed.
    assert "金融组组织银企对接" in card.locator(".measures-brief").inner_text()
    assert "（（五））" in card.locator(".measures-brief").inner_text()
    shot(page, "02-inbox-live-alert", for_docs=True)

    # Filters: a severity it does not have hides it; its enterprise shows it.
    page.goto(f"{CONSOLE}/inbox?severity=low&enterprise_id={enterprise_id}")
    assert page.locator(f"article[data-alert-id='{alert_id}']").count() == 0
    page.goto(f"{CONSOLE}/inbox?type=funding_gap&enterprise_id={enterprise_id}")
    card = page.locator(f"article[data-alert-id='{alert_id}']")
    assert card.count() == 1
    shot(page, "03-inbox-filtered")

    # Acknowledge with a comment: the card changes in place, and notify has it.
    card.locator("input[name=comment]").fill("已联系省财政厅，安排过桥资金")
    card.locator("button[value=ack]").click()
    page.wait_for_selector(f"article[data-alert-id='{alert_id}'] .status[data-status=acknowledged]")
    assert page.locator(f"article[data-alert-id='{alert_id}'] .status").inner_text() == "已确认"
    stored = alert_status(alert_id)
    assert stored["status"] == "acknowledged"
    assert any("过桥资金" in (h.get("detail") or "") for h in stored["history"])
    shot(page, "04-inbox-acknowledged")

    # 协调中 until a date: the card says so, and notify holds the date (through that day, Beijing).
    # The date is typed as an official writes it: the field is text, so the browser's locale
    # changes neither how it reads nor how it is read (issue 40.3).
    until = date.today() + timedelta(days=7)
    until_day, until_chinese = until.isoformat(), f"{until.year}年{until.month}月{until.day}日"
    card = page.locator(f"article[data-alert-id='{alert_id}']")
    card.locator("input[name=until]").fill(until_chinese)
    card.locator("button[value=coordinate]").click()
    page.wait_for_selector(f"article[data-alert-id='{alert_id}'] .coordinating")
    assert until_chinese in page.locator(f"article[data-alert-id='{alert_id}'] .coordinating").inner_text()
    assert alert_status(alert_id)["coordinating_until"].startswith(until_day)

    # The case page: its facts, the seed's measures, its timeline, and who was notified and why.
    page.locator(f"article[data-alert-id='{alert_id}'] a.case-link").click()
    page.wait_for_url(f"{CONSOLE}/alerts/{alert_id}")
    assert "资金缺口" in page.locator("h1").inner_text()
    assert "银企对接" in page.locator("section.measures").inner_text()
    history = page.locator("ol.case-history").inner_text()
    assert "收到" in history and "确认收到" in history and "协调中" in history
    assert "金融组" in page.locator("section.why-notified tr[data-group=finance]").inner_text()
    # In Chinese throughout (issue 40.3): the services, groups and channels by name, the route's
    # reason by the problem's name, and dates as an official writes them.
    assert "预警规则" in history and "分送 金融组、" in history
    for machine_word in ("rules", "notify", "finance", "wg-credit", "webhook", "T0", "+00:00"):
        assert machine_word not in history, f"{machine_word!r} in the case's timeline: {history}"
    why = page.locator("section.why-notified").inner_text()
    assert "资金缺口的牵头组" in why and "funding_gap" not in why
    measures = page.locator("section.measures").inner_text()
    assert "责任单位：金融组、金融信贷保增稳产工作组" in measures and "wg-credit" not in measures
    assert "2011年12月25日" in page.locator("section.case-facts").inner_text()
    shot(page, "04b-case-page", for_docs=True)

    # A major incident's case offers the seed's measure for it (附件1 七), and a safety incident
    # reaches the enterprise-management group as well, with the reason in words.
    incident = {
        "kind": "incident",
        "incident_id": f"{enterprise_id}-fire",
        "enterprise_id": enterprise_id,
        "occurred_at": f"{date.today().isoformat()}T09:30:00+08:00",
        "category": "safety",
        "severity": "critical",
        "summary": "电解车间发生火情，已疏散",
    }
    answer = httpx.post(f"{INGEST}/v1/incidents", json=incident, headers=ADMIN, timeout=10)
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 60
    while True:
        listed = httpx.get(
            f"{NOTIFY}/v1/alerts",
            params={"enterprise_id": enterprise_id, "type": "major_incident"},
            headers=ADMIN,
            timeout=10,
        ).json()
        if listed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert listed, "the incident raised no case within a minute"
    management_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    management = management_context.new_page()
    sign_in(management, token_for("group", "enterprise-management"))
    management.wait_for_url(f"{CONSOLE}/inbox")
    management.goto(f"{CONSOLE}/alerts/{listed[0]['alert_id']}")
    assert "重大事件" in management.locator("h1").inner_text()
    assert "启动相关应急预案" in management.locator("section.measures").inner_text()
    reason = management.locator("section.why-notified tr[data-group=enterprise-management]").inner_text()
    assert "附件8" in reason
    shot(management, "04c-incident-case")
    management_context.close()
    page.goto(f"{CONSOLE}/inbox?type=funding_gap&enterprise_id={enterprise_id}")

    # The comprehensive group's overview shows the enterprise's cell in the worst colour.
    overview_context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    overview = overview_context.new_page()
    sign_in(overview, token_for("group", "comprehensive"))
    overview.wait_for_url(f"{CONSOLE}/overview")
    cell = overview.locator(f"tr[data-enterprise-id='{enterprise_id}'] td[data-type=funding_gap]")
    assert cell.get_attribute("data-worst") == stored["severity"]
    assert cell.inner_text() == "1"
    shot(overview, "05-overview")
    overview_context.close()

    # The finance group is not the comprehensive group: no overview for it.
    page.goto(f"{CONSOLE}/overview")
    assert "综合组" in page.locator("[role=alert]").inner_text()

    # Resolve: the card says so and offers no more buttons.
    page.goto(f"{CONSOLE}/inbox?enterprise_id={enterprise_id}")
    card = page.locator(f"article[data-alert-id='{alert_id}']")
    card.locator("input[name=comment]").fill("资金已到位")
    card.locator("button[value=resolve]").click()
    page.wait_for_selector(f"article[data-alert-id='{alert_id}'] .status[data-status=resolved]")
    assert page.locator(f"article[data-alert-id='{alert_id}'] button").count() == 0
    assert alert_status(alert_id)["status"] == "resolved"
    shot(page, "06-inbox-resolved")

    # The enterprise page: three weeks on the charts, the alert on the same time axis.
    page.goto(f"{CONSOLE}/enterprises/{enterprise_id}")
    deadline = time.monotonic() + 60
    while page.locator("#report-count").inner_text() != "3":
        assert time.monotonic() < deadline, "the console did not store the three reports"
        time.sleep(1)
        page.reload()
    assert page.locator("#chart-funding circle").count() == 3
    assert page.locator("#chart-inventory polyline").count() == 2
    # 电解铝's ceiling (附件3: 14000 kWh/t) is drawn beside the reported energy use.
    assert page.locator("#chart-energy polyline").count() == 2
    assert page.locator(f".timeline-strip circle[data-alert-id='{alert_id}']").count() == 1
    shot(page, "07-enterprise-trends")

    # The organisation: every group and work group, with their links.
    page.goto(f"{CONSOLE}/organisation")
    assert page.locator("section[id^=group-]").count() == 8
    assert page.locator("section[id^=work-group-]").count() == 20
    assert enterprise["name"] in page.locator("#work-group-wg-credit").inner_text()
    # The main text's own name and leads beside annex 2's, and the departments' duties.
    assert "由省金融办、中国人民银行西宁中心支行牵头" in page.locator("#group-finance").inner_text()
    assert page.locator("ul.department-duties li").count() == 14
    assert "组织架构" in page.title() and "省级部门" not in page.title()
    shot(page, "08-organisation")

    # 产业对接: the pairs this group's measures propose (none for finance) and 附件6's events.
    page.goto(f"{CONSOLE}/matchmaking")
    assert page.locator("table.events tbody tr").count() == 5
    assert "2011年12月19日" in page.locator("#event-bank-enterprise").inner_text()
    assert "目前没有对接建议" in page.locator("table.pairs").inner_text()
    shot(page, "08b-matchmaking")

    # Silences: the group holds back its deliveries for this enterprise's funding gaps, sees the
    # silence listed as active (notify has it, for finance only), then ends it.
    page.goto(f"{CONSOLE}/silences")
    form = page.locator("form.silence-form")
    form.locator("select[name=enterprise_id]").select_option(enterprise_id)
    form.locator("select[name=type]").select_option("funding_gap")
    form.locator("input[name=until]").fill((date.today() + timedelta(days=3)).isoformat())
    form.locator("input[name=comment]").fill("银企对接会期间暂停推送")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{CONSOLE}/silences")
    row = page.locator("table.silences tr.active", has_text="银企对接会期间暂停推送")
    assert row.count() == 1 and "金融组" in row.inner_text()
    held = httpx.get(f"{NOTIFY}/v1/silences", headers=ADMIN, timeout=10).json()
    mine = [s for s in held if s["comment"] == "银企对接会期间暂停推送"]
    assert mine and mine[0]["matchers"] == {
        "enterprise_id": enterprise_id,
        "type": "funding_gap",
        "group_id": "finance",
    }
    shot(page, "08b-silences")
    row.locator("button").click()
    page.wait_for_url(f"{CONSOLE}/silences")
    assert (
        page.locator(f"table.silences tr[data-silence-id='{mine[0]['id']}']").get_attribute("class")
        == "expired"
    )

    # Signing out ends the session: the inbox asks for a token again.
    page.click("header form.who button")
    page.goto(f"{CONSOLE}/inbox")
    assert page.url == f"{CONSOLE}/login"
    context.close()


def test_a_group_does_not_see_or_act_on_another_groups_alert(browser, enterprise):
    """The operations group's inbox lacks the finance group's alert, and acting on it is refused."""
    alert_id = f"funding_gap.{enterprise['id']}.2011-12-25"
    # The finance group's alert exists (the test before made it), so its absence below means
    # something: operations does not see it, not that there is nothing to see.
    assert httpx.get(f"{NOTIFY}/v1/alerts/{alert_id}", headers=ADMIN, timeout=10).status_code == 200
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    sign_in(page, token_for("group", "operations"))
    page.wait_for_url(f"{CONSOLE}/inbox")
    page.goto(f"{CONSOLE}/inbox?enterprise_id={enterprise['id']}&type=funding_gap")
    assert page.locator("article").count() == 0
    # A forged form post for the finance group's alert: notify refuses, the console says so.
    answer = page.request.post(
        f"{CONSOLE}/alerts/{alert_id}/act",
        form={"action": "ack", "comment": "x"},
        headers={"HX-Request": "true"},
    )
    assert answer.status == 403
    shot(page, "09-other-group-inbox")
    context.close()


def test_the_finance_group_computes_a_subsidy_from_the_opinions(browser):
    """金融支持测算: the risk-compensation clause with the seed's numbers, the clause quoted."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    sign_in(page, token_for("group", "finance"))
    page.wait_for_url(f"{CONSOLE}/inbox")
    page.click("nav a[href='/incentives']")
    page.wait_for_url(f"{CONSOLE}/incentives")
    calculator = page.locator(
        "details.calculator", has=page.locator("form[data-calculator=risk_compensation]")
    )
    calculator.locator("summary").click()
    form = calculator.locator("form")
    form.locator("input[name='risk_compensation.new_small_micro_loans_wan']").fill("100000")
    form.locator("input[name='risk_compensation.growth_over_last_year_wan']").fill("15000")
    form.locator("input[name='risk_compensation.non_performing_ratio']").fill("4")
    form.locator("button[type=submit]").click()
    result = page.locator("section.incentive-result")
    result.wait_for()
    assert result.locator("strong").get_attribute("data-amount") == "1200.0"  # 10亿 × 2 points × 60 %
    assert "按60％对银行业金融机构进行补偿" in result.inner_text()
    shot(page, "10-incentives-risk-compensation", for_docs=True)
    context.close()


def test_the_ops_overview_opens_in_a_browser_with_every_service_up(browser):
    """The operators' overview (Prometheus' console template, issue 40.1) in a real browser:
    every service of the platform listed as up, and links to each service's page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{PROMETHEUS}/consoles/liaison-overview.html")
    services = page.locator("table").first.inner_text()
    for service in ("ingest", "rules", "notify", "registry", "console"):
        assert f"liaison-{service}" in services, f"{service} missing from the overview: {services}"
    assert page.locator("a[href$='liaison-rules.html']").count() >= 1
    shot(page, "11-ops-overview", for_docs=True)
    context.close()


def test_a_liaison_corrects_a_questioned_week_in_the_console_and_the_query_closes(browser):
    """docs/contract.md §7 (issue 38.3): a typo (100× the enterprise's usual inventory) is questioned;
    the enterprise's liaison signs in, sees the query with the expected range, types the right
    figure, and the correction (through ingest, like any report) closes the query by data."""
    enterprise_id = f"browser-liaison-{uuid.uuid4().hex[:8]}"
    body = {
        "id": enterprise_id,
        "name": f"核查测试化工{enterprise_id[-8:]}",
        "work_group_ids": ["wg-chemical"],
    }
    assert httpx.post(f"{REGISTRY}/v1/enterprises", json=body, headers=ADMIN, timeout=10).status_code == 201
    monday = date(2004, 3, 1)
    inventories = [9000, 9200, 8800, 9100, 910_000]  # the fifth week's is the typo
    for week, inventory in enumerate(inventories):
        start = monday + timedelta(weeks=week)
        report = {
            "report_id": f"{enterprise_id}-w{week}",
            "enterprise_id": enterprise_id,
            "period_start": start.isoformat(),
            "period_end": (start + timedelta(days=6)).isoformat(),
            "submitted_at": f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
            "indicators": {"inventory_t": inventory, "sales_t": 6000 + week, "production_t": 6000},
        }
        deadline = time.monotonic() + 30
        while True:  # ingest learns of the new enterprise from the registry topic within moments
            answer = httpx.post(f"{INGEST}/v1/reports", json=report, headers=ADMIN, timeout=10)
            if answer.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert answer.status_code == 202, answer.text
    period_end = (monday + timedelta(weeks=4, days=6)).isoformat()

    def query() -> dict[str, Any] | None:
        found = httpx.get(
            f"{NOTIFY}/v1/alerts",
            params={"enterprise_id": enterprise_id, "type": "data_query"},
            headers=ADMIN,
            timeout=10,
        ).json()
        return found[0] if found else None

    deadline = time.monotonic() + 60
    while query() is None:
        assert time.monotonic() < deadline, "the typo was not questioned within a minute"
        time.sleep(0.5)
    questioned = query()
    assert questioned is not None and questioned["period_end"] == period_end

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, token_for("enterprise", enterprise_id))
    page.wait_for_url(f"{CONSOLE}/queries")
    assert "企业联络员" in page.locator("#signed-in-as").inner_text()
    row = page.locator(f"tr[data-alert-id='{questioned['alert_id']}']")
    assert "库存（吨）：填报 910000" in row.inner_text() and row.get_attribute("data-status") == "open"
    shot(page, "12-liaison-query")
    deadline = time.monotonic() + 30
    while True:  # the console stores the week's report a moment after it is published
        row.locator("input[name='indicator.inventory_t']").fill("9,100")
        row.locator("button[type=submit]").click()
        page.wait_for_load_state()
        if page.locator(".done").count() or time.monotonic() > deadline:
            break
        assert "尚未到达" in page.locator("[role=alert]").inner_text()
        time.sleep(1)
        page.goto(f"{CONSOLE}/queries")
    assert "已提交" in page.locator(".done").inner_text()
    deadline = time.monotonic() + 60
    while (current := query()) is not None and current["status"] != "resolved":
        assert time.monotonic() < deadline, f"the query did not close: {current}"
        time.sleep(0.5)
    assert current is not None and current["resolved_by"] == "data"
    page.goto(f"{CONSOLE}/queries")
    assert (
        page.locator(f"tr[data-alert-id='{questioned['alert_id']}']").get_attribute("data-status")
        == "resolved"
    )
    shot(page, "13-liaison-query-closed")
    # The liaison's console is its queries only: the groups' pages are refused.
    page.goto(f"{CONSOLE}/inbox")
    assert "数据核查" in page.locator("main").inner_text()
    context.close()


def test_the_comprehensive_group_reads_reporting_rates_as_notify_counts_them(browser):
    """Issue 38.4: the console's table is notify's reporting-rate summary, subject by subject."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, token_for("group", "comprehensive"))
    page.wait_for_url(f"{CONSOLE}/overview")
    page.click("nav a[href='/rates']")
    page.wait_for_url(f"{CONSOLE}/rates")
    # Every week since 2000, so a lived-in platform's records are on it.
    page.locator("input[name=from]").fill("2000-W01")
    page.locator("form.range button[type=submit]").click()
    page.wait_for_url(f"{CONSOLE}/rates?*")
    first, last = page.locator("input[name=from]").input_value(), page.locator("input[name=to]").input_value()
    assert first == "2000-W01"
    counted = httpx.get(
        f"{NOTIFY}/v1/reporting-rates", params={"from": first, "to": last}, headers=ADMIN, timeout=10
    ).json()
    rows = page.locator("table.rates tbody tr[data-subject]")
    assert rows.count() == len(counted["subjects"])
    if not counted["subjects"]:
        assert "没有报送记录" in page.locator("table.rates").inner_text()
    for subject in counted["subjects"][:5]:
        cells = page.locator(f"table.rates tr[data-subject='{subject['subject_id']}'] td").all_inner_texts()
        assert cells[2:7] == [
            str(subject[k]) for k in ("expected", "received", "on_time", "corrected", "questioned")
        ]
    shot(page, "14-reporting-rates")
    context.close()
