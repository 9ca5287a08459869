"""The registry over HTTP, against the real FerretDB and Kafka."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.registry import seed
from services.registry.app import create_app
from services.registry.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.kafka_helpers import make_topic, metric_value, wait_for_events

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def registry_topic(kafka_bootstrap: str, unique_name: str) -> str:
    return make_topic(kafka_bootstrap, f"test.registry.{unique_name}", compact=True)


@pytest.fixture
def client(kafka_bootstrap: str, mongodb_uri: str, registry_topic: str) -> Iterator[TestClient]:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        admin_token=ADMIN_TOKEN,
        topic=registry_topic,
        outbox_poll_seconds=0.2,
    )
    with TestClient(create_app(settings)) as test_client:
        seed.load()
        yield test_client


def token_for(client: TestClient, subject_type: str, subject_id: str) -> dict[str, str]:
    answer = client.post(
        "/v1/tokens", json={"subject_type": subject_type, "subject_id": subject_id}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_seeded_organisation_is_served(client):
    groups = client.get("/v1/groups", headers=ADMIN).json()
    assert [g["id"] for g in groups][:2] == ["comprehensive", "operations"] and len(groups) == 8
    finance = client.get("/v1/groups/finance", headers=ADMIN).json()
    assert (finance["leader"], finance["lead_unit"]) == ("鸟成云", "省金融办")
    assert "人行西宁中心支行" in finance["member_units"]
    assert len(client.get("/v1/work-groups", headers=ADMIN).json()) == 20
    aluminium = client.get("/v1/work-groups/wg-aluminium", headers=ADMIN).json()
    assert {"chalco-qinghai", "qiaotou-aluminium-power", "yellow-river-recycled-aluminium"} <= set(
        aluminium["enterprise_ids"]
    )
    keys = client.get("/v1/enterprises", params={"is_key": "true"}, headers=ADMIN).json()
    assert len(keys) == 14


def test_the_matchmaking_events_of_annex_6_are_served_in_order_and_checked_on_write(client):
    group = token_for(client, "group", "industry-matching")
    events = client.get("/v1/matchmaking-events", headers=group).json()
    assert [(e["number"], e["date"]) for e in events] == [
        (1, "2011-12-19"),
        (2, "2011-12-20"),
        (3, "2011-12-21"),
        (4, "2011-12-23"),
        (5, "2011-12-22"),
    ]
    yushu = client.get("/v1/matchmaking-events/yushu-building-materials", headers=group).json()
    assert yushu["host_enterprise_ids"] == ["xining-special-steel"] and yushu["hosts"] == "省经委、西宁特钢"
    finance = client.get("/v1/matchmaking-events", params={"group_id": "finance"}, headers=group).json()
    assert [e["id"] for e in finance] == ["bank-enterprise"]
    # A new event naming a host the registry does not hold is a 422 naming the field.
    body = {"id": "spring-fair", "name": "春季对接会", "host_unit_ids": ["gov-nowhere"]}
    refused = client.post("/v1/matchmaking-events", json=body, headers=ADMIN)
    assert refused.status_code == 422 and "host_unit_ids" in str(refused.json()["detail"])


def test_lists_page_with_limit_and_offset(client):
    first = client.get("/v1/enterprises", params={"limit": 10}, headers=ADMIN).json()
    second = client.get("/v1/enterprises", params={"limit": 10, "offset": 10}, headers=ADMIN).json()
    assert len(first) == len(second) == 10
    assert not {e["id"] for e in first} & {e["id"] for e in second}
    assert client.get("/v1/enterprises", params={"limit": 1001}, headers=ADMIN).status_code == 422


def test_a_second_seed_load_changes_nothing(client):
    before = client.get("/v1/enterprises/chalco-qinghai", headers=ADMIN).json()["version"]
    outcome = seed.load()
    assert outcome["created"] == outcome["updated"] == 0
    assert client.get("/v1/enterprises/chalco-qinghai", headers=ADMIN).json()["version"] == before


def test_reads_need_a_token_and_writes_need_the_admin(client):
    assert client.get("/v1/groups").status_code == 401
    assert client.get("/v1/groups", headers={"Authorization": "Bearer nope"}).status_code == 401
    enterprise = token_for(client, "enterprise", "chalco-qinghai")
    assert client.get("/v1/groups", headers=enterprise).status_code == 200
    created = client.post("/v1/enterprises", json={"id": "x-co", "name": "X"}, headers=enterprise)
    assert created.status_code == 403
    assert (
        client.post(
            "/v1/tokens", json={"subject_type": "admin", "subject_id": "a"}, headers=enterprise
        ).status_code
        == 403
    )


def test_a_revoked_token_stops_working(client):
    answer = client.post(
        "/v1/tokens", json={"subject_type": "group", "subject_id": "finance"}, headers=ADMIN
    ).json()
    headers = {"Authorization": f"Bearer {answer['token']}"}
    assert client.get("/v1/groups", headers=headers).status_code == 200
    assert client.delete(f"/v1/tokens/{answer['token_id']}", headers=ADMIN).status_code == 200
    assert client.get("/v1/groups", headers=headers).status_code == 401
    listed = client.get("/v1/tokens", headers=ADMIN).json()
    assert all("token" not in t and "token_hash" not in t for t in listed)


def test_create_update_delete_an_enterprise(client):
    body = {"id": "qinghai-new-co", "name": "新公司", "work_group_ids": ["wg-chemical"], "is_sme": True}
    created = client.post("/v1/enterprises", json=body, headers=ADMIN)
    assert created.status_code == 201 and created.json()["version"] == 1
    changed = client.patch("/v1/enterprises/qinghai-new-co", json={"region": "海西"}, headers=ADMIN).json()
    assert (changed["region"], changed["version"], changed["work_group_ids"]) == ("海西", 2, ["wg-chemical"])
    assert (
        "qinghai-new-co" in client.get("/v1/work-groups/wg-chemical", headers=ADMIN).json()["enterprise_ids"]
    )
    assert client.delete("/v1/enterprises/qinghai-new-co", headers=ADMIN).status_code == 204
    assert client.get("/v1/enterprises/qinghai-new-co", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "a-co", "name": "A", "work_group_ids": ["wg-nowhere"]}, "work_group_ids"),
        ({"id": "a-co", "name": "A", "colour": "red"}, "colour"),
        ({"id": "Not A Slug", "name": "A"}, "id"),
        ({"id": "a-co"}, "name"),
        ({"id": "a-co", "name": {"$ne": None}}, "name"),
        ({"id": "a-co", "name": "A", "is_key": "maybe"}, "is_key"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, body, field):
    answer = client.post("/v1/enterprises", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert any(field in error["loc"] for error in answer.json()["detail"]), answer.json()


def test_errors_for_ids(client):
    assert client.get("/v1/enterprises/no-such-co", headers=ADMIN).status_code == 404
    duplicate = client.post("/v1/enterprises", json={"id": "chalco-qinghai", "name": "again"}, headers=ADMIN)
    assert duplicate.status_code == 409 and "chalco-qinghai" in duplicate.json()["detail"]
    # A work group that enterprises still link to cannot be deleted from under them.
    assert client.delete("/v1/work-groups/wg-aluminium", headers=ADMIN).status_code == 409
    unknown_subject = client.post(
        "/v1/tokens", json={"subject_type": "enterprise", "subject_id": "no-such-co"}, headers=ADMIN
    )
    assert unknown_subject.status_code == 422 and unknown_subject.json()["detail"][0]["loc"] == [
        "body",
        "subject_id",
    ]


def test_the_seeds_implied_routes_are_applied_on_request_and_the_contracts_come_back(client):
    def resolve(enterprise_id: str, problem_type: str) -> list[tuple[str, str]]:
        params = {"enterprise_id": enterprise_id, "type": problem_type}
        answer = client.get("/v1/routes/resolve", params=params, headers=ADMIN).json()
        return [(r["group_id"], r["role"]) for r in answer["routes"]]

    contract = resolve("qinghai-tailin-garment", "workforce_cut")
    assert ("sme", "cc") not in contract
    seed.load(seed_routes=True)  # python -m services.registry.seed --seed-routes
    assert ("wg-producer-services", "cc") in resolve("chalco-qinghai", "transport_backlog")
    assert ("wg-power", "cc") in resolve("chalco-qinghai", "production_halt")
    assert ("sme", "cc") in resolve("qinghai-tailin-garment", "workforce_cut")  # an SME
    assert ("sme", "cc") not in resolve("chalco-qinghai", "workforce_cut")  # not an SME
    rule = client.get("/v1/routing-rules/production_halt", headers=ADMIN).json()
    assert "减免停产企业基本电费" in rule["description"]
    seed.load(overwrite=True)
    assert resolve("qinghai-tailin-garment", "workforce_cut") == contract


def test_malformed_json_and_oversized_bodies_are_refused_without_a_500(client):
    bad_json = client.post(
        "/v1/enterprises", content=b"{not json", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422
    huge = client.post(
        "/v1/enterprises", content=b"x" * 2_000_000, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert huge.status_code == 413


def test_resolve_gives_the_contract_routes(client):
    answer = client.get(
        "/v1/routes/resolve",
        params={"enterprise_id": "chalco-qinghai", "type": "transport_backlog"},
        headers=ADMIN,
    )
    assert answer.status_code == 200
    routes = [(r["group_id"], r["role"]) for r in answer.json()["routes"]]
    assert routes == [
        ("operations", "primary"),
        ("wg-rail", "cc"),
        ("wg-liaison", "cc"),
        ("wg-aluminium", "cc"),
    ]
    sme = client.get(
        "/v1/routes/resolve",
        params={"enterprise_id": "qinghai-tailin-garment", "type": "funding_gap"},
        headers=ADMIN,
    ).json()
    assert ("sme", "cc") in [(r["group_id"], r["role"]) for r in sme["routes"]]
    bad = client.get(
        "/v1/routes/resolve", params={"enterprise_id": "chalco-qinghai", "type": "boredom"}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "type"]
    unknown = client.get(
        "/v1/routes/resolve", params={"enterprise_id": "nobody", "type": "stockpile"}, headers=ADMIN
    )
    assert unknown.status_code == 404


def test_a_routing_rule_change_takes_effect_in_resolve(client):
    client.patch("/v1/routing-rules/stockpile", json={"cc": ["operations", "wg-export"]}, headers=ADMIN)
    answer = client.get(
        "/v1/routes/resolve", params={"enterprise_id": "citic-guoan", "type": "stockpile"}, headers=ADMIN
    ).json()
    assert ("wg-export", "cc") in [(r["group_id"], r["role"]) for r in answer["routes"]]


def test_the_topic_holds_a_snapshot_and_then_each_change(client, kafka_bootstrap, registry_topic):
    wait_for_events(kafka_bootstrap, registry_topic, lambda events: len({e["key"] for e in events}) >= 183)
    client.patch("/v1/enterprises/citic-guoan", json={"region": "海西"}, headers=ADMIN)
    client.delete("/v1/enterprises/yuntianhua", headers=ADMIN)

    def changed(events):
        keyed = [e for e in events if e["key"] in ("citic-guoan", "yuntianhua")]
        return any(
            e["version"] == 2 and e["data"]["region"] == "海西" for e in keyed if e["key"] == "citic-guoan"
        ) and any(e["deleted"] for e in keyed if e["key"] == "yuntianhua")

    events = wait_for_events(kafka_bootstrap, registry_topic, changed)
    citic = [e for e in events if e["key"] == "citic-guoan"][-1]
    assert citic["entity_type"] == "enterprise" and citic["data"]["work_group_ids"] == ["wg-chemical"]


def test_health_and_metrics(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["entities"]["work_group"] == 20
    labels = {"method": "GET", "route": "/v1/groups", "service": "registry", "status": "200"}
    before = metric_value(client.get("/metrics").text, "liaison_http_requests_total", **labels)
    for _ in range(3):
        client.get("/v1/groups", headers=ADMIN)
    client.request("BREW", "/v1/groups", headers=ADMIN)  # any method a client invents: one bounded label
    metrics = client.get("/metrics").text
    assert metric_value(metrics, "liaison_http_requests_total", **labels) == before + 3
    assert (
        'method="BREW"' not in metrics
        and metric_value(metrics, "liaison_http_requests_total", method="other") >= 1
    )


def test_the_seed_creates_only_what_is_missing_and_keeps_admins_edits_and_deletions(client):
    edited = client.patch("/v1/enterprises/zangyang-carpet", json={"region": "海东"}, headers=ADMIN)
    assert edited.status_code == 200, edited.text
    routing = client.delete("/v1/routing-rules/stockpile", headers=ADMIN)
    assert routing.status_code == 204, routing.text
    outcome = seed.load()
    assert outcome["created"] == outcome["updated"] == 0 and outcome["kept"] == 2
    assert client.get("/v1/enterprises/zangyang-carpet", headers=ADMIN).json()["region"] == "海东"
    assert client.get("/v1/routing-rules/stockpile", headers=ADMIN).status_code == 404
    assert seed.load(overwrite=True)["updated"] == 2
    assert client.get("/v1/routing-rules/stockpile", headers=ADMIN).status_code == 200


def test_subscriptions_are_read_by_the_admin_or_their_own_group_only(client):
    for sub_id, group_id in (("sub-fin", "finance"), ("sub-sme", "sme")):
        body = {"id": sub_id, "group_id": group_id, "channel": "email", "target": f"{group_id}@example.org"}
        assert client.post("/v1/subscriptions", json=body, headers=ADMIN).status_code == 201
    finance = token_for(client, "group", "finance")
    assert [s["id"] for s in client.get("/v1/subscriptions", headers=finance).json()] == ["sub-fin"]
    assert client.get("/v1/subscriptions/sub-sme", headers=finance).status_code == 403
    assert client.get("/v1/subscriptions", params={"group_id": "sme"}, headers=finance).status_code == 403
    enterprise = token_for(client, "enterprise", "chalco-qinghai")
    assert client.get("/v1/subscriptions", headers=enterprise).status_code == 403
    assert len(client.get("/v1/subscriptions", headers=ADMIN).json()) == 2
    hook = {
        "id": "sub-hook",
        "group_id": "finance",
        "channel": "webhook",
        "target": "https://example.org/hook",
    }
    created = client.post("/v1/subscriptions", json=hook, headers=ADMIN).json()
    assert len(created["secret"]) >= 32  # one signing secret per subscription, generated
    assert client.get("/v1/subscriptions/sub-hook", headers=finance).json()["secret"] == created["secret"]


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://localhost/x",
     "http://example.org/a\nX-Injected: 1", "ftp://example.org/", "not a url"],
)  # fmt: skip
def test_a_webhook_target_that_may_not_be_called_is_a_422_naming_target(client, target):
    body = {"id": "sub-bad", "group_id": "finance", "channel": "webhook", "target": target}
    answer = client.post("/v1/subscriptions", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "target"]


def test_concurrent_patches_of_one_entity_each_get_a_version_and_are_published(
    client, kafka_bootstrap, registry_topic
):
    from concurrent.futures import ThreadPoolExecutor

    regions = [f"区域{n}" for n in range(8)]
    before = client.get("/v1/enterprises/citic-guoan", headers=ADMIN).json()["version"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda region: client.patch(
                    "/v1/enterprises/citic-guoan", json={"region": region}, headers=ADMIN
                ),
                regions,
            )
        )
    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json()["version"] for a in answers) == list(range(before + 1, before + 9))
    final = client.get("/v1/enterprises/citic-guoan", headers=ADMIN).json()
    assert final["version"] == before + 8

    def published(events: list[dict]) -> bool:
        return any(e["key"] == "citic-guoan" and e["version"] == before + 8 for e in events)

    events = wait_for_events(kafka_bootstrap, registry_topic, published)
    last = [e for e in events if e["key"] == "citic-guoan" and e["version"] == before + 8][-1]
    assert last["data"]["region"] == final["region"]


def test_a_wiped_topic_gets_a_snapshot_of_everything_at_start(
    kafka_bootstrap, mongodb_uri, registry_topic, unique_name
):
    """Once the outbox has published everything, nothing is pending: only the snapshot of an empty
    topic (mark_all_pending at start) can fill a new one."""

    def settings(topic: str) -> Settings:
        return Settings(kafka_bootstrap_servers=kafka_bootstrap, mongodb_uri=mongodb_uri, admin_token=ADMIN_TOKEN,
                        topic=topic, outbox_poll_seconds=0.2)  # fmt: skip

    with TestClient(create_app(settings(registry_topic))) as first:
        seed.load()
        deadline = time.monotonic() + 60
        while _pending(first) > 0 or not wait_for_events(
            kafka_bootstrap, registry_topic, lambda e: len(e) >= 183
        ):
            assert time.monotonic() < deadline, "the outbox did not publish the seed"
            time.sleep(0.5)
    wiped = make_topic(kafka_bootstrap, f"test.registry-wiped.{unique_name}", compact=True)
    with TestClient(create_app(settings(wiped))):
        events = wait_for_events(kafka_bootstrap, wiped, lambda e: len({x["key"] for x in e}) >= 183)
    assert {"finance", "chalco-qinghai", "wg-rail"} <= {e["key"] for e in events}


def _pending(client: TestClient) -> float:
    return metric_value(client.get("/metrics").text, "liaison_registry_outbox_pending")


def test_a_group_sets_its_own_timers_and_a_leader_channel(client):
    changed = client.patch(
        "/v1/groups/finance", json={"escalation_hours": 48, "ack_timeout_hours": 120}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["escalation_hours"], changed.json()["ack_timeout_hours"]) == (48, 120)
    for bad in (0, -1, 10_000):
        refused = client.patch("/v1/groups/finance", json={"reminder_hours": bad}, headers=ADMIN)
        assert refused.status_code == 422 and "reminder_hours" in refused.text, refused.text
    leader = {"id": "finance-leader", "group_id": "finance", "channel": "email", "target": "zuzhang@example.org",
              "leader": True}  # fmt: skip
    created = client.post("/v1/subscriptions", json=leader, headers=ADMIN)
    assert created.status_code == 201 and created.json()["leader"] is True, created.text


def test_a_patch_on_a_stale_read_never_saves_the_same_version_twice(client, monkeypatch):
    """Issue 35.12: the version is compared and set in the database, not under a per-process
    lock: a writer whose read went stale (another replica saved meanwhile) reads again."""
    from services.registry import service
    from services.registry.kinds import BY_NAME

    kind = BY_NAME["enterprise"]
    before = service.get(kind, "huading-industrial").version
    real_get = service.get
    stale = real_get(kind, "huading-industrial")  # read before the other replica's write
    service.update(kind, "huading-industrial", {"industry": "装备制造（另一副本）"})
    reads = iter([stale])
    monkeypatch.setattr(service, "get", lambda k, i: next(reads, None) or real_get(k, i))
    saved = service.update(kind, "huading-industrial", {"is_sme": False})
    assert saved.version == before + 2  # not before + 1 a second time
    current = real_get(kind, "huading-industrial")
    assert (current.version, current.industry) == (before + 2, "装备制造（另一副本）")
