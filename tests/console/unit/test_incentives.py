"""The 金融办's rewards and subsidies, computed with the seed's own numbers."""

import pytest
from pydantic import ValidationError

from services.console.incentive_calculators import CLAUSES, calculate


def test_every_clause_is_quoted_verbatim_from_the_seed(seed_text):
    flat = seed_text.replace("\u3000", "")
    for clause in CLAUSES:
        assert clause.quote in flat, clause.ref
    assert "关于金融支持工业经济平稳发展实施意见" in seed_text


def test_credit_growth_of_5_percent_or_more_earns_50_wan_per_whole_yi():
    # Last year 40亿, this year 43亿: +7.5 %, 3亿 more → 150万.
    answer = calculate("bank_credit_growth", {"industrial_loans_last_year_wan": 400_000,
                                              "industrial_loans_this_year_wan": 430_000})  # fmt: skip
    assert answer["amount_wan"] == 150
    assert answer["clause"]["ref"] == "一、1" and "奖励50万元" in answer["clause"]["quote"]
    # 2.5亿 more counts two whole 亿.
    assert calculate("bank_credit_growth", {"industrial_loans_last_year_wan": 400_000,
                                            "industrial_loans_this_year_wan": 425_000})["amount_wan"] == 100  # fmt: skip
    # +4 %: nothing, however large the bank.
    none = calculate("bank_credit_growth", {"industrial_loans_last_year_wan": 1_000_000,
                                            "industrial_loans_this_year_wan": 1_040_000})  # fmt: skip
    assert none["amount_wan"] == 0 and "未超过" in none["explanation"]


def test_small_micro_ranking_pays_15_then_10_wan_and_skips_banks_below_last_year():
    banks = [{"name": f"银行{i}", "amount_wan": 10_000 - i * 500, "last_year_wan": 1_000} for i in range(8)]
    banks.append({"name": "退步银行", "amount_wan": 99_999, "last_year_wan": 100_000})
    answer = calculate("bank_small_micro_ranking", {"institutions": banks})
    by_name = {p["name"]: (p["rank"], p["amount_wan"]) for p in answer["parts"]}
    assert by_name["银行0"] == (1, 15) and by_name["银行2"] == (3, 15)
    assert by_name["银行3"] == (4, 10) and by_name["银行5"] == (6, 10) and by_name["银行6"] == (7, 0)
    assert "退步银行" not in by_name and "退步银行" in answer["explanation"]
    assert answer["amount_wan"] == 3 * 15 + 3 * 10


def test_a_new_guarantee_company_gets_half_a_percent_then_100_wan_per_yi_guaranteed():
    # 注册资本 2亿 → 100万 at once; 3.4亿 guaranteed → 300万.
    answer = calculate("guarantee_new", {"registered_capital_wan": 20_000, "business_wan": 34_000})
    assert answer["amount_wan"] == 400
    assert [p["amount_wan"] for p in answer["parts"]] == [100, 300]


def test_a_capital_increase_is_5_percent_released_100_wan_per_yi_of_new_guarantees():
    # 新增资本金 1亿 → 500万 owed; guarantees up 2.6亿 on last year → 200万 released, 300万 to come.
    answer = calculate("guarantee_capital_increase", {"new_capital_wan": 10_000, "business_this_year_wan": 56_000,
                                                      "business_last_year_wan": 30_000})  # fmt: skip
    assert answer["amount_wan"] == 200
    assert [p["amount_wan"] for p in answer["parts"]] == [500, 200, 300]
    # More new business than the entitlement covers: never more than the 5 %.
    capped = calculate("guarantee_capital_increase", {"new_capital_wan": 1_000, "business_this_year_wan": 90_000,
                                                      "business_last_year_wan": 0})  # fmt: skip
    assert capped["amount_wan"] == 50


def test_direct_financing_splits_1_percent_50_30_20_and_caps_the_fee_subsidy_at_200_wan():
    # A 5亿 bond: 500万 reward (250 / 150 / 100); fees of 600万 → 300万, capped at 200万.
    answer = calculate("direct_financing", {"financing_wan": 50_000, "intermediary_fees_wan": 600})
    assert [p["amount_wan"] for p in answer["parts"]] == [250, 150, 100, 200]
    assert answer["amount_wan"] == 700
    assert (
        calculate("direct_financing", {"financing_wan": 0, "intermediary_fees_wan": 100})["amount_wan"] == 50
    )


def test_bill_discount_fees_are_subsidised_30_percent():
    assert calculate("bill_discount", {"discount_fees_wan": 80})["amount_wan"] == pytest.approx(24)


def test_a_new_microcredit_company_is_read_as_a_new_guarantee_company_is(seed_text):
    """Issue 37.10: 二、1 and 五、1 run parallel ("经主管部门批复成立并开展业务后…"): both pay 0.5 % of
    the registered capital once business has begun, and a subsidy per step of business besides."""
    flat = seed_text.replace("\u3000", "")
    assert "经主管部门批复成立并开展业务后，按照注册资本的0．5％先行奖励，根据融资担保业务量兑现补贴" in flat
    assert (
        "按其注册资本0．5％给予补贴。小额贷款公司经主管部门批复成立并开展业务后，按照应补贴资金拨付。根据小额贷款公司业务量兑现补贴"
        in flat
    )
    # 注册资本 1亿 → 50万; 2,500万 of loans → two steps of 1,000万 → 20万; 70万 in all.
    new = calculate("microcredit_new", {"registered_capital_wan": 10_000, "business_wan": 2_500})
    assert new["amount_wan"] == 70 and [p["amount_wan"] for p in new["parts"]] == [50, 20]
    guarantee = calculate("guarantee_new", {"registered_capital_wan": 10_000, "business_wan": 25_000})
    assert guarantee["parts"][0]["label"] == new["parts"][0]["label"] and guarantee["amount_wan"] == 50 + 200


def test_a_microcredit_capital_increase_counts_growth_over_last_year_and_shows_the_other_baseline():
    """Issue 37.10: 五、2's "贷款额每增长1000万元" names no baseline: last year's same period is chosen
    (二、2 says so), the growth since the approval shown beside it when its balance is given."""
    more = calculate("microcredit_capital_increase", {"new_capital_wan": 2_000, "business_this_year_wan": 9_000,
                                                      "business_last_year_wan": 3_000})  # fmt: skip
    assert more["amount_wan"] == 60 and more["parts"][0]["amount_wan"] == 100
    assert [(r["amount_wan"], r["chosen"]) for r in more["readings"]] == [(60, True)]
    both = calculate("microcredit_capital_increase", {"new_capital_wan": 2_000, "business_this_year_wan": 9_000,
                                                      "business_last_year_wan": 3_000, "business_at_approval_wan": 7_000})  # fmt: skip
    assert [(r["amount_wan"], r["chosen"]) for r in both["readings"]] == [(60, True), (20, False)]
    assert both["amount_wan"] == 60


def test_credit_growth_shows_the_reading_that_counts_only_the_part_above_5_percent():
    """Issue 37.10: 一、1 "信贷投放增幅超过去年同期5％以上的，每增加1亿元" — the whole increase (chosen)
    or only the part above 5 %: both figures on the page."""
    answer = calculate("bank_credit_growth", {"industrial_loans_last_year_wan": 400_000,
                                              "industrial_loans_this_year_wan": 430_000})  # fmt: skip
    # +3亿 in all; above 5 % (2亿) only 1亿.
    assert [(r["amount_wan"], r["chosen"]) for r in answer["readings"]] == [(150, True), (50, False)]


def test_risk_compensation_covers_60_percent_of_the_losses_between_2_and_5_percent():
    # 新增小微企业贷款 10亿, 不良率 4 %: 2 points in the band → 2,000万 of losses → 1,200万.
    answer = calculate("risk_compensation", {"new_small_micro_loans_wan": 100_000,
                                             "growth_over_last_year_wan": 15_000, "non_performing_ratio": 4})  # fmt: skip
    assert answer["amount_wan"] == pytest.approx(1_200)
    # Above 5 % only the band counts; below 2 % nothing; growth under 1亿: not covered.
    high = calculate("risk_compensation", {"new_small_micro_loans_wan": 100_000,
                                           "growth_over_last_year_wan": 15_000, "non_performing_ratio": 9})  # fmt: skip
    assert high["amount_wan"] == pytest.approx(1_800)
    low = calculate("risk_compensation", {"new_small_micro_loans_wan": 100_000,
                                          "growth_over_last_year_wan": 15_000, "non_performing_ratio": 1.5})  # fmt: skip
    assert low["amount_wan"] == 0
    small = calculate("risk_compensation", {"new_small_micro_loans_wan": 100_000,
                                            "growth_over_last_year_wan": 9_999, "non_performing_ratio": 4})  # fmt: skip
    assert small["amount_wan"] == 0 and "不足1亿元" in small["explanation"]


def test_insurers_get_50_wan_from_1_yi_of_direct_investment_and_rank_20_then_10():
    assert calculate("insurance_direct_investment", {"direct_investment_wan": 10_000})["amount_wan"] == 50
    assert calculate("insurance_direct_investment", {"direct_investment_wan": 9_999})["amount_wan"] == 0
    insurers = [{"name": n, "amount_wan": v} for n, v in (("甲", 900), ("乙", 800), ("丙", 700), ("丁", 600))]
    answer = calculate("insurance_low_rate_ranking", {"institutions": insurers})
    assert [p["amount_wan"] for p in answer["parts"]] == [20, 20, 20, 10]


def test_bad_inputs_name_the_field():
    with pytest.raises(ValidationError) as error:
        calculate("bill_discount", {"discount_fees_wan": -1})
    assert error.value.errors()[0]["loc"] == ("discount_fees_wan",)
    with pytest.raises(ValidationError):
        calculate("bill_discount", {"discount_fees_wan": 1, "extra": 2})
    with pytest.raises(ValidationError):
        calculate("direct_financing", {"financing_wan": float("inf")})
    with pytest.raises(KeyError):
        calculate("no_such", {})
