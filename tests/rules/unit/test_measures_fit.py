"""Issue 37, measures that fit: each case gets only what the seed says for its kind of subject."""

import pytest

from liaison_common.registry_view import RegistryView
from services.rules.domain.measures import ENERGY_MEASURES, OVERDUE_MEASURES, POWER_MEASURES, measures_for


def view_with(**enterprises: dict) -> RegistryView:
    view = RegistryView()
    for enterprise_id, data in enterprises.items():
        view.apply(
            {
                "entity_type": "enterprise",
                "id": enterprise_id,
                "version": 1,
                "data": {"id": enterprise_id, **data},
            }
        )
    return view


def test_every_new_quotation_is_the_seeds_text(seed_text):
    quotes = [
        m["quote"] for table in (ENERGY_MEASURES, POWER_MEASURES, OVERDUE_MEASURES) for m in table.values()
    ]
    quotes += [m["quote"] for kind in ("growth_shortfall", "major_incident") for m in measures_for(kind)]
    assert [q for q in quotes if q not in seed_text] == []


@pytest.mark.parametrize(
    ("product", "words"),
    [("硅铁", "余热利用、烟气治理"), ("铬铁", "矿热炉加密、烟气回收净化"), ("镍铬", "余热回收和烟气净化"),
     ("碳化硅", "移动式集气灶"), ("电解铝", "异型槽改造")],
)  # fmt: skip
def test_an_energy_case_gets_its_products_own_renovation(product, words):
    view = view_with(x={"main_product": product})
    quotes = [m["quote"] for m in measures_for("energy_overuse", view, "x")]
    assert len(quotes) == 1 and words in quotes[0]


def test_a_product_the_annex_does_not_name_gets_no_renovation_sentence():
    assert measures_for("energy_overuse", view_with(x={"main_product": "特钢"}), "x") == []


def test_a_power_case_names_what_failed():
    coal = {"values": {"coal_stock_days": 4}}
    supply = {"values": {"power_demand_mwh": 100, "power_supplied_mwh": 90, "supplied_to_demand": 0.9}}
    both = {"findings": [supply, coal]}
    view = view_with(x={})
    assert ["电煤" in m["quote"] for m in measures_for("power_shortage", view, "x", evidence=coal)] == [True]
    assert [m["quote"] for m in measures_for("power_shortage", view, "x", evidence=supply)] == [
        "加强外购电工作，确保兑现今冬明春外购电合同。"
    ]
    assert len(measures_for("power_shortage", view, "x", evidence=both)) == 2
    dam = {"values": {"longyangxia_outflow_increase_m3_s": 35}}
    assert (
        "水电联合调度"
        in measures_for("power_shortage", view, None, evidence=dam, subject_kind="work_group")[0]["quote"]
    )


def test_the_sme_measures_of_annex_5_go_to_smes_only():
    view = view_with(big={"is_sme": False}, small={"is_sme": True})
    assert "附件5" not in [m["ref"] for m in measures_for("funding_gap", view, "big")]
    assert "附件5" in [m["ref"] for m in measures_for("funding_gap", view, "small")]


def test_growth_overdue_and_incidents_have_the_seeds_measures():
    assert "确保完成地区年度工业发展目标任务" in measures_for("growth_shortfall")[0]["quote"]
    assert "启动相关应急预案" in measures_for("major_incident")[0]["quote"]
    assert measures_for("report_overdue", subject_kind="work_group")[0]["ref"] == "附件2 四、5"
    assert "联络员" in measures_for("report_overdue", subject_kind="enterprise")[0]["quote"]
