"""The seed's measures that apply to each problem type (docs/contract.md §6, `measures`).

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
            "sme_only": True,  # 附件5 is the SMEs' (issue 37.7)
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
    "growth_shortfall": [
        {
            "ref": "（十）",
            "quote": "抓实抓好推动工业经济平稳发展措施的落实，夯实本地区工业发展基础，确保完成地区年度工业发展目标任务。",
            "units": ["operations", "comprehensive"],
            "action": "督促本地区梳理突出问题、列出保增长重点企业名单，确保完成年度工业发展目标",
        },
    ],
    "major_incident": [
        {
            "ref": "附件1 七",
            "quote": "必要时，启动相关应急预案，妥善应对各类突发事件，最大限度减少损失。",
            "units": ["comprehensive", "operations"],
            "action": "视情况启动相关应急预案，协调运输、电力等保障，减少损失",
        },
    ],
}

# A report overdue: the seed asks it of each kind of reporter in its own words.
OVERDUE_MEASURES: dict[str, dict[str, Any]] = {
    "enterprise": {
        "ref": "附件2 三",
        "quote": "联络员要发挥桥梁纽带作用，及时收集、整理、传递企业生产经营重要信息，梳理企业生产经营中出现的突出问题和困难，并及时上报综合协调组。",
        "units": ["comprehensive", "wg-liaison"],
        "action": "综合组督促该企业联络员补报本周生产经营情况",
    },
    "work_group": {
        "ref": "附件2 四、5",
        "quote": "各组要每周向综合组汇报工作进展情况，重大情况随时上报。",
        "units": ["comprehensive"],
        "action": "综合组督促该工作组补报本周工作进展",
    },
}

# 附件3 gives each product its own renovation (issue 37.4): an energy or dust case gets its
# product's sentence, and a product the annex does not name gets none.
ENERGY_MEASURES: dict[str, dict[str, Any]] = {
    "硅铁": {
        "ref": "附件3 三（一）",
        "quote": "支持其实施余热利用、烟气治理等技术改造",
        "action": "支持硅铁企业实施余热利用、烟气治理技术改造，达到单位电耗7800度以下",
    },
    "铬铁": {
        "ref": "附件3 三（一）",
        "quote": "鼓励进行矿热炉加密、烟气回收净化等技术创新和技术改造",
        "action": "支持铬铁企业进行矿热炉加密、烟气回收净化改造，达到单位电耗3000度以下",
    },
    "镍铬": {
        "ref": "附件3 三（一）",
        "quote": "支持金广镍铬材料有限公司等企业进行余热回收和烟气净化的技术改造",
        "action": "支持镍铬企业进行余热回收和烟气净化改造，电耗降到4000度以下",
    },
    "碳化硅": {
        "ref": "附件3 三（一）",
        "quote": "支持丹峰磨料公司等企业采用移动式集气灶，进行碳化硅烟气净化的技术改造",
        "action": "支持碳化硅企业采用移动式集气灶进行烟气净化改造，粉尘排放浓度降到200毫克／立方米以下",
    },
    "电解铝": {
        "ref": "附件3 三（二）",
        "quote": "对2005年以前建成的300千安以下电解槽进行异型槽改造",
        "action": "支持电解铝企业对2005年以前建成的300千安以下电解槽进行异型槽改造，吨铝综合电耗降到14000度以下",
    },
}

# A power case names what failed (issue 37.5): each finding's indicator, its measure.
POWER_MEASURES: dict[str, dict[str, Any]] = {
    "coal_stock_days": {
        "ref": "（三）",
        "quote": "建立电煤绿色通道，积极开拓省外煤源，满足全省电煤需求",
        "action": "协调电煤运输与省外煤源，补足电厂电煤库存",
    },
    "supplied_to_demand": {
        "ref": "（三）",
        "quote": "加强外购电工作，确保兑现今冬明春外购电合同。",
        "action": "协调外购电和电网调度，保障该企业用电需求",
    },
    "purchased_power_mwh": {
        "ref": "（三）",
        "quote": "加强外购电工作，确保兑现今冬明春外购电合同。",
        "action": "督促省电力公司落实已签订的外购电合同，确保45亿千瓦时兑现",
    },
    "longyangxia_outflow_increase_m3_s": {
        "ref": "（三）",
        "quote": "加强水电联合调度，增加水电发电量。",
        "action": "协调黄委会和西北电网公司落实水调计划，按计划增加龙羊峡出库流量",
    },
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
        "硅铁",
        frozenset({"硅铁"}),
        "硅铁行业以物通集团、华电集团等优势企业为龙头，推进行业的兼并重组，提高产业集中度。",
        ("wutong-group", "huadian-group"),
    ),
    # 铬铁, 镍铬 and other ferroalloys: the sector's general sentence, not the 硅铁 leads (37.6).
    (
        "铁合金",
        frozenset({"铁合金", "铬铁", "镍铬"}),
        "鼓励行业龙头企业和大型企业兼并重组中小企业",
        (),
    ),
    (
        "碳化硅",
        frozenset({"碳化硅"}),
        "碳化硅行业以已经进行碳化硅烟气环保治理的大通中鑫磨料公司等骨干企业为龙头，推进行业的兼并重组。",
        ("datong-zhongxin-abrasives",),
    ),
    (
        "光伏",
        frozenset({"光伏组件", "多晶硅", "单晶硅"}),
        "积极引进国内外有实力的光伏组件企业对我省企业的兼并重组，发展上下游产业。",
        (),
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
    # 煤炭 (附件7 四（三）): no enterprise of the registry is a coal miner (docs/rules.md), so the
    # sector is here for one that an admin adds.
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
    if enterprise_id in leads:
        # A lead firm of its sector leads the consolidation; it is never told to join another's
        # (附件7: "支持金诃、晶珠藏药等企业为龙头", issue 37.6).
        action = (
            f"兼并重组组支持该企业作为{name}行业龙头推进兼并重组；可按项目补助、技改贴息、职工安置补助支持"
        )
        partners = []
    else:
        named = "、".join((view.get("enterprise", lead) or {}).get("name", lead) for lead in partners)
        lead_text = f"，以{named}为龙头" if named else ""
        action = (
            f"兼并重组组研究该企业参与{name}行业兼并重组{lead_text}；可按项目补助、技改贴息、职工安置补助支持"
        )
    return {
        "ref": "附件7 四、五（五）",
        "quote": quote + RESTRUCTURING_SUPPORT_QUOTE,
        "units": ["mergers"],
        "action": action,
        "partners": partners,
    }


def measures_for(
    problem_type: str,
    view: RegistryView | None = None,
    subject_id: str | None = None,
    *,
    evidence: dict[str, Any] | None = None,
    subject_kind: str = "enterprise",
) -> list[dict[str, Any]]:
    """The measures of a problem type that the seed says for this kind of subject (issue 37),
    naming only units the registry holds (when it is given): an energy case its product's own
    renovation, a power case the measure for what failed, 附件5 for SMEs only, an overdue report
    the words the seed addresses to its reporter; for a stockpile, the downstream firms the
    seed's chains offer it to."""
    enterprise = (view.get("enterprise", subject_id) or {}) if view is not None and subject_id else {}
    chosen = [m for m in MEASURES.get(problem_type, []) if not m.get("sme_only") or enterprise.get("is_sme")]
    if problem_type == "energy_overuse" and enterprise.get("main_product") in ENERGY_MEASURES:
        chosen.append({**ENERGY_MEASURES[enterprise["main_product"]], "units": ["tech-renovation"]})
    if problem_type == "power_shortage":
        failed = _power_findings(evidence or {})
        chosen += [{**POWER_MEASURES[name], "units": ["operations", "wg-power"]} for name in failed]
    if problem_type == "report_overdue":
        chosen.append(OVERDUE_MEASURES["work_group" if subject_kind == "work_group" else "enterprise"])
    found = []
    for measure in chosen:
        units = list(measure["units"])
        if view is not None and (view.count("group") or view.count("work_group")):
            units = [u for u in units if view.has("group", u) or view.has("work_group", u)]
        found.append({k: v for k, v in measure.items() if k != "sme_only"} | {"units": units})
    if problem_type == "stockpile" and view is not None and subject_id:
        found.extend(downstream_partners(subject_id, view))
    return found


def _power_findings(evidence: dict[str, Any]) -> list[str]:
    """Which of POWER_MEASURES' indicators the evidence shows failing, in a stable order."""
    findings = evidence.get("findings") or [evidence]
    named: list[str] = []
    for finding in findings:
        values = finding.get("values") or {}
        for name in POWER_MEASURES:
            if name in values and name not in named:
                named.append(name)
    return named
