"""兼并重组组 (附件7): a halt or funding gap that lasts in a restructuring sector reaches it."""

import pytest

from liaison_common.registry_view import RegistryView
from services.registry.organisation import load_organisation
from services.rules.domain.alerts import build_alert
from services.rules.domain.cases import CaseBook

ORGANISATION = load_organisation()


@pytest.fixture(scope="module")
def view() -> RegistryView:
    view = RegistryView()
    sections = {"coordination_groups": "group", "work_groups": "work_group", "enterprises": "enterprise"}
    for section, entity_type in sections.items():
        for item in ORGANISATION[section]:
            view.apply({"entity_type": entity_type, "id": item["id"], "version": 1, "data": item})
    return view


def alerts_of(view: RegistryView, problem_type: str, enterprise_id: str, periods: list[str]) -> list[dict]:
    book = CaseBook()
    found = []
    for end in periods:
        case = book.detected(problem_type, enterprise_id, end)
        problem = {"type": problem_type, "enterprise_id": enterprise_id, "period_end": end, "severity": "high",
                   "summary": "停产", "evidence": {}, "source_ids": [f"r-{end}"]}  # fmt: skip
        found.append(build_alert(problem, view, detected_at="2012-01-09T10:00:00+08:00", case=case))
    return found


def groups(alert: dict) -> list[str]:
    return [route["group_id"] for route in alert["routes"]]


def test_a_ferroalloy_halt_reaches_the_mergers_group_from_its_second_period_with_the_sectors_sentence(view):
    """华晟 is a 铁合金 firm the seed does not place in 硅铁: it gets 附件7 四（一）'s general sentence,
    never the 硅铁 leads (issue 37.6)."""
    first, second = alerts_of(
        view, "production_halt", "qinghai-huasheng-ferroalloy", ["2012-01-08", "2012-01-15"]
    )
    assert groups(first) == [
        "operations",
        "enterprise-management",
        "wg-ferroalloy",
    ]  # docs/contract.md §3 as it is
    assert groups(second) == ["operations", "enterprise-management", "wg-ferroalloy", "mergers"]
    assert second["routes"][-1]["role"] == "cc" and "附件7 铁合金" in second["routes"][-1]["reason"]
    [measure] = [m for m in second["measures"] if m["units"] == ["mergers"]]
    assert measure["partners"] == [] and "物通" not in measure["action"]
    assert measure["quote"].startswith("鼓励行业龙头企业和大型企业兼并重组中小企业")


def test_a_silicon_iron_firm_is_offered_the_silicon_iron_leads(view):
    view.apply({"entity_type": "enterprise", "id": "x-silicon-iron", "version": 1,
                "data": {"id": "x-silicon-iron", "name": "某硅铁厂", "main_product": "硅铁", "industry": "铁合金"}})  # fmt: skip
    _, second = alerts_of(view, "production_halt", "x-silicon-iron", ["2012-01-08", "2012-01-15"])
    [measure] = [m for m in second["measures"] if m["units"] == ["mergers"]]
    assert measure["partners"] == ["wutong-group", "huadian-group"]
    assert "以物通集团、华电集团为龙头" in measure["action"]
    assert measure["quote"].startswith("硅铁行业以物通集团、华电集团等优势企业为龙头")


def test_a_lead_firm_is_never_told_to_join_another_leads_consolidation(view, seed_text):
    _, second = alerts_of(
        view, "funding_gap", "qinghai-jingzhu-tibetan-medicine", ["2012-02-12", "2012-02-19"]
    )
    assert groups(second) == ["finance", "wg-credit", "sme", "wg-biomedicine", "mergers"]
    [measure] = [m for m in second["measures"] if m["units"] == ["mergers"]]
    assert measure["partners"] == [] and "金诃" not in measure["action"]
    assert "作为中藏药行业龙头" in measure["action"]
    assert "支持金诃、晶珠藏药等企业为龙头" in seed_text


def test_outside_the_restructuring_sectors_and_for_other_types_the_contract_routes_stand(view):
    _, halt = alerts_of(view, "production_halt", "chalco-qinghai", ["2012-01-08", "2012-01-15"])
    _, stockpile = alerts_of(
        view, "stockpile", "haidong-guiqiang-silicon-carbide", ["2012-01-08", "2012-01-15"]
    )
    assert "mergers" not in groups(halt) and "mergers" not in groups(stockpile)


def test_the_restructuring_quotes_are_the_seed_text(seed_text):
    from services.rules.domain.measures import RESTRUCTURING_SECTORS, RESTRUCTURING_SUPPORT_QUOTE

    assert RESTRUCTURING_SUPPORT_QUOTE in seed_text
    for _, _, quote, leads in RESTRUCTURING_SECTORS:
        assert quote in seed_text
        assert all(lead in {e["id"] for e in ORGANISATION["enterprises"]} for lead in leads)
