"""The organisation file against the seed it was transcribed from (附件2 to 附件7)."""

import re

import pytest

from services.registry import organisation
from services.registry.kinds import BY_NAME, SEED_SECTIONS

DATA = organisation.load_organisation()
ENTERPRISES = {e["id"]: e for e in DATA["enterprises"]}
WORK_GROUPS = {w["id"]: w for w in DATA["work_groups"]}
GROUPS = {g["id"]: g for g in DATA["coordination_groups"]}

CONTRACT_GROUPS = {
    "comprehensive": ("综合组", "吴海昆", "省经委（综合处）"),
    "operations": ("运行组", "陈志忠", "省经委（经济运行局）"),
    "tech-renovation": ("技改组", "崔文德", "省经委（投资处）"),
    "finance": ("金融组", "鸟成云", "省金融办"),
    "sme": ("中小企业组", "张春楠", "省经委（中小企业局）"),
    "mergers": ("兼并重组组", "李学军", "省国资委（企业改制改组处）"),
    "industry-matching": ("产业对接组", "吕桂新", "省经委（建材办）"),
    "enterprise-management": ("企业管理组", "孙立明", "省国资委"),
}
CONTRACT_WORK_GROUPS = [
    "wg-chemical", "wg-aluminium", "wg-ferroalloy", "wg-equipment", "wg-tourism-products",
    "wg-small-processing", "wg-light-textile", "wg-biomedicine", "wg-farm-machinery", "wg-export",
    "wg-agri-processing", "wg-private-industry", "wg-producer-services", "wg-tech-innovation", "wg-power",
    "wg-rail", "wg-credit", "wg-provincial-soe", "wg-statistics", "wg-liaison",
]  # fmt: skip
CONTRACT_KEY_ENTERPRISES = {
    "petrochina-qinghai-oilfield": "中石油青海油田分公司",
    "qinghai-electric-power": "青海省电力公司",
    "chalco-qinghai": "中国铝业股份有限公司青海分公司",
    "yellow-river-hydropower": "黄河上游水电开发有限责任公司",
    "qinghai-salt-lake": "青海盐湖工业集团公司",
    "western-mining": "西部矿业集团公司",
    "xining-special-steel": "西宁特殊钢集团有限责任公司",
    "qinghua-coal-chemical": "青海庆华矿冶煤化集团有限公司",
    "huading-industrial": "青海华鼎实业股份有限公司",
    "qiaotou-aluminium-power": "青海桥头铝电有限公司",
    "yellow-river-recycled-aluminium": "青海黄河再生铝业有限公司",
    "qinghai-energy-development": "青海能源发展（集团）有限责任公司",
    "zangyang-carpet": "青海藏羊地毯（集团）有限公司",
    "qinghai-investment-group": "青海省投资集团有限公司",
}


def test_the_file_is_consistent():
    assert organisation.problems(DATA) == []


def test_every_name_in_the_file_occurs_verbatim_in_the_seed(seed_text):
    names = [u["name"] for u in DATA["units"]]
    names += [g["name"] for g in DATA["coordination_groups"]] + [
        g["leader"] for g in DATA["coordination_groups"]
    ]
    names += [w["name"] for w in DATA["work_groups"]] + [w["short_name"] for w in DATA["work_groups"]]
    for enterprise in DATA["enterprises"]:
        names += [enterprise["name"], *enterprise["aliases"]]
    missing = [name for name in names if name not in seed_text]
    assert missing == []


def test_duties_are_the_seed_text(seed_text):
    # The seed's text carries the printed page numbers ("-26-") inside sentences; the duties do not.
    without_page_numbers = re.sub(r"-\d{1,3}-", "", seed_text)
    for item in DATA["coordination_groups"] + DATA["work_groups"]:
        assert item["duties"] and item["duties"] in without_page_numbers, item["id"]
        assert not re.search(r"-\d{1,3}-", item["duties"]), f"a page number in {item['id']}'s duties"


def test_the_coordination_groups_are_those_of_the_contract():
    assert list(GROUPS) == list(CONTRACT_GROUPS)
    units = {u["id"]: u["name"] for u in DATA["units"]}
    for group_id, (name, leader, lead_unit) in CONTRACT_GROUPS.items():
        group = GROUPS[group_id]
        assert (group["name"], group["leader"], units[group["lead_unit_id"]]) == (name, leader, lead_unit)


def test_every_member_unit_of_each_coordination_group_is_transcribed(seed_text):
    units = {u["id"]: u["name"] for u in DATA["units"]}
    for group in DATA["coordination_groups"]:
        # The seed's own list, e.g. "成员单位：省发改委、省国资委、…" after the group's heading.
        heading = seed_text.index(f"{group['number']}．{group['name']}：")
        line = re.search(r"成员单位：([^\n]+)", seed_text[heading:]).group(1)
        assert [units[u] for u in group["member_unit_ids"]] == line.strip().split("、"), group["id"]


def test_the_work_groups_are_those_of_the_contract_in_the_seed_order():
    assert list(WORK_GROUPS) == CONTRACT_WORK_GROUPS
    assert [w["number"] for w in DATA["work_groups"]] == list(range(1, 21))


def test_every_work_group_names_its_lead_and_participants(seed_text):
    units = {u["id"]: u["name"] for u in DATA["units"]}
    for wg in DATA["work_groups"]:
        heading = seed_text.index(f"{wg['number']}．{wg['name']}：")
        block = seed_text[heading : heading + 400]
        lead = re.search(r"牵头单位：([^\n]+)", block).group(1).strip()
        assert "、".join(units[u] for u in wg["lead_unit_ids"]) == lead, wg["id"]
        for unit_id in wg["participant_unit_ids"]:
            name = units[unit_id]
            # 装备制造's participants are written "省经委（经济运行局、投资处、行业处）" in the seed.
            short = re.sub(r"^省经委（(.+)）$", r"\1", name)
            assert name in block or short in block, (wg["id"], name)


def test_the_key_enterprises_are_the_fourteen_of_the_contract_and_link_to_the_liaison_group():
    keys = {e["id"]: e["name"] for e in DATA["enterprises"] if e["is_key"]}
    assert keys == CONTRACT_KEY_ENTERPRISES
    assert all("wg-liaison" in ENTERPRISES[i]["work_group_ids"] for i in keys)


@pytest.mark.parametrize(
    ("enterprise_id", "work_group_id"),
    [
        ("chalco-qinghai", "wg-aluminium"),
        ("qiaotou-aluminium-power", "wg-aluminium"),
        ("yellow-river-recycled-aluminium", "wg-aluminium"),
        ("huading-industrial", "wg-equipment"),
        ("qinghai-electric-power", "wg-power"),
        ("yellow-river-hydropower", "wg-power"),
    ],
)
def test_the_links_the_contract_names(enterprise_id, work_group_id):
    assert work_group_id in ENTERPRISES[enterprise_id]["work_group_ids"]


# The seed names no 主要联点 for these seven (附件2 二.10, 15–20): they serve a sector or a task.
WORK_GROUPS_WITHOUT_LIAISON_POINTS = {
    "wg-export", "wg-power", "wg-rail", "wg-credit", "wg-provincial-soe", "wg-statistics", "wg-liaison",
}  # fmt: skip


def test_every_main_liaison_point_of_each_work_group_is_an_enterprise_linked_to_it():
    without = set()
    for wg in DATA["work_groups"]:
        match = re.search(r"主要联点([^。]+?)(?:等企业|等)?[。，]", wg["duties"])
        if match is None:
            without.add(wg["id"])
            continue
        for name in match.group(1).split("、"):
            linked = [
                e
                for e in DATA["enterprises"]
                if wg["id"] in e["work_group_ids"] and name in [e["name"], *e["aliases"]]
            ]
            assert linked, f"{wg['id']}: {name} is not an enterprise linked to it"
    assert without == WORK_GROUPS_WITHOUT_LIAISON_POINTS  # no work group skipped unnoticed


def test_energy_ceiling_products_are_recorded_for_the_annex_3_enterprises():
    products = {e["id"]: e["main_product"] for e in DATA["enterprises"]}
    assert products["wutong-group"] == "硅铁"
    assert products["tianyi-metallurgy"] == "铬铁"
    assert products["jinguang-nickel-chromium"] == "镍铬"
    assert products["danfeng-abrasives"] == "碳化硅"
    assert products["chalco-qinghai"] == "电解铝"


def test_enterprises_of_the_sme_work_groups_are_smes_and_key_enterprises_are_not():
    assert ENTERPRISES["qinghai-tailin-garment"]["is_sme"] is True
    assert ENTERPRISES["qinghai-zhenggong-machinery"]["is_sme"] is True
    assert not any(e["is_sme"] for e in DATA["enterprises"] if e["is_key"])


def test_every_entity_passes_the_api_create_shape():
    for section, kind_name in SEED_SECTIONS.items():
        for item in DATA[section]:
            BY_NAME[kind_name].create.model_validate(item)
    for rule in organisation.routing_rules():
        BY_NAME["routing_rule"].create.model_validate(rule)


def test_the_file_holds_every_enterprise_the_annexes_name():
    # 附件3 to 附件7 name 67 further firms beside the 14 key enterprises and the 主要联点 of the work groups.
    assert len(DATA["enterprises"]) == 101
    assert len({e["id"] for e in DATA["enterprises"]}) == 101


def test_every_region_names_its_source_and_the_seeds_own_places_are_in_the_enterprises_names():
    placed = [e for e in DATA["enterprises"] if e.get("region")]
    assert len(placed) >= 16
    for enterprise in placed:
        source = enterprise.get("region_source") or ""
        assert source.startswith(("企业名称", "公开资料")), enterprise["id"]
        if source.startswith("企业名称"):  # the seed's own evidence: the name the seed gives
            assert enterprise["name"] in source, enterprise["id"]
    assert (
        ENTERPRISES["qinghai-salt-lake"]["region"],
        ENTERPRISES["petrochina-qinghai-oilfield"]["region"],
    ) == (
        "海西",
        "海西",
    )
    # Province-wide operators stay without a region (the province's target applies), and say why.
    assert ENTERPRISES["qinghai-electric-power"]["region"] is None
    assert ENTERPRISES["qinghai-electric-power"]["region_source"]


def test_the_main_texts_names_and_sentences_for_the_groups_are_kept_beside_annex_2s(seed_text):
    assert GROUPS["comprehensive"]["main_text_name"] == "综合协调组"
    assert GROUPS["industry-matching"]["main_text_name"] == "重大活动对接组"
    assert "由省金融办、中国人民银行西宁中心支行牵头" in GROUPS["finance"]["main_text"]
    for group in DATA["coordination_groups"]:
        assert group["main_text"].startswith(group["main_text_name"] + "由")
        assert group["main_text"] in seed_text, group["id"]


def test_the_main_texts_duties_of_the_provincial_departments_are_data(seed_text):
    with_duties = [u for u in DATA["units"] if u.get("duties")]
    # 14 sentences; the state and local tax bureaus share one.
    assert len({u["duties"] for u in with_duties}) == 14 and len(with_duties) == 15
    for unit in with_duties:
        # Each sentence begins with its department (the main text says 省人力资源和社会保障厅).
        assert unit["duties"][:3] == unit["name"][:3] or unit["id"] == "gov-local-tax"
        assert unit["duties"] in seed_text, unit["id"]


def test_the_five_matchmaking_events_of_annex_6_with_their_dates(seed_text):
    events = DATA["matchmaking_events"]
    assert [e["name"] for e in events] == [
        "银企对接活动", "上下游产业对接活动", "生产企业与商贸流通企业对接活动",
        "玉树灾后重建大宗建材供需现场对接会", "保障性住房建设建材供需对接会",
    ]  # fmt: skip
    assert [e["date"] for e in events] == [
        "2011-12-19",
        "2011-12-20",
        "2011-12-21",
        "2011-12-23",
        "2011-12-22",
    ]
    for event in events:
        for text in (event["name"], event["hosts"], event["participants"], event["date_text"]):
            assert text in seed_text, event["id"]
        day = int(event["date"][-2:])
        assert f"2011年12月{day}日" in event["date_text"]


def test_the_seeds_implied_routes_quote_the_seed_and_only_add_recipients(seed_text):
    contract = {rule["id"]: rule for rule in organisation.routing_rules()}
    for rule in organisation.seed_routing_rules():
        before = contract[rule["id"]]
        assert rule["primary"] == before["primary"]
        assert set(before["cc"]) <= set(rule["cc"]) and set(before["cc_when_sme"]) <= set(rule["cc_when_sme"])
    for implied in organisation.SEED_IMPLIED_ROUTES.values():
        assert implied["quote"] in seed_text


def test_western_mining_is_followed_by_the_aluminium_work_group_as_well(seed_text):
    """Issue 37.9: 电解铝组 "负责联点帮扶有色金属冶炼及压延加工企业"; 附件3 names the group's copper and zinc smelting."""
    from services.registry.organisation import load_organisation

    mining = next(e for e in load_organisation()["enterprises"] if e["id"] == "western-mining")
    assert "wg-aluminium" in mining["work_group_ids"]
    assert "负责联点帮扶有色金属冶炼及压延加工企业" in seed_text


def test_a_date_planned_before_a_day_is_a_deadline():
    """Issue 37.11: 附件6's "拟定于2011年12月19日前…" is held by that day, "初步定于…举办" on it."""
    from services.registry.organisation import load_organisation

    events = {e["id"]: e for e in load_organisation()["matchmaking_events"]}
    assert (
        events["bank-enterprise"]["date_kind"] == "by" and events["bank-enterprise"]["date"] == "2011-12-19"
    )
    assert events["yushu-building-materials"]["date_kind"] == "on"
    assert all((e["date_kind"] == "by") == ("前" in e["date_text"]) for e in events.values())


def test_the_provincial_soe_group_links_no_firm_because_the_seed_names_none(seed_text):
    """Issue 37.9: "省属16家国有企业" is a collective the seed never lists; the registry links no
    guessed firm to wg-provincial-soe, and docs/registry.md says why."""
    from pathlib import Path

    from services.registry.organisation import load_organisation

    assert "参与单位：省属16家国有企业" in seed_text
    organisation = load_organisation()
    assert not [
        e["id"] for e in organisation["enterprises"] if "wg-provincial-soe" in e.get("work_group_ids", [])
    ]
    docs = (Path(__file__).resolve().parents[3] / "docs" / "registry.md").read_text(encoding="utf-8")
    assert "wg-provincial-soe) links no enterprise" in docs
