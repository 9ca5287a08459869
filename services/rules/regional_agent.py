"""The regional agent: each region's growth against 附件1's targets, judged for the region as a
whole (docs/contract.md §7; the pure logic is in regional.py). One partition, one owner."""

import json
from typing import Any

from liaison_common import jsonbytes
from liaison_common.events import EnterpriseReport
from services.rules.app import app, region_growth, region_growth_topic, registry, registry_ready, thresholds
from services.rules.domain import regional
from services.rules.domain.cases import CaseBook
from services.rules.domain.problems import EnterpriseFacts, Problem, grade
from services.rules.domain.thresholds import Threshold
from services.rules.outputs import (
    RawMessage,
    done,
    emit_problem,
    emit_resolution,
    guarded,
    produce,
    raw_message,
)


def growth_target(region: str | None) -> Threshold:
    return thresholds.maybe("growth_shortfall", "target_pct", region or "") or thresholds.get(
        "growth_shortfall", "target_pct", "province"
    )


def judged_for_region(facts: EnterpriseFacts, report: EnterpriseReport) -> bool:
    return regional.counts_for_region(
        facts.region,
        report.indicators.output_value_yoy_pct,
        report.period_end,
        thresholds.get("growth_shortfall", "window").value,
    )


async def send_contribution(facts: EnterpriseFacts, report: EnterpriseReport) -> None:
    """The report's growth figures to the regional agent, keyed by region."""
    assert facts.region is not None
    value = {
        "region": facts.region,
        "enterprise_id": facts.id,
        "report_id": report.report_id,
        "period_end": report.period_end.isoformat(),
        "submitted_at": report.submitted_at.isoformat(),
        "output_value": report.indicators.output_value,
        "growth_pct": report.indicators.output_value_yoy_pct,
    }
    await produce(region_growth_topic, facts.region.encode(), jsonbytes.dumps(value))


@app.agent(region_growth_topic)
async def judge_regions(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see agents.py's iterate_at_once
        await guarded(raw_message(event), handle_contribution)


async def handle_contribution(raw: RawMessage, started: float) -> None:
    record = json.loads(raw.value or b"")
    region = str(record["region"])
    target = growth_target(region)
    running = thresholds.get("growth_shortfall", "consecutive_reports").value
    state = region_growth.get(region) or regional.new_state()
    verdicts = regional.contribute(
        state,
        enterprise_id=record["enterprise_id"],
        period_end=record["period_end"],
        output_value=record.get("output_value"),
        growth_pct=float(record["growth_pct"]),
        target_pct=target.value,
        running=running,
    )
    subject = EnterpriseFacts(region, region, region=region)
    book = CaseBook(state["cases"])
    for verdict in verdicts:
        if verdict.short:
            recent = [(p, g) for p, g in sorted(state["growth"].items()) if p <= verdict.period_end][
                -running:
            ]
            problem = region_problem(region, verdict, target, dict(recent), record["report_id"])
            # Why each reporting enterprise counts in this region (issue 37.11): its registry entry's.
            problem.evidence["region_source"] = {
                enterprise: (registry.get("enterprise", enterprise) or {}).get("region_source")
                for enterprise in sorted(state["periods"].get(verdict.period_end, {}))
            }
            case = book.detected(problem.type, region, verdict.period_end)
            await emit_problem(problem, submitted_at=record.get("submitted_at"), case=case)
        else:
            for ended in book.absent(set(), verdict.period_end):
                await emit_resolution(subject, ended, record["report_id"], subject_kind="region")
    state["cases"] = book.data
    region_growth[region] = state
    done(raw, started)


def region_problem(
    region: str, verdict: regional.Verdict, target: Threshold, recent: dict[str, float], report_id: str
) -> Problem:
    running = len(recent)
    return Problem(
        type="growth_shortfall",
        subject_id=region,
        period_end=verdict.period_end,
        severity=grade((target.value - verdict.growth_pct) / max(target.value, 1), thresholds),
        summary=f"{region}规模以上工业增加值增速（{verdict.reporters}户报送企业按产值加权）{verdict.growth_pct:g}%，"
        f"连续{running}期低于附件1确定的{target.value:g}%目标。",
        evidence={
            "values": {"region_growth_pct": recent, "reporting_enterprises": verdict.reporters},
            "threshold": {"target_pct": target.value},
            "region": region,
            "rule": f"地区报送企业按产值加权的增加值增速连续{running}期低于本地区目标（仅判2011年）",
            "source": target.source,
        },
        source_ids=[report_id],
        subject_kind="region",
    )
