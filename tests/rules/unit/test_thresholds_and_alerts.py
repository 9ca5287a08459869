from liaison_common.registry_view import RegistryView
from services.rules.domain.alerts import alert_id, build_alert
from services.rules.domain.thresholds import Thresholds


def test_every_quoted_source_is_the_seed_text(seed_text):
    quoted = [s for s in Thresholds.load().sources() if not s.startswith("平台默认值")]
    assert len(quoted) >= 12
    assert [s for s in quoted if s not in seed_text] == []


def view_with_chalco() -> RegistryView:
    view = RegistryView()
    view.apply({"entity_type": "enterprise", "id": "chalco-qinghai", "version": 1,
                "data": {"is_sme": False, "work_group_ids": ["wg-liaison", "wg-aluminium"]}})  # fmt: skip
    return view


PROBLEM = {
    "type": "funding_gap", "enterprise_id": "chalco-qinghai", "period_end": "2011-12-18", "severity": "high",
    "summary": "缺口", "evidence": {"values": {"gap": 1}}, "source_ids": ["r1"],
}  # fmt: skip


def test_alert_ids_are_deterministic_and_distinguish_type_subject_and_period():
    assert alert_id(PROBLEM) == alert_id(dict(PROBLEM, severity="low", source_ids=["r2"]))
    assert alert_id(PROBLEM) != alert_id(dict(PROBLEM, period_end="2011-12-25"))
    assert alert_id(PROBLEM) != alert_id(dict(PROBLEM, type="stockpile"))
    incident = dict(PROBLEM, type="major_incident", source_ids=["i-1"])
    assert alert_id(incident) != alert_id(dict(incident, source_ids=["i-2"]))


def test_an_alert_carries_the_contract_routes_and_fields():
    alert = build_alert(PROBLEM, view_with_chalco(), detected_at="2011-12-19T10:00:00+08:00")
    assert [{"group_id": r["group_id"], "role": r["role"]} for r in alert["routes"]] == [
        {"group_id": "finance", "role": "primary"},
        {"group_id": "wg-credit", "role": "cc"},
        {"group_id": "wg-liaison", "role": "cc"},
        {"group_id": "wg-aluminium", "role": "cc"},
    ]
    assert {"alert_id", "type", "severity", "enterprise_id", "period_end", "detected_at", "summary", "evidence",
            "routes", "source_ids"} <= set(alert)  # fmt: skip


def test_a_routing_rule_from_the_registry_overrides_the_default():
    view = view_with_chalco()
    view.apply({"entity_type": "routing_rule", "id": "funding_gap", "version": 2,
                "data": {"primary": "sme", "cc": [], "cc_when_sme": []}})  # fmt: skip
    alert = build_alert(PROBLEM, view, detected_at="x")
    assert (alert["routes"][0]["group_id"], alert["routes"][0]["role"]) == ("sme", "primary")


def test_every_measure_quotes_the_seed_and_names_registry_units(seed_text):
    from services.rules.domain.measures import MEASURES

    quotes = [m["quote"] for measures in MEASURES.values() for m in measures]
    assert len(quotes) >= 9
    assert [q for q in quotes if q not in seed_text] == []
    assert all(m["ref"] and m["units"] and m["action"] for ms in MEASURES.values() for m in ms)


def test_an_alert_proposes_the_seed_measures_for_its_problem():
    alert = build_alert(PROBLEM, view_with_chalco(), detected_at="x")
    assert {m["ref"] for m in alert["measures"]} >= {"（五）", "（二）"}
    assert alert["state"] == "open" and alert["occurrences"] == 1 and alert["last_period_end"] == "2011-12-18"


def test_a_stockpile_of_aluminium_ingot_proposes_the_provinces_aluminium_processors(seed_text):
    from services.rules.domain.measures import CHAINS_QUOTE

    assert CHAINS_QUOTE in seed_text
    view = RegistryView()
    firms = [("chalco-qinghai", "中铝青海分公司", "电解铝"), ("qinghai-aluminium-profile", "青海铝型材厂", "铝型材"),
             ("ruihe-foil", "瑞合铝箔", "铝箔"), ("huading-industrial", "青海华鼎", "机床")]  # fmt: skip
    for version, (firm, name, product) in enumerate(firms, start=1):
        view.apply({"entity_type": "enterprise", "id": firm, "version": version,
                    "data": {"id": firm, "name": name, "main_product": product}})  # fmt: skip
    stockpile = dict(PROBLEM, type="stockpile")
    matching = [m for m in build_alert(stockpile, view, detected_at="x")["measures"] if m.get("partners")]
    assert len(matching) == 1
    assert matching[0]["partners"] == ["qinghai-aluminium-profile", "ruihe-foil"]
    assert (
        "铝锭---铝材压延加工产业链" in matching[0]["action"]
        and "青海铝型材厂、瑞合铝箔" in matching[0]["action"]
    )
    # A funding gap proposes no partners; nor does a stockpile of a product on no chain.
    assert not any(m.get("partners") for m in build_alert(PROBLEM, view, detected_at="x")["measures"])
    carpets = dict(stockpile, enterprise_id="huading-industrial")
    assert not any(m.get("partners") for m in build_alert(carpets, view, detected_at="x")["measures"])
    # The partners follow the registry: a new processor is proposed at once, a removed one no more.
    view.apply({"entity_type": "enterprise", "id": "new-foil", "version": 9,
                "data": {"id": "new-foil", "name": "新铝箔厂", "main_product": "铝箔"}})  # fmt: skip
    view.apply({"entity_type": "enterprise", "id": "ruihe-foil", "version": 10, "deleted": True})
    again = [m for m in build_alert(stockpile, view, detected_at="x")["measures"] if m.get("partners")]
    assert again[0]["partners"] == ["new-foil", "qinghai-aluminium-profile"]
