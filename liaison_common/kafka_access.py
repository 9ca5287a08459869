"""Who may do what on the broker: one SCRAM user per service with only its topics, and one user
for the enterprise systems that may only write `liaison.inbound.v1` (docs/contract.md §6).

`make up` runs `python -m liaison_common.kafka_access` after the broker starts. It creates (or
re-keys) the users from the passwords in .local/secrets/, makes the ACLs of each user exactly
the ones below (adding what is missing, removing what is not listed), and writes the librdkafka
properties files an enterprise system (`kafka-client.properties`) and an operator
(`kafka-admin.properties`, a super user) connect with. Idempotent.

The broker is started with `allow.everyone.if.no.acl.found=false` and the KRaft
StandardAuthorizer, so anything not granted here is refused: a registry event can come only
from the registry's own user, an alert only from rules'.
"""

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liaison_common import topics

ADMIN_USER = "admin"
ENTERPRISE_USER = "enterprise-systems"
# Faust names its own topics (table changelogs, the leader topic) and its group after the app id.
RULES_APP_ID = "liaison-rules"


@dataclass(frozen=True)
class Access:
    """What one user may do: read (and describe) these topics, write these, join these groups,
    and anything on topics and groups whose names start with `prefix`."""

    user: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    prefix: str = ""


ACCESS: tuple[Access, ...] = (
    Access(
        "registry",
        reads=(topics.REGISTRY,),  # is the topic empty (a snapshot is due)? the garbage guard
        writes=(topics.REGISTRY, topics.DLQ),
        groups=("liaison-registry-guard",),
    ),
    Access(
        "ingest",
        reads=(topics.INBOUND, topics.REGISTRY),
        writes=(topics.REPORTS, topics.INCIDENTS, topics.WORKGROUP_REPORTS, topics.DLQ),
        groups=("liaison-ingest-inbound",),
    ),
    Access(
        "rules",
        reads=(
            topics.REPORTS,
            topics.INCIDENTS,
            topics.WORKGROUP_REPORTS,
            topics.REGISTRY,
            topics.RULES_PERIODS,
        ),
        writes=(topics.PROBLEMS, topics.ALERTS, topics.REPORTING, topics.RULES_PERIODS, topics.DLQ),
        prefix=RULES_APP_ID,
    ),
    Access(
        "notify",
        reads=(topics.ALERTS, topics.ALERT_EVENTS, topics.ALERT_INDEX, topics.REPORTING, topics.REGISTRY),
        writes=(topics.ALERT_EVENTS, topics.ALERT_INDEX, topics.DLQ),
        groups=("liaison-notify",),
    ),
    Access(
        "console",
        reads=(topics.REPORTS,),
        writes=(topics.DLQ,),
        groups=("liaison-console",),
    ),
    Access(ENTERPRISE_USER, writes=(topics.INBOUND,)),
)

USERS: tuple[str, ...] = tuple(access.user for access in ACCESS)


@dataclass(frozen=True)
class Grant:
    """One ACL, allowed from any host: (resource type, name, pattern type, operation)."""

    resource: str  # "topic" or "group"
    name: str
    pattern: str  # "literal" or "prefixed"
    operation: str  # "read", "write", "describe", "all"


def grants(access: Access) -> set[Grant]:
    """The ACLs that give `access` and nothing more (pure: unit-tested)."""
    result: set[Grant] = set()
    for topic in access.reads:
        result.add(Grant("topic", topic, "literal", "read"))
        result.add(Grant("topic", topic, "literal", "describe"))
    for topic in access.writes:
        result.add(Grant("topic", topic, "literal", "write"))
        result.add(Grant("topic", topic, "literal", "describe"))
    for group in access.groups:
        result.add(Grant("group", group, "literal", "read"))
    if access.prefix:
        result.add(Grant("topic", access.prefix, "prefixed", "all"))
        result.add(Grant("group", access.prefix, "prefixed", "all"))
    return result


def password_file(secrets_dir: Path, user: str) -> Path:
    return secrets_dir / f"kafka-{user}.password"


def read_or_create_password(secrets_dir: Path, user: str) -> str:
    """The user's password from .local/secrets/, generated (mode 0600) the first time."""
    path = password_file(secrets_dir, user)
    if not path.exists() or not path.read_text().strip():
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def properties_text(bootstrap: str, user: str, password: str, mechanism: str = "SCRAM-SHA-256") -> str:
    """A librdkafka properties file (`kcat -F FILE`, confluent-kafka) for one user."""
    return (
        "# Liaison's broker: SASL/SCRAM over loopback. Written by `make up`; keep it private.\n"
        f"bootstrap.servers={bootstrap}\n"
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanisms={mechanism}\n"
        f"sasl.username={user}\n"
        f"sasl.password={password}\n"
    )


def write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file may have been created with looser bits


def _acl(user: str, grant: Grant) -> Any:
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    return ACL(
        principal=f"User:{user}",
        host="*",
        operation=ACLOperation[grant.operation.upper()],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            ResourceType[grant.resource.upper()], grant.name, ACLResourcePatternType[grant.pattern.upper()]
        ),
    )


def _grant_of(acl: Any) -> Grant:
    pattern = acl.resource_pattern
    return Grant(
        pattern.resource_type.name.lower(),
        pattern.resource_name,
        pattern.pattern_type.name.lower(),
        acl.operation.name.lower(),
    )


def provision(bootstrap: str, passwords: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Create or re-key every user and make its ACLs exactly its grants; connect as the admin
    (KAFKA_USERNAME/KAFKA_PASSWORD). Returns, per user, (ACLs added, ACLs removed)."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePatternFilter,
        ResourceType,
        UserScramCredentialUpsertion,
    )

    from liaison_common.kafka_auth import kafka_auth

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="liaison-kafka-access", **kafka_auth())
    try:
        errors = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, "SCRAM-SHA-256", passwords[user]) for user in USERS]
        )
        failed = {user: message for user, message in errors.items() if message}
        if failed:
            raise RuntimeError(f"could not set the SCRAM credentials of {failed}")
        changes: dict[str, tuple[int, int]] = {}
        for access in ACCESS:
            wanted = grants(access)
            found, _error = admin.describe_acls(
                ACLFilter(
                    principal=f"User:{access.user}",
                    host="*",
                    operation=ACLOperation.ANY,
                    permission_type=ACLPermissionType.ANY,
                    resource_pattern=ResourcePatternFilter(
                        ResourceType.ANY, None, ACLResourcePatternType.ANY
                    ),
                )
            )
            present = {_grant_of(acl) for acl in found}
            missing = wanted - present
            extra = [acl for acl in found if _grant_of(acl) not in wanted]
            if missing:
                result = admin.create_acls([_acl(access.user, grant) for grant in sorted(missing, key=repr)])
                if result["failed"]:
                    raise RuntimeError(f"could not create the ACLs of {access.user}: {result['failed']}")
            if extra:
                admin.delete_acls(extra)
            changes[access.user] = (len(missing), len(extra))
        return changes
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m liaison_common.kafka_access",
        description="Create the broker's users and ACLs and write the clients' properties files.",
    )
    parser.add_argument(
        "--secrets", type=Path, default=Path(".local/secrets"), help="where the passwords live"
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args(argv)
    if not os.environ.get("KAFKA_USERNAME"):
        print("error: connect as the broker's admin: set KAFKA_USERNAME and KAFKA_PASSWORD", file=sys.stderr)
        return 2
    passwords = {user: read_or_create_password(args.secrets, user) for user in USERS}
    changes = provision(args.bootstrap, passwords)
    client = args.secrets / "kafka-client.properties"
    write_private(client, properties_text(args.bootstrap, ENTERPRISE_USER, passwords[ENTERPRISE_USER]))
    admin = args.secrets / "kafka-admin.properties"
    write_private(admin, properties_text(args.bootstrap, ADMIN_USER, os.environ.get("KAFKA_PASSWORD", "")))
    added = sum(change[0] for change in changes.values())
    removed = sum(change[1] for change in changes.values())
    print(
        f"{len(USERS)} Kafka users with their ACLs ({added} added, {removed} removed); "
        f"enterprise systems connect with {client}, operators with {admin}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
