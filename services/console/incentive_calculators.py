"""The calculators of the 金融办's opinions by name, as the console offers them (the page and
/api/incentives/<name>): each with its title, its inputs and what it computes
(services/console/incentives.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.console.incentives import (
    BILL_DISCOUNT,
    CREDIT_GROWTH,
    DIRECT_FINANCING,
    GUARANTEE_INCREASE,
    GUARANTEE_NEW,
    INSURANCE_DIRECT,
    LOW_RATE_RANKING,
    MICROCREDIT_INCREASE,
    MICROCREDIT_NEW,
    RISK_COMPENSATION,
    SMALL_MICRO_RANKING,
    BankCreditGrowth,
    BillDiscount,
    CapitalIncrease,
    Clause,
    DirectFinancing,
    Inputs,
    InsuranceDirectInvestment,
    MicrocreditCapitalIncrease,
    NewInstitution,
    Ranking,
    Result,
    RiskCompensation,
    bank_credit_growth,
    bank_small_micro_ranking,
    bill_discount,
    direct_financing,
    guarantee_capital_increase,
    guarantee_new,
    insurance_direct_investment,
    insurance_low_rate_ranking,
    microcredit_capital_increase,
    microcredit_new,
    risk_compensation,
)


@dataclass(frozen=True)
class Calculator:
    name: str
    title: str
    inputs: type[Inputs]
    compute: Callable[[Any], Result]


CALCULATORS: dict[str, Calculator] = {
    c.name: c
    for c in (
        Calculator(
            name="bank_credit_growth",
            title="银行：工业企业信贷投放增长奖励",
            inputs=BankCreditGrowth,
            compute=bank_credit_growth,
        ),
        Calculator(
            name="bank_small_micro_ranking",
            title="银行：小微企业贷款增长排名奖励",
            inputs=Ranking,
            compute=bank_small_micro_ranking,
        ),
        Calculator(
            name="guarantee_new",
            title="担保机构：新设奖励与补贴",
            inputs=NewInstitution,
            compute=guarantee_new,
        ),
        Calculator(
            name="guarantee_capital_increase",
            title="担保机构：增资扩股补贴",
            inputs=CapitalIncrease,
            compute=guarantee_capital_increase,
        ),
        Calculator(
            name="direct_financing",
            title="企业：直接融资奖励与中介费用补贴",
            inputs=DirectFinancing,
            compute=direct_financing,
        ),
        Calculator(
            name="bill_discount", title="承兑汇票贴现费用补贴", inputs=BillDiscount, compute=bill_discount
        ),
        Calculator(
            name="microcredit_new",
            title="小额贷款公司：新设补贴",
            inputs=NewInstitution,
            compute=microcredit_new,
        ),
        Calculator(
            name="microcredit_capital_increase",
            title="小额贷款公司：增资扩股补贴",
            inputs=MicrocreditCapitalIncrease,
            compute=microcredit_capital_increase,
        ),
        Calculator(
            name="risk_compensation",
            title="银行：小微企业贷款风险补偿",
            inputs=RiskCompensation,
            compute=risk_compensation,
        ),
        Calculator(
            name="insurance_direct_investment",
            title="保险公司：保险直投奖励",
            inputs=InsuranceDirectInvestment,
            compute=insurance_direct_investment,
        ),
        Calculator(
            name="insurance_low_rate_ranking",
            title="保险公司：低费率承保排名奖励",
            inputs=Ranking,
            compute=insurance_low_rate_ranking,
        ),
    )
}

CLAUSES: tuple[Clause, ...] = (
    CREDIT_GROWTH,
    SMALL_MICRO_RANKING,
    GUARANTEE_NEW,
    GUARANTEE_INCREASE,
    DIRECT_FINANCING,
    BILL_DISCOUNT,
    MICROCREDIT_NEW,
    MICROCREDIT_INCREASE,
    RISK_COMPENSATION,
    INSURANCE_DIRECT,
    LOW_RATE_RANKING,
)


def calculate(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate `payload` for calculator `name` (pydantic.ValidationError names the field) and
    compute; KeyError for an unknown calculator."""
    calculator = CALCULATORS[name]
    return calculator.compute(calculator.inputs.model_validate(payload)).as_dict(name)
