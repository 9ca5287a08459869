"""The detection agents: enterprise reports and work-group reports become problems, and each
problem its routed alert (the detectors themselves are in detectors.py); incidents take the
urgent lane (urgent_lane.py), started here as a task of the worker."""

from typing import Any

from liaison_common.events import EnterpriseReport, WorkgroupReport
from services.rules.app import (
    app,
    cases,
    history,
    registry,
    registry_ready,
    reports_topic,
    settings,
    thresholds,
    workgroup_reports_topic,
)
from services.rules.domain import quality
from services.rules.domain.cases import CaseBook
from services.rules.domain.detectors import data_query_problem, detect, without_questioned
from services.rules.domain.history import (
    is_replaced,
    judged_types,
    period_holder,
    remember,
    remember_workgroup_report,
    workgroup_period_holder,
    workgroup_report_replaced,
)
from services.rules.domain.problems import INDICATORS_READ, EnterpriseFacts, Problem, Snapshot, history_before
from services.rules.domain.stated_problems import province_targets, workgroup_problem
from services.rules.outputs import (
    RawMessage,
    done,
    emit_period,
    emit_problem,
    emit_resolution,
    emit_withdrawal,
    facts_of,
    guarded,
    parse,
    raw_message,
    reject,
    work_group_facts,
)
from services.rules.regional_agent import judged_for_region, send_contribution
from services.rules.urgent_lane import UrgentLane


# iterate_at_once: every agent starts iterating its stream at once, and the worker has read the
# registry before it joins its group (preload_registry, from __main__), so the wait inside the
# loop is already over. An agent that awaited the registry before its first `async for` let
# faust-streaming 0.15.3 commit, unprocessed, the events fetched meanwhile; one that awaited it
# at its first event lost the first events of each partition and never committed them: after
# a restart with a backlog, the fault suite's kill -9 of 5,000 reports lost alerts both ways.
@app.agent(reports_topic)
async def detect_in_reports(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        await guarded(raw_message(event), handle_report)


async def handle_report(raw: RawMessage, started: float) -> None:
    report = await parse(raw, EnterpriseReport)
    if report is None:
        return
    facts = facts_of(report.enterprise_id)
    if facts is None:
        await reject(raw, "unknown_reference", f"unknown enterprise '{report.enterprise_id}'")
        return
    # A redelivered report (the same report_id) is judged against the others, as it was the
    # first time: so it raises the same alerts, with the same ids.
    known = [
        Snapshot.of(item) for item in history[report.enterprise_id] if item["report_id"] != report.report_id
    ]
    submitted_at = report.submitted_at.isoformat()
    period_end = report.period_end.isoformat()
    holder = period_holder(known, report)
    if holder is not None and is_replaced(holder, report):
        done(raw, started)  # a report corrected since, delivered again: its figures are gone
        return
    # Implausible figures are questioned before detection; no detector reads them (docs/contract.md §7).
    findings, confirmed = question_figures(report, known)
    questioned = {f.indicator: f.value for f in findings}
    problems = without_questioned(detect(facts, report, known, thresholds), set(questioned))
    if findings:
        problems.append(data_query_problem(facts, report, [f.as_dict() for f in findings]))
    if judged_for_region(facts, report) and "output_value_yoy_pct" not in questioned:
        await send_contribution(facts, report)
    if holder is not None:  # another report of this period: a correction (docs/contract.md §7)
        correction = {"report_id": report.report_id, "replaces": holder.report_id, "period_end": period_end}
        await correct_cases(facts, problems, correction, submitted_at=submitted_at)
    else:
        # A data query is resolved only by a correction or a report that confirms its figures.
        judged = {
            t for t in judged_types(report) if not set(questioned).intersection(INDICATORS_READ.get(t, ()))
        }
        await update_cases(
            facts,
            problems,
            period_end,
            submitted_at=submitted_at,
            report_id=report.report_id,
            judged=judged - {"data_query"},
            confirmed=confirmed,
        )
    kept = remember(known, report, settings.history_size, questioned)
    history[report.enterprise_id] = [s.as_dict() for s in kept]
    await emit_period(
        raw,
        "enterprise",
        report.enterprise_id,
        report.report_id,
        report.period_end.isoformat(),
        submitted_at,
        corrected=holder is not None,
    )
    done(raw, started)


async def update_cases(
    subject: EnterpriseFacts,
    problems: list[Problem],
    period_end: str,
    *,
    submitted_at: str,
    report_id: str,
    subject_kind: str = "enterprise",
    judged: set[str] | None = None,
    confirmed: bool = False,
) -> None:
    """One report of a subject against its cases: each problem opens, updates or reopens its case
    (and is published with it); a case absent from two reports running is resolved by data. A
    report judges only the types whose figures it carried (`judged`): one silent on a case's
    indicators neither continues nor resolves it (docs/contract.md §7). The table is written only
    when a case changed."""
    stored = cases[subject.id]
    book = CaseBook(stored)
    for problem in problems:
        case = book.detected(problem.type, subject.id, period_end)
        await emit_problem(problem, submitted_at=submitted_at, case=case)
    said_nothing_of = set(book.data) - judged if judged is not None else set()
    for ended in book.absent({p.type for p in problems} | said_nothing_of, period_end):
        await emit_resolution(subject, ended, report_id, subject_kind=subject_kind)
    settled = book.settle("data_query", period_end) if confirmed else None
    if settled is not None:  # the next report confirmed the questioned figures' level
        await emit_resolution(
            subject, settled, report_id, summary="下期报告确认了被核查数值的水平，按数据办结"
        )
    book.forget_old(period_end)
    if book.data != stored:  # most reports of a quiet subject change no case: no write
        cases[subject.id] = book.data


OUTLIERS = quality.OutlierSettings.of(thresholds)


def question_figures(report: EnterpriseReport, known: list[Snapshot]) -> tuple[list[quality.Finding], bool]:
    """The report's implausible figures, and whether it confirms the level of the figures its
    enterprise's previous report had questioned."""
    past = history_before(known, report)
    confirming = past[-1].questioned if past else {}
    values = {name: value for name, value in report.indicators if value is not None}
    ranges = {}
    for range_id in registry.ids("indicator_range"):
        data = registry.get("indicator_range", range_id) or {}
        if data.get("enterprise_id") == report.enterprise_id and data.get("indicator"):
            ranges[data["indicator"]] = (data.get("min"), data.get("max"))
    findings = quality.check(
        values, [s.indicators for s in past], ranges=ranges, confirming=confirming, settings=OUTLIERS
    )
    confirmed = bool(confirming) and all(
        name in values and quality.same_level(values[name], value, OUTLIERS.confirm_within)
        for name, value in confirming.items()
    )
    return findings, confirmed


async def correct_cases(
    subject: EnterpriseFacts,
    problems: list[Problem],
    correction: dict[str, str],
    *,
    submitted_at: str,
    subject_kind: str = "enterprise",
) -> None:
    """The cases of a corrected period judged again on the correction's figures: each problem it
    still shows updates its case with them; each case that counted the period and is no longer
    shown there loses it (withdrawn whole when it was its only period)."""
    stored = cases[subject.id]
    book = CaseBook(stored)
    period_end = correction["period_end"]
    for problem in problems:
        case = book.detected(problem.type, subject.id, period_end)
        await emit_problem(problem, submitted_at=submitted_at, case=case, correction=correction)
    shown = {p.type for p in problems}
    for problem_type in [t for t in book.data if t not in shown]:
        withdrawn = book.withdraw(problem_type, period_end)
        if withdrawn is not None:
            await emit_withdrawal(subject, withdrawn, correction, subject_kind=subject_kind)
    if book.data != stored:
        cases[subject.id] = book.data


# Incidents take the urgent lane (urgent_lane.py): a consumer group and producer of their own in
# each worker, so that no backlog of reports is ever ahead of them.
urgent_lane = UrgentLane(
    settings.kafka_bootstrap_servers,
    f"{settings.app_id}-urgent",
    settings.app_id,  # where incidents were committed before they had a lane
    settings.incidents_topic,
    {"problems": settings.problems_topic, "alerts": settings.alerts_topic, "dlq": settings.dlq_topic},
    registry,
    registry_ready,
)


@app.task
async def run_urgent_lane() -> None:
    await urgent_lane.run()


@app.agent(workgroup_reports_topic)
async def detect_in_workgroup_reports(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        await guarded(raw_message(event), handle_workgroup_report)


async def handle_workgroup_report(raw: RawMessage, started: float) -> None:
    report = await parse(raw, WorkgroupReport)
    if report is None:
        return
    submitted_at, period_end = report.submitted_at.isoformat(), report.period_end.isoformat()
    # A work group's reports are remembered beside the enterprises' history (keys differ), so a
    # second report for a period is a correction of the first (docs/contract.md §7), as for enterprises.
    held = history[report.work_group_id]
    holder = workgroup_period_holder(held, report)
    if holder is not None and workgroup_report_replaced(holder, report):
        done(raw, started)  # a report corrected since, delivered again: its figures are gone
        return
    for stated in report.open_problems:
        problem = workgroup_problem(report, stated, facts_of(stated.enterprise_id))
        await emit_problem(problem, submitted_at=submitted_at)
    # The group's province-wide figures (附件1's targets) are cases of the group itself, kept
    # beside the enterprises' in the cases table (keys differ: work group ids begin "wg-").
    problems, judged = province_targets(report, thresholds)
    group = work_group_facts(report.work_group_id)
    if holder is not None:
        correction = {
            "report_id": report.report_id,
            "replaces": holder["report_id"],
            "period_end": period_end,
        }
        await correct_cases(group, problems, correction, submitted_at=submitted_at, subject_kind="work_group")
    elif problems or cases.get(report.work_group_id):
        await update_cases(
            group,
            problems,
            period_end,
            submitted_at=submitted_at,
            report_id=report.report_id,
            subject_kind="work_group",
            judged=judged,
        )
    history[report.work_group_id] = remember_workgroup_report(held, report, settings.history_size)
    await emit_period(
        raw,
        "work_group",
        report.work_group_id,
        report.report_id,
        period_end,
        submitted_at,
        corrected=holder is not None,
    )
    done(raw, started)
