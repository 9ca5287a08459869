"""The broker's access matrix: each user may do only what its service needs (docs/contract.md §6)."""

from liaison_common import topics
from liaison_common.kafka_access import ACCESS, ENTERPRISE_USER, Grant, grants, properties_text
from liaison_common.kafka_auth import environment_from_properties, kafka_auth
from services.console.config import Settings as ConsoleSettings
from services.ingest.config import Settings as IngestSettings
from services.notify.config import Settings as NotifySettings
from services.registry.config import Settings as RegistrySettings
from services.rules.config import Settings as RulesSettings

BY_USER = {access.user: access for access in ACCESS}
SETTINGS = {"LIAISON_ADMIN_TOKEN": "x" * 32}


def writers_of(topic: str) -> set[str]:
    return {
        access.user
        for access in ACCESS
        if Grant("topic", topic, "literal", "write") in grants(access)
        or (access.prefix and topic.startswith(access.prefix))
    }


def test_enterprise_systems_may_only_write_the_inbound_topic():
    assert grants(BY_USER[ENTERPRISE_USER]) == {
        Grant("topic", topics.INBOUND, "literal", "write"),
        Grant("topic", topics.INBOUND, "literal", "describe"),
    }


def test_registry_events_and_alerts_have_one_writer_each():
    assert writers_of(topics.REGISTRY) == {"registry"}
    assert writers_of(topics.ALERTS) == {"rules"}
    assert writers_of(topics.REPORTS) == {"ingest"}
    assert writers_of(topics.ALERT_EVENTS) == {"notify"}
    # Nobody but the admin reads what enterprises send before ingest checked its token.
    readers = {a.user for a in ACCESS if Grant("topic", topics.INBOUND, "literal", "read") in grants(a)}
    assert readers == {"ingest"}


def test_every_service_may_join_the_consumer_group_its_settings_name(monkeypatch):
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    groups = {
        "registry": RegistrySettings().guard_group,
        "ingest": IngestSettings().inbound_group,
        "notify": NotifySettings().consumer_group,
        "console": ConsoleSettings().consumer_group,
    }
    for user, group in groups.items():
        assert Grant("group", group, "literal", "read") in grants(BY_USER[user]), user
    # Faust's group and its own topics (changelogs, leader) are named after the app id.
    rules = grants(BY_USER["rules"])
    app_id = RulesSettings().app_id
    assert Grant("group", app_id, "prefixed", "all") in rules
    assert Grant("topic", app_id, "prefixed", "all") in rules


def test_every_topic_a_service_uses_is_a_topic_that_exists():
    names = {spec.name for spec in topics.TOPICS}
    for access in ACCESS:
        assert set(access.reads) | set(access.writes) <= names, access.user


def test_the_properties_file_gives_a_process_its_user(tmp_path, monkeypatch):
    path = tmp_path / "kafka-client.properties"
    path.write_text(properties_text("127.0.0.1:9092", ENTERPRISE_USER, "s3cret"))
    environment = environment_from_properties(str(path))
    assert environment == {
        "KAFKA_USERNAME": ENTERPRISE_USER,
        "KAFKA_PASSWORD": "s3cret",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert kafka_auth() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": ENTERPRISE_USER,
        "sasl_plain_password": "s3cret",
    }
    monkeypatch.delenv("KAFKA_USERNAME")
    assert kafka_auth() == {}  # no user: PLAINTEXT
