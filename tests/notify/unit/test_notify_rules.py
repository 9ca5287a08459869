"""Notify's pure rules: merging repeats, who sees and acts, backoff, signatures, payloads, digests."""

import hashlib
import hmac
import random
from datetime import UTC, datetime

from liaison_common.tokens import Principal
from services.notify import access, clock, digests, escalation, merging, payloads
from services.notify.config import Settings
from services.notify.documents import Alert, Notification

SETTINGS = Settings(admin_token="x" * 16, retry_initial_seconds=1, retry_max_seconds=60)
BASE = {
    "alert_id": "funding_gap.a.2011-12-18", "type": "funding_gap", "severity": "medium", "summary": "s1",
    "evidence": {"v": 1}, "routes": [{"group_id": "finance", "role": "primary"}], "source_ids": ["r1"],
    "group_ids": ["finance"], "status": "acknowledged",
}  # fmt: skip


def test_a_repeat_keeps_the_worse_severity_unites_sources_and_routes_and_keeps_the_status():
    worse = {**BASE, "severity": "high", "summary": "s2", "source_ids": ["r2"],
             "routes": [{"group_id": "finance", "role": "primary"}, {"group_id": "wg-credit", "role": "cc"}]}  # fmt: skip
    merged = merging.merge(BASE, worse)
    assert (merged["severity"], merged["summary"], merged["status"]) == ("high", "s2", "acknowledged")
    assert merged["source_ids"] == ["r1", "r2"] and merged["group_ids"] == ["finance", "wg-credit"]
    milder = merging.merge(merged, {**BASE, "severity": "low", "summary": "s3"})
    assert (milder["severity"], milder["summary"]) == ("high", "s2")


def test_what_escalates():
    assert escalation.escalates({"severity": "high", "type": "stockpile"})
    assert escalation.escalates({"severity": "low", "type": "major_incident"})
    assert not escalation.escalates({"severity": "medium", "type": "stockpile"})


def test_who_sees_and_who_acts():
    alert = Alert(
        alert_id="x",
        type="t",
        severity="low",
        enterprise_id="chalco-qinghai",
        group_ids=["finance", "wg-credit"],
    )
    assert access.visible_to(Principal("group", "finance"), alert)
    assert access.visible_to(Principal("work_group", "wg-credit"), alert)
    assert not access.visible_to(Principal("group", "sme"), alert)
    assert access.visible_to(Principal("enterprise", "chalco-qinghai"), alert)
    assert not access.may_act(Principal("enterprise", "chalco-qinghai"), alert)
    assert access.may_act(Principal("admin", "admin"), alert)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    rng = random.Random(7)
    steps = [payloads.backoff(n, SETTINGS, rng) for n in range(1, 10)]
    assert 0.5 <= steps[0] <= 1 and 2 <= steps[2] <= 4
    assert all(30 <= s <= 60 for s in steps[6:])


def test_backoff_stays_at_the_cap_after_thousands_of_failures():
    """Issue 35.5: a receiver failing 1,025 times (days of a mistyped webhook) made 2 ** n overflow."""
    rng = random.Random(7)
    assert all(30 <= payloads.backoff(n, SETTINGS, rng) <= 60 for n in (1025, 1100, 2000, 10**6))


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    expected = hmac.new(b"k" * 16, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert payloads.signature("k" * 16, "1700000000", b"{}") == f"sha256={expected}"


def test_the_webhook_payload_is_alertmanager_v4_plus_ours():
    notification = Notification(
        key="k", subscription_id="s", group_id="finance", channel="webhook", kind="alerts"
    )
    payload = payloads.webhook_payload(
        notification, [{**BASE, "status": "open", "detected_at": "2011-12-19T00:00:00Z"}]
    )
    assert payload["version"] == "4" and payload["status"] == "firing" and payload["groupKey"] == "k"
    assert payload["alerts"][0]["labels"]["alertname"] == "funding_gap"
    assert payload["liaison"]["alerts"][0]["alert_id"] == BASE["alert_id"]


def test_the_seeds_measures_travel_in_webhooks_and_emails():
    notification = Notification(
        key="k", subscription_id="s", group_id="finance", channel="webhook", kind="alerts"
    )
    measures = [
        {
            "ref": "（五）",
            "quote": "组织开展银企对接活动。",
            "units": ["finance"],
            "action": "金融组组织银企对接",
        },
        {
            "ref": "附件5",
            "quote": "按一定的比例给予贴息支持",
            "units": ["sme"],
            "action": "中小企业可申报贴息",
        },
    ]
    alert = {**BASE, "status": "open", "detected_at": "2011-12-19T00:00:00Z", "measures": measures}
    annotations = payloads.webhook_payload(notification, [alert])["alerts"][0]["annotations"]
    assert annotations["measures"] == "金融组组织银企对接（（五））\n中小企业可申报贴息（附件5）"
    _, body = payloads.email_text(notification, [alert])
    assert "  举措：金融组组织银企对接（（五））" in body and "  举措：中小企业可申报贴息（附件5）" in body
    # An alert without measures still has the annotation, empty (receivers may rely on the key).
    bare = payloads.webhook_payload(notification, [{**alert, "measures": []}])
    assert bare["alerts"][0]["annotations"]["measures"] == ""


def test_the_digest_counts_the_week_by_status_enterprise_and_type():
    alerts = [
        {**BASE, "alert_id": "1", "status": "open", "enterprise_id": "a", "period_end": "2011-12-18"},
        {
            **BASE,
            "alert_id": "2",
            "status": "resolved",
            "enterprise_id": "a",
            "type": "stockpile",
            "period_end": "2011-12-12",
        },
        {**BASE, "alert_id": "3", "status": "open", "enterprise_id": "b", "period_end": "2011-12-19"},
    ]
    digest = digests.build_digest("finance", "2011-W50", alerts, None)
    assert digest["period"] == {"from": "2011-12-12", "to": "2011-12-18"}
    assert digest["alerts"]["total"] == 2 and digest["alerts"]["resolved"] == 1
    assert digest["by_enterprise"] == {"a": {"funding_gap": 1, "stockpile": 1}}
    assert "| a | stockpile | 1 |" in digests.digest_markdown(digest)


def test_each_groups_digest_has_its_own_reporting_line_with_corrections_and_data_queries():
    """Issue 38.4: a line per group in the weekly digest — a work group's linked enterprises, else
    the province's — with the week's corrections and data queries."""
    record = {
        "week": "2011-W50", "expected": 14, "received": 12, "on_time": 11, "reporting_rate": 0.8571,
        "timeliness_rate": 0.7857, "missing": ["enterprise:a", "enterprise:b"],
        "corrected": ["enterprise:c"],
        "by_work_group": {"wg-credit": {"expected": 2, "received": 1, "on_time": 1, "reporting_rate": 0.5}},
    }  # fmt: skip
    query = {**BASE, "alert_id": "q", "type": "data_query", "status": "open", "period_end": "2011-12-18"}
    work_group = digests.digest_markdown(digests.build_digest("wg-credit", "2011-W50", [query], record))
    assert "本组联点企业：应报 2，已报 1，按时 1（报送率 50%）；本周更正 1 份，数据核查 1 条。" in work_group
    group = digests.build_digest("finance", "2011-W50", [], record)
    assert "全省：应报 14，已报 12；本周更正 1 份，数据核查 0 条。" in digests.digest_markdown(group)
    assert "reporting-line" in digests.digest_html(group)


def test_aware_makes_naive_database_times_utc():
    assert clock.aware(datetime(2011, 12, 19)).tzinfo == UTC


def test_the_digest_says_how_the_group_handled_its_alerts():
    received = datetime(2011, 12, 19, 8)
    history = [
        {"event": "received", "by": "rules", "at": received},
        {"event": "acknowledged", "by": "group:finance", "at": datetime(2011, 12, 19, 10)},
        {"event": "resolved", "by": "group:finance", "at": datetime(2011, 12, 20, 8)},
    ]
    alerts = [
        {**BASE, "alert_id": "1", "status": "resolved", "enterprise_id": "a", "period_end": "2011-12-18",
         "received_at": received, "history": history},
        {**BASE, "alert_id": "2", "status": "open", "enterprise_id": "b", "period_end": "2011-12-18",
         "received_at": received, "history": [{"event": "escalated", "by": "notify", "at": received}]},
        {**BASE, "alert_id": "3", "status": "resolved", "resolved_by": "data", "enterprise_id": "c",
         "period_end": "2011-12-17", "received_at": received,
         # another group's acknowledgement is not finance's
         "history": [{"event": "acknowledged", "by": "group:operations", "at": datetime(2011, 12, 19, 9)}]},
    ]  # fmt: skip
    digest = digests.build_digest("finance", "2011-W50", alerts, None)
    assert digest["response"] == {
        "acknowledged": 1, "median_hours_to_acknowledge": 2.0, "resolved_by_group": 1,
        "median_hours_to_resolve": 24.0, "resolved_by_data": 1, "escalated": 1,
    }  # fmt: skip
    assert "确认 1 条（中位用时 2 小时）" in digests.digest_markdown(digest)
    assert "超时升级 1 条" in digests.digest_html(digest)


def test_a_batch_of_reporting_records_keeps_the_last_of_each_week_and_every_unusable_one():
    from types import SimpleNamespace

    from services.notify.kafka import latest_per_week

    def message(value: bytes) -> SimpleNamespace:
        return SimpleNamespace(value=value)

    batch = [
        message(b'{"week": "2011-W50", "received": 1}'),
        message(b"[" * 5000),  # nested too deep for the parser
        message(b'{"week": "2011-W51", "received": 1}'),
        message(b'{"week": "2011-W50", "received": 2}'),
        message(b"not json"),
        message(b'{"no": "week"}'),
    ]
    kept = latest_per_week(batch)
    assert [m.value for m in kept] == [b"[" * 5000, b'{"week": "2011-W51", "received": 1}',
                                       b'{"week": "2011-W50", "received": 2}', b"not json", b'{"no": "week"}']  # fmt: skip


def test_the_industry_matching_digest_lists_the_pairs_its_alerts_propose():
    matching = {"ref": "附件2 一、7（产业对接组）", "quote": "…", "units": ["industry-matching"],
                "action": "产业对接组按铝锭---铝材压延加工产业链组织对接", "partners": ["ruihe-aluminium-foil"]}  # fmt: skip
    others = {
        "ref": "（一）",
        "quote": "…",
        "units": ["industry-matching", "operations"],
        "action": "以奖代补",
    }
    alerts = [
        {**BASE, "alert_id": "s1", "type": "stockpile", "status": "open", "enterprise_id": "chalco-qinghai",
         "period_end": "2011-12-18", "measures": [others, matching]},
        {**BASE, "alert_id": "s2", "type": "stockpile", "status": "open", "enterprise_id": "qinghai-salt-lake",
         "period_end": "2011-12-18", "measures": [others]},
    ]  # fmt: skip
    digest = digests.build_digest("industry-matching", "2011-W50", alerts, None)
    assert digest["proposed_pairs"] == [
        {"alert_id": "s1", "enterprise_id": "chalco-qinghai", "partners": ["ruihe-aluminium-foil"],
         "ref": "附件2 一、7（产业对接组）", "action": "产业对接组按铝锭---铝材压延加工产业链组织对接"}
    ]  # fmt: skip
    assert "- chalco-qinghai → ruihe-aluminium-foil：产业对接组按铝锭" in digests.digest_markdown(digest)
    assert "<h2>对接建议</h2>" in digests.digest_html(digest)
    # Another group's digest of the same alerts proposes nothing: the measure is not its own.
    assert digests.build_digest("operations", "2011-W50", alerts, None)["proposed_pairs"] == []


def test_reporting_rates_per_subject_over_a_range():
    """Issue 38.4: expected, received, on time, corrected and questioned per subject (DHIS2's
    reporting-rate summary); a week recorded without per-reporter detail is left out, and said."""
    from collections import Counter

    from services.notify.rates import rates_of

    weeks = [
        {"missing": ["work_group:wg-rail"], "received_by": {"enterprise:a": True, "enterprise:b": False},
         "corrected": ["enterprise:a"]},
        {"missing": ["enterprise:b"], "received_by": {"enterprise:a": True, "work_group:wg-rail": True}},
        {"missing": [], "expected": 3},  # an earlier version's record
    ]  # fmt: skip
    result = rates_of(weeks, Counter({"a": 2}))
    by = {s["subject_id"]: s for s in result["subjects"]}
    assert (result["weeks"], result["weeks_without_detail"]) == (2, 1)
    assert {k: by["a"][k] for k in ("expected", "received", "on_time", "corrected", "questioned")} == {
        "expected": 2, "received": 2, "on_time": 2, "corrected": 1, "questioned": 2,
    }  # fmt: skip
    assert (by["b"]["received"], by["b"]["on_time"], by["b"]["reporting_rate"]) == (1, 0, 0.5)
    assert (by["wg-rail"]["subject_type"], by["wg-rail"]["timeliness_rate"]) == ("work_group", 0.5)
