"""The rewards and subsidies of the 金融办's opinions, computed (pure; no I/O).

《关于金融支持工业经济平稳发展实施意见》(省金融办, 二〇一一年十二月, in the seed after the ten
measures) promises money to banks, guarantee companies, enterprises that raise funds directly,
microcredit companies and insurers. The 金融组 has to work each figure out by hand; these
calculators do it from validated inputs, and each answer quotes the clause it applies.

Money is in 万元 throughout, as the opinions count it (1亿元 = 10,000万元). "每增加1亿元…" counts
whole 亿 only. Where a clause names a total and how it is paid out (增资扩股 5 %, paid 100万 per
1亿 of new business), the answer gives the entitlement, what the business so far releases, and
what remains. How each ambiguous phrase is read is said beside its calculator.
"""

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

OPINIONS = "《关于金融支持工业经济平稳发展实施意见》（省金融办 二〇一一年十二月）"
YI = 10_000.0  # 1亿元 in 万元

Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False, description="万元")]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, description="%")]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Clause:
    ref: str  # where in the opinions: "一、1"
    quote: str  # the seed's words, verbatim


@dataclass
class Result:
    amount_wan: float
    explanation: str
    clause: Clause
    parts: list[dict[str, Any]] = field(default_factory=list)
    # Where the text leaves a reading open (issue 37.10): each reading with its figure, the one
    # the amount follows marked `chosen`, so the page shows both figures where they differ.
    readings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, name: str) -> dict[str, Any]:
        return {
            "calculator": name,
            "amount_wan": round(self.amount_wan, 4),
            "explanation": self.explanation,
            "parts": self.parts,
            "readings": self.readings,
            "clause": {"source": OPINIONS, "ref": self.clause.ref, "quote": self.clause.quote},
        }


def reading(text: str, amount_wan: float, *, chosen: bool) -> dict[str, Any]:
    return {"reading": text, "amount_wan": round(amount_wan, 4), "chosen": chosen}


def whole_yi(amount_wan: float) -> int:
    return math.floor(amount_wan / YI + 1e-9)


# ---------------------------------------------------------------- 一、银行业金融机构


class BankCreditGrowth(Inputs):
    industrial_loans_last_year_wan: Money = Field(description="去年同期对工业企业的信贷投放（万元）")
    industrial_loans_this_year_wan: Money = Field(description="本期对工业企业的信贷投放（万元）")


CREDIT_GROWTH = Clause(
    "一、1",
    "信贷投放增幅超过去年同期5％以上的，每增加1亿元，奖励50万元。",
)


def bank_credit_growth(inputs: BankCreditGrowth) -> Result:
    """Growth of 5 % or more over the same period last year qualifies ("5％以上" includes 5 %);
    every whole 亿 of the increase over last year earns 50万."""
    last, this = inputs.industrial_loans_last_year_wan, inputs.industrial_loans_this_year_wan
    increase = this - last
    growth = increase / last * 100 if last > 0 else (math.inf if this > 0 else 0.0)
    if growth < 5:
        shown = "—" if last == 0 else f"{growth:.2f}%"
        return Result(0.0, f"增幅{shown}，未超过去年同期5％，不予奖励", CREDIT_GROWTH)
    units = whole_yi(increase)
    shown = "去年同期为零" if last == 0 else f"增幅{growth:.2f}%"
    # The text leaves open whether "每增加1亿元" counts the whole increase or only the part above
    # the 5 % that qualifies: the whole increase is chosen (the threshold says who qualifies, the
    # rate what they earn); the other figure is shown beside it.
    above = whole_yi(increase - last * 0.05)
    readings = [
        reading("每增加1亿元按比去年同期的全部增量计（本平台采用）", units * 50.0, chosen=True),
        reading("只计超过5％增幅的部分", above * 50.0, chosen=False),
    ]
    return Result(
        units * 50.0,
        f"{shown}；比去年同期增加{increase:g}万元，计{units}个1亿元×50万元",
        CREDIT_GROWTH,
        readings=readings,
    )


class Institution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    amount_wan: Money = Field(description="本期的量（万元）：小微企业贷款增长额，或低费率新增保险业务量")
    last_year_wan: Money | None = Field(default=None, description="去年同期的量（万元），有此门槛时填写")


class Ranking(Inputs):
    institutions: list[Institution] = Field(
        min_length=1, max_length=200, description="机构（每行：名称, 本期万元[, 去年同期万元]）"
    )


SMALL_MICRO_RANKING = Clause(
    "一、2",
    "对支持小微企业贷款增长额高于去年同期的银行业金融机构班子及业务人员给予奖励。排名1-3位的银行业金融机构奖励15万元；排名4-6位的银行业金融机构奖励10万元。",
)
LOW_RATE_RANKING = Clause(
    "七、2",
    "排名1-3位的保险公司领导班子各奖励20万元；排名4-6位的保险公司领导班子各奖励10万元。",
)


def _ranked(inputs: Ranking, clause: Clause, top: float, next_: float, *, needs_last_year: bool) -> Result:
    eligible = [
        i for i in inputs.institutions if not needs_last_year or i.amount_wan > (i.last_year_wan or 0.0)
    ]
    ranked = sorted(eligible, key=lambda i: (-i.amount_wan, i.name))
    parts: list[dict[str, Any]] = []
    total = 0.0
    for rank, institution in enumerate(ranked, start=1):
        reward = top if rank <= 3 else next_ if rank <= 6 else 0.0
        parts.append({"name": institution.name, "rank": rank, "amount_wan": reward})
        total += reward
    left_out = [i.name for i in inputs.institutions if i not in eligible]
    note = f"；未高于去年同期、不参加排名：{'、'.join(left_out)}" if left_out else ""
    return Result(total, f"{len(ranked)}家参加排名，按本期的量从高到低{note}", clause, parts)


def bank_small_micro_ranking(inputs: Ranking) -> Result:
    """Banks whose small- and micro-enterprise loan growth is above last year's (give
    `last_year_wan`) are ranked by that growth; ties go by name."""
    return _ranked(inputs, SMALL_MICRO_RANKING, 15.0, 10.0, needs_last_year=True)


# ---------------------------------------------------------------- 二、融资性担保机构


class NewInstitution(Inputs):
    registered_capital_wan: Money = Field(description="注册资本（万元）")
    business_wan: Money = Field(description="开业以来至2012年3月的担保额或贷款业务量（万元）")


GUARANTEE_NEW = Clause(
    "二、1",
    "对新设融资性担保机构，经主管部门批复成立并开展业务后，按照注册资本的0．5％先行奖励，根据融资担保业务量兑现补贴，担保额每增加1亿元，拨付补贴金额100万元，直至2012年3月。",
)


def _new_institution(
    inputs: NewInstitution, *, step_wan: float, per_step: float, step_label: str, clause: Clause
) -> Result:
    """二、1 and 五、1 run parallel ("经主管部门批复成立并开展业务后"): 0.5 % of the registered
    capital, paid once the company has begun business (先行奖励 / 按照应补贴资金拨付), and besides it
    a subsidy per step of business through March 2012. Both are read this one way."""
    upfront = inputs.registered_capital_wan * 0.005
    steps = math.floor(inputs.business_wan / step_wan + 1e-9)
    parts = [
        {"label": "注册资本的0.5％，开展业务后拨付", "amount_wan": upfront},
        {"label": f"{step_label}{steps}个{step_wan:g}万元×{per_step:g}万元", "amount_wan": steps * per_step},
    ]
    total = upfront + steps * per_step
    return Result(total, "注册资本0.5％与按业务量兑现的补贴之和", clause, parts)


def guarantee_new(inputs: NewInstitution) -> Result:
    """0.5 % of the registered capital, then 100万 per whole 亿 guaranteed (through March 2012)."""
    return _new_institution(inputs, step_wan=YI, per_step=100.0, step_label="担保额", clause=GUARANTEE_NEW)


class CapitalIncrease(Inputs):
    new_capital_wan: Money = Field(description="股东新增资本金（万元）")
    business_this_year_wan: Money = Field(description="增资后的担保额或贷款额（万元）")
    business_last_year_wan: Money = Field(description="去年同期的担保额或贷款额（万元）")


GUARANTEE_INCREASE = Clause(
    "二、2",
    "对融资性担保机构增资扩股，按股东新增资本金数额的5％给予补贴。担保公司完成增资扩股并经主管部门审核批复后，在去年同期业务量基础上每增加担保额1亿元，补贴资金100万元，其余奖励资金根据融资担保业务增量逐步兑现补贴，直至2012年3月。",
)


def _released(
    entitlement: float, *, step_wan: float, per_step: float, growth_wan: float, clause: Clause
) -> Result:
    """An entitlement paid out `per_step` for every whole `step_wan` of new business."""
    steps = math.floor(max(growth_wan, 0.0) / step_wan + 1e-9)
    released = min(entitlement, steps * per_step)
    parts = [
        {"label": "应补贴资金", "amount_wan": entitlement},
        {"label": f"业务增量{steps}个{step_wan:g}万元×{per_step:g}万元，已可兑现", "amount_wan": released},
        {"label": "其余，随业务增量逐步兑现", "amount_wan": entitlement - released},
    ]
    return Result(released, f"应补贴{entitlement:g}万元，按业务增量已可兑现{released:g}万元", clause, parts)


def guarantee_capital_increase(inputs: CapitalIncrease) -> Result:
    """5 % of the new capital is the entitlement; it is paid 100万 per whole 亿 of guarantees
    above last year's same period, the rest as business grows (read so: "其余奖励资金…逐步兑现")."""
    growth = inputs.business_this_year_wan - inputs.business_last_year_wan
    return _released(
        inputs.new_capital_wan * 0.05,
        step_wan=YI,
        per_step=100.0,
        growth_wan=growth,
        clause=GUARANTEE_INCREASE,
    )


# ---------------------------------------------------------------- 三、直接融资


class DirectFinancing(Inputs):
    financing_wan: Money = Field(description="发债、信托、租赁方式的直接融资额（万元）")
    intermediary_fees_wan: Money = Field(default=0.0, description="直接融资中发生的中介费用（万元）")


DIRECT_FINANCING = Clause(
    "三",
    "对工业企业利用发债、信托、租赁方式直接融资的，按照其融资额的1％的比例给予奖励。其中，50％用于奖励企业，30％用于奖励企业管理层及企业业务人员，20％用于奖励对企业融资做出贡献的相关单位和中介机构。对工业企业直接融资活动中发生的中介费用，按照50％的比例予以补贴，但最高限额不超过200万元。",
)


def direct_financing(inputs: DirectFinancing) -> Result:
    reward = inputs.financing_wan * 0.01
    fees = min(inputs.intermediary_fees_wan * 0.5, 200.0)
    parts = [
        {"label": "奖励企业（融资额1％的50％）", "amount_wan": reward * 0.5},
        {"label": "奖励企业管理层及业务人员（30％）", "amount_wan": reward * 0.3},
        {"label": "奖励相关单位和中介机构（20％）", "amount_wan": reward * 0.2},
        {"label": "中介费用补贴（50％，最高200万元）", "amount_wan": fees},
    ]
    return Result(reward + fees, f"奖励{reward:g}万元，中介费用补贴{fees:g}万元", DIRECT_FINANCING, parts)


# ---------------------------------------------------------------- 四、承兑汇票贴现


class BillDiscount(Inputs):
    discount_fees_wan: Money = Field(description="办理承兑汇票贴现业务产生的费用（万元）")


BILL_DISCOUNT = Clause("四", "对于需办理承兑汇票贴现业务产生的费用给予30％的补贴。")


def bill_discount(inputs: BillDiscount) -> Result:
    amount = inputs.discount_fees_wan * 0.3
    return Result(amount, f"贴现费用{inputs.discount_fees_wan:g}万元的30％", BILL_DISCOUNT)


# ---------------------------------------------------------------- 五、小额贷款公司

MICROCREDIT_NEW = Clause(
    "五、1",
    "对新设小额贷款公司，按其注册资本0．5％给予补贴。小额贷款公司经主管部门批复成立并开展业务后，按照应补贴资金拨付。根据小额贷款公司业务量兑现补贴，业务量每增加1000万元，拨付补贴金额10万元，直至2012年3月。",
)
MICROCREDIT_INCREASE = Clause(
    "五、2",
    "对小额贷款公司增资扩股，按股东新增资本金数额的5％给予补贴。小额贷款公司完成增资扩股并经主管部门审核批复后，贷款额每增长1000万元补贴资金10万元，其余补贴资金根据贷款业务增量兑现，直至2012年3月。",
)


def microcredit_new(inputs: NewInstitution) -> Result:
    """Read as 二、1 is (the texts run parallel): 0.5 % of the registered capital once business
    has begun, and 10万 per 1,000万 of business besides."""
    return _new_institution(
        inputs, step_wan=1000.0, per_step=10.0, step_label="业务量", clause=MICROCREDIT_NEW
    )


class MicrocreditCapitalIncrease(CapitalIncrease):
    business_at_approval_wan: Money | None = Field(
        default=None, description="增资扩股批复时的贷款额（万元，可不填：只用于对照另一种读法）"
    )


def microcredit_capital_increase(inputs: MicrocreditCapitalIncrease) -> Result:
    """5 % of the new capital, released 10万 per 1,000万 of loan growth. "贷款额每增长" names no
    baseline: last year's same period is chosen (二、2's parallel clause says so); the growth
    since the increase was approved is the other reading, shown when its balance is given."""

    def released_for(growth_wan: float) -> Result:
        return _released(
            inputs.new_capital_wan * 0.05,
            step_wan=1000.0,
            per_step=10.0,
            growth_wan=growth_wan,
            clause=MICROCREDIT_INCREASE,
        )

    result = released_for(inputs.business_this_year_wan - inputs.business_last_year_wan)
    result.readings = [
        reading("贷款额增长按比去年同期计（本平台采用，同二、2）", result.amount_wan, chosen=True)
    ]
    if inputs.business_at_approval_wan is not None:
        other = released_for(inputs.business_this_year_wan - inputs.business_at_approval_wan)
        result.readings.append(reading("贷款额增长按增资扩股批复时起计", other.amount_wan, chosen=False))
    return result


# ---------------------------------------------------------------- 六、风险补偿基金


class RiskCompensation(Inputs):
    new_small_micro_loans_wan: Money = Field(description="新增小微企业贷款（人民银行、银监会统计口径，万元）")
    growth_over_last_year_wan: Money = Field(description="小微企业贷款比上年同期的增长额（万元）")
    non_performing_ratio: Percent = Field(description="小微企业贷款不良率（%）")


RISK_COMPENSATION = Clause(
    "六",
    "风险补偿基金根据银行业金融机构新增小微企业贷款（人民银行、银监会统计口径）所形成的风险，按60％对银行业金融机构进行补偿。风险补偿基金的补偿对象为与上年同期相比小微企业贷款增长额1亿元以上的小微企业贷款不良率2％-5％的部分。",
)


def risk_compensation(inputs: RiskCompensation) -> Result:
    """A bank whose small- and micro-enterprise loans grew by 1亿 or more is compensated 60 % of
    the losses that lie between a 2 % and a 5 % non-performing ratio of its new such loans."""
    if inputs.growth_over_last_year_wan < YI:
        return Result(0.0, "小微企业贷款增长额不足1亿元，不在补偿对象之内", RISK_COMPENSATION)
    band = max(0.0, min(inputs.non_performing_ratio, 5.0) - 2.0)
    losses = inputs.new_small_micro_loans_wan * band / 100
    parts = [
        {"label": f"不良率在2％-5％之间的部分（{band:g}个百分点）", "amount_wan": losses},
        {"label": "按60％补偿", "amount_wan": losses * 0.6},
    ]
    return Result(losses * 0.6, f"2％-5％部分的不良贷款{losses:g}万元的60％", RISK_COMPENSATION, parts)


# ---------------------------------------------------------------- 七、保险公司


class InsuranceDirectInvestment(Inputs):
    direct_investment_wan: Money = Field(description="推动的保险直投业务量（万元）")


INSURANCE_DIRECT = Clause(
    "七、1", "对推动保险直投业务量超过1亿元及以上的保险公司领导班子及重要业务人员奖励50万元。"
)


def insurance_direct_investment(inputs: InsuranceDirectInvestment) -> Result:
    """ "超过1亿元及以上": 1亿 itself qualifies."""
    if inputs.direct_investment_wan >= YI:
        return Result(50.0, "保险直投业务量达到1亿元", INSURANCE_DIRECT)
    return Result(0.0, "保险直投业务量不足1亿元", INSURANCE_DIRECT)


def insurance_low_rate_ranking(inputs: Ranking) -> Result:
    """Insurers that wrote industrial business at low rates, ranked by their new business."""
    return _ranked(inputs, LOW_RATE_RANKING, 20.0, 10.0, needs_last_year=False)
