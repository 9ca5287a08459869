"""Regional growth against 附件1's targets (docs/contract.md §7): pure state, no I/O.

The targets of 附件1 (西宁 17.5, 海西 23, …) are for a region's 规上工业增加值 in 2011 ("今年"),
so a region is judged as a whole: the growth of its enterprises that reported for a period,
weighted by their `output_value`, and only for periods inside the target's window. The case's
subject is the region (`growth_shortfall.<region>.<period_end>`).

Reports reach the one owner of this state one enterprise at a time, so a period is judged
once it is complete: when every enterprise that reported for the region's period before has
reported for it too, or when a later period has begun. A contribution that arrives after its
period was judged still changes that period's figure, which the next period's judgement reads
(the "two periods running" of the rules file).

The state of one region, a plain JSON-able dict (a Faust table's value):

  {"periods": {"2011-12-11": {"chalco-qinghai": [52000.0, 8.5], ...}},
   "growth": {"2011-12-11": 9.1}, "cases": {...services.rules.domain.cases.CaseBook...}}
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

KEEP_PERIODS = 16


@dataclass(frozen=True)
class Verdict:
    """One completed period of a region: its weighted growth and whether it falls short."""

    period_end: str
    growth_pct: float
    short: bool  # below the target in this period and the ones before it (`running` in all)
    reporters: int


def counts_for_region(
    region: str | None, growth_pct: float | None, period_end: date, window: list[str]
) -> bool:
    """A report counts towards its region's growth when the enterprise has a region, the report
    gives its growth, and its period ends inside the targets' window (2011: "今年")."""
    start, end = (date.fromisoformat(day) for day in window)
    return region is not None and growth_pct is not None and start <= period_end <= end


def new_state() -> dict[str, Any]:
    return {"periods": {}, "growth": {}, "cases": {}}


def weighted_growth(contributions: dict[str, list[float | None]]) -> float:
    """The growth of the enterprises that reported, weighted by output value; a plain mean when
    none gave its output value."""
    weighted = [
        (value, pct) for value, pct in contributions.values() if value and pct is not None and value > 0
    ]
    if weighted:
        total = sum(value for value, _ in weighted)
        return sum(value * pct for value, pct in weighted) / total
    values = [pct for _, pct in contributions.values() if pct is not None]
    return sum(values) / len(values)


def contribute(
    state: dict[str, Any],
    *,
    enterprise_id: str,
    period_end: str,
    output_value: float | None,
    growth_pct: float,
    target_pct: float,
    running: int,
) -> list[Verdict]:
    """Add one enterprise's figures for a period; return the periods this completes, oldest first."""
    periods: dict[str, dict[str, list[float | None]]] = state["periods"]
    periods.setdefault(period_end, {})[enterprise_id] = [output_value, growth_pct]
    growth: dict[str, float] = state["growth"]
    if period_end in growth:  # a late contribution: the figure changes, the verdict was given
        growth[period_end] = round(weighted_growth(periods[period_end]), 4)
        return []
    verdicts = []
    ordered = sorted(periods)
    for index, end in enumerate(ordered):
        if end in growth:
            continue
        earlier = [p for p in ordered[:index]]
        later_begun = index < len(ordered) - 1
        expected = set(periods[earlier[-1]]) if earlier else set()
        if not later_begun and not expected <= set(periods[end]):
            continue
        growth[end] = round(weighted_growth(periods[end]), 4)
        recent = [growth[p] for p in sorted(growth) if p <= end][-running:]
        verdicts.append(
            Verdict(
                period_end=end,
                growth_pct=growth[end],
                short=len(recent) >= running and all(g < target_pct for g in recent),
                reporters=len(periods[end]),
            )
        )
    for old in sorted(periods)[:-KEEP_PERIODS]:
        del periods[old]
        growth.pop(old, None)
    return verdicts
