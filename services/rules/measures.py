"""The seed's measures that apply to each problem type (CONTRACT.md §6, `measures`).

Every quotation is copied verbatim from the seed (shared/seed/000_41750fd7ee36e10e.txt) and
cited by its place: the ten measures （一）…（十） of the main text and the annexes. A test
checks each quotation against the seed where the seed is present. `units` are registry ids
of the coordination groups and work groups that carry the measure out.
"""

from typing import Any

from liaison_common.registry_view import RegistryView

MEASURES: dict[str, list[dict[str, Any]]] = {
    "funding_gap": [
        {
            "ref": "（五）",
            "quote": "组织开展银企对接活动。抓好2011年银企合作签约合同落实，组织开展2012年银企合作对接活动。",
            "units": ["finance", "wg-credit"],
            "action": "金融组组织银企对接，落实该企业流动资金贷款需求",
        },
        {
            "ref": "（二）",
            "quote": "采取多种方式扩大商业银行信贷规模，提升放贷能力，重点保障企业流动资金基本需求。",
            "units": ["finance", "wg-credit"],
            "action": "协调商业银行保障该企业流动资金基本需求",
        },
        {
            "ref": "附件5",
            "quote": "2011年以来发生、贷款期6个月以上、尚未到期的流动资金贷款，按一定的比例给予贴息支持",
            "units": ["sme"],
            "action": "中小企业可申报流动资金贷款贴息（2011年以来、贷款期6个月以上）",
        },
    ],
    "workforce_cut": [
        {
            "ref": "（四）",
            "quote": "对暂时无力足额缴纳养老保险费的困难企业，经批准，可暂缓缴纳企业应缴部分。",
            "units": ["enterprise-management", "sme"],
            "action": "指导企业申请暂缓缴纳养老保险费企业应缴部分，缓缴期间不计收滞纳金",
        },
    ],
    "production_halt": [
        {
            "ref": "（三）",
            "quote": "适时调整外购电配售政策，减免停产企业基本电费，择机实施相关政策，保持我省相对低电价优势。",
            "units": ["operations", "wg-power"],
            "action": "按实际运行容量和运行天数收取基本电费，减免停产期间基本电费",
        },
    ],
    "transport_backlog": [
        {
            "ref": "（三）",
            "quote": "积极落实公铁联运补贴政策，做好人力物力保障，全力组织突击抢运",
            "units": ["operations", "wg-rail", "wg-producer-services"],
            "action": "落实公铁联运补贴，组织积压产品突击抢运",
        },
    ],
    "stockpile": [
        {
            "ref": "（一）",
            "quote": "实施以奖代补办法，鼓励企业扩大销售，降低库存。",
            "units": ["industry-matching", "operations"],
            "action": "按以奖代补办法支持企业扩大销售、降低库存",
        },
        {
            "ref": "（五）",
            "quote": "组织开展上下游产业之间对接活动。",
            "units": ["industry-matching"],
            "action": "产业对接组组织上下游产业对接，帮助消纳积压产品",
        },
    ],
    "energy_overuse": [
        {
            "ref": "附件3",
            "quote": "支持其实施余热利用、烟气治理等技术改造",
            "units": ["tech-renovation"],
            "action": "支持企业实施余热利用、烟气治理技术改造，达到附件3改造目标",
        },
    ],
    "power_shortage": [
        {
            "ref": "（三）",
            "quote": "建立电煤绿色通道，积极开拓省外煤源，满足全省电煤需求",
            "units": ["operations", "wg-power"],
            "action": "协调电煤供应与外购电，保障企业用电",
        },
    ],
}


# 产业对接 (annex 2, the industry-matching group's duties): the chains along which a stockpile
# upstream is offered to the province's own downstream firms. Each: the seed's words for the
# chain, the registry products upstream of it, and those downstream.
CHAINS_QUOTE = (
    "重点开展铁精粉---钢材---建筑业产业链；铝锭---铝材压延加工产业链；碳化硅、单晶硅、多晶硅、切片---组件生产"
    "---光伏发电产业链；黑色、有色金属采选业---金属压延业---装备制造产业链的联动合作。"
)
CHAINS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("铝锭---铝材压延加工产业链", frozenset({"电解铝"}), frozenset({"铝型材", "铝箔", "铝加工"})),
    (
        "碳化硅、单晶硅、多晶硅、切片---组件生产---光伏发电产业链",
        frozenset({"碳化硅", "多晶硅", "硅材料"}),
        frozenset({"光伏组件"}),
    ),
    (
        "黑色、有色金属采选业---金属压延业---装备制造产业链",
        frozenset({"特钢", "镁", "镁合金", "钛合金"}),
        frozenset({"大型锻件", "机床", "曲轴", "农机", "风力发电装备"}),
    ),
)


# Partners found for an enterprise, until the registry view changes (a stockpile in every report
# of a backlog would otherwise scan every enterprise each time).
_PARTNERS: dict[tuple[int, int, str], list[dict[str, Any]]] = {}


def downstream_partners(enterprise_id: str, view: RegistryView) -> list[dict[str, Any]]:
    """The 产业对接 measure for a stockpile: the registry's firms downstream of the enterprise's
    product along the seed's chains, named (none when its product is on no chain)."""
    key = (id(view), view.generation, enterprise_id)
    if key not in _PARTNERS:
        if len(_PARTNERS) > 10_000:
            _PARTNERS.clear()
        _PARTNERS[key] = _find_downstream_partners(enterprise_id, view)
    return [{**measure, "partners": list(measure["partners"])} for measure in _PARTNERS[key]]


def _find_downstream_partners(enterprise_id: str, view: RegistryView) -> list[dict[str, Any]]:
    enterprise = view.get("enterprise", enterprise_id) or {}
    product = enterprise.get("main_product")
    found = []
    for chain, upstream, downstream in CHAINS:
        if product not in upstream:
            continue
        partners = sorted(  # by id: the same order in every run and in `partners`
            (other, data.get("name", other))
            for other in view.ids("enterprise")
            if other != enterprise_id
            and (data := view.get("enterprise", other) or {}).get("main_product") in downstream
        )
        if partners:
            names = "、".join(name for _, name in partners)
            found.append(
                {
                    "ref": "附件2 一、7（产业对接组）",
                    "quote": CHAINS_QUOTE,
                    "units": ["industry-matching"],
                    "action": f"产业对接组按{chain}组织对接，向省内下游企业推介：{names}",
                    "partners": [other for other, _ in partners],
                }
            )
    return found


# 兼并重组 (附件7 四、重点行业): the sectors whose enterprises the mergers group restructures,
# each with the products that place an enterprise in it, the seed's words, and its named lead
# firms. A halt or a funding gap that repeats there is the mergers group's business too.
RESTRUCTURING_SECTORS: tuple[tuple[str, frozenset[str], str, tuple[str, ...]], ...] = (
    (
        "铁合金",
        frozenset({"铁合金", "硅铁", "铬铁", "镍铬"}),
        "硅铁行业以物通集团、华电集团等优势企业为龙头，推进行业的兼并重组，提高产业集中度。",
        ("wutong-group", "huadian-group"),
    ),
    (
        "碳化硅",
        frozenset({"碳化硅"}),
        "碳化硅行业以已经进行碳化硅烟气环保治理的大通中鑫磨料公司等骨干企业为龙头，推进行业的兼并重组。",
        ("datong-zhongxin-abrasives",),
    ),
    (
        "中藏药",
        frozenset({"中藏药", "藏药"}),
        "支持金诃、晶珠藏药等企业为龙头，推进行业兼并重组，改变我省中藏药企业散、小、弱的局面。",
        ("jinhe", "qinghai-jingzhu-tibetan-medicine"),
    ),
    (
        "食用油加工",
        frozenset({"食用油"}),
        "鼓励安康粮油集团、弘大农副产品购销有限公司等优势企业，推进行业兼并重组。",
        ("ankang-grain-oil-group", "hongda-agricultural-products"),
    ),
    ("煤炭", frozenset({"煤炭"}), "要加快木里矿区的企业和资源重组", ()),
)
RESTRUCTURING_TYPES = frozenset({"production_halt", "funding_gap"})
# From the second period of a case on: one bad week is the operations group's; a halt or a gap
# that lasts is a sign the enterprise may need a stronger partner.
RESTRUCTURING_AFTER_OCCURRENCES = 2
RESTRUCTURING_SUPPORT_QUOTE = "通过项目补助、技改贴息、职工安置补助等形式支持企业兼并重组。"


def restructuring_sector(enterprise: dict[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
    """The 附件7 sector of an enterprise (by its product or industry): name, quote, lead firms."""
    placed = {enterprise.get("main_product"), enterprise.get("industry")}
    for sector, products, quote, leads in RESTRUCTURING_SECTORS:
        if placed & products:
            return sector, quote, leads
    return None


def restructuring_measure(enterprise_id: str, view: RegistryView) -> dict[str, Any] | None:
    """For a lasting halt or funding gap in a 附件7 sector: the mergers group's measure, naming
    the sector's lead firms from the registry."""
    sector = restructuring_sector(view.get("enterprise", enterprise_id) or {})
    if sector is None:
        return None
    name, quote, leads = sector
    partners = [lead for lead in leads if lead != enterprise_id and view.has("enterprise", lead)]
    named = "、".join((view.get("enterprise", lead) or {}).get("name", lead) for lead in partners)
    lead_text = f"，以{named}为龙头" if named else ""
    return {
        "ref": "附件7 四、五（五）",
        "quote": quote + RESTRUCTURING_SUPPORT_QUOTE,
        "units": ["mergers"],
        "action": f"兼并重组组研究该企业参与{name}行业兼并重组{lead_text}；可按项目补助、技改贴息、职工安置补助支持",
        "partners": partners,
    }


def measures_for(
    problem_type: str, view: RegistryView | None = None, subject_id: str | None = None
) -> list[dict[str, Any]]:
    """The measures of a problem type, naming only units the registry holds (when it is given);
    for a stockpile, the downstream firms the seed's chains offer it to."""
    found = []
    for measure in MEASURES.get(problem_type, []):
        units = list(measure["units"])
        if view is not None and (view.count("group") or view.count("work_group")):
            units = [u for u in units if view.has("group", u) or view.has("work_group", u)]
        found.append({**measure, "units": units})
    if problem_type == "stockpile" and view is not None and subject_id:
        found.extend(downstream_partners(subject_id, view))
    return found
