"""What the registry does, behind its HTTP routes and its seed loader."""

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError, SaveConditionError

from liaison_common import routing
from liaison_common import tokens as token_store
from liaison_common.validation import field_error
from services.registry import documents as d
from services.registry.exceptions import Conflict, InvalidLinks, NotFound
from services.registry.kinds import BY_NAME, KINDS, Kind
from services.registry.metrics import ENTITIES, REGISTRY_WRITES

BOOKKEEPING = {"pending_publish", "deleted"}


def payload(kind: Kind, doc: d.RegistryEntity) -> dict[str, Any]:
    """The entity as the API and the change event show it (no outbox bookkeeping)."""
    data = {key: value for key, value in doc.to_mongo().to_dict().items() if key not in BOOKKEEPING}
    data["id"] = data.pop("_id")
    for key in kind.create.model_fields:
        data.setdefault(key, None)
    return data


def _names(unit_ids: Iterable[str]) -> list[str]:
    ids = list(unit_ids)
    found = {u.id: u.name for u in d.GovernmentUnit.objects(id__in=ids, deleted=False).only("id", "name")}
    return [found.get(unit_id, unit_id) for unit_id in ids]


def read(kind: Kind, doc: d.RegistryEntity) -> dict[str, Any]:
    """payload() plus what a reader wants resolved: unit names, linked enterprises."""
    data = payload(kind, doc)
    if kind.name == "group":
        data["lead_unit"] = _names([data["lead_unit_id"]])[0] if data.get("lead_unit_id") else None
        data["member_units"] = _names(data.get("member_unit_ids") or [])
    elif kind.name == "work_group":
        data["lead_units"] = _names(data.get("lead_unit_ids") or [])
        data["participant_units"] = _names(data.get("participant_unit_ids") or [])
        data["enterprise_ids"] = [
            e.id for e in d.Enterprise.objects(work_group_ids=doc.id, deleted=False).only("id").order_by("id")
        ]
    return data


def get(kind: Kind, entity_id: str) -> d.RegistryEntity:
    doc = kind.document.objects(id=entity_id, deleted=False).first()
    if doc is None:
        raise NotFound(f"no {kind.name} with id '{entity_id}'")
    return doc


def list_entities(kind: Kind, *, limit: int, offset: int, filters: dict[str, Any]) -> list[d.RegistryEntity]:
    query = kind.document.objects(deleted=False, **{k: v for k, v in filters.items() if v is not None})
    return list(query.order_by(*kind.order_by).skip(offset).limit(limit))


def exists(kind_names: Iterable[str], entity_id: str) -> bool:
    return any(BY_NAME[name].document.objects(id=entity_id, deleted=False).count() for name in kind_names)


def check_links(kind: Kind, data: dict[str, Any]) -> None:
    """422 naming each field that refers to an entity the registry does not hold."""
    errors = []
    for field_name, target_kinds in kind.links.items():
        value = data.get(field_name)
        values = value if isinstance(value, list) else [value]
        for index, linked_id in enumerate(values):
            if linked_id is None or exists(target_kinds, linked_id):
                continue
            loc: list[str | int] = ["body", field_name] + ([index] if isinstance(value, list) else [])
            targets = " or ".join(t.replace("_", " ") for t in target_kinds)
            errors.append(
                field_error(loc, f"unknown {targets} '{linked_id}'", "value_error.unknown_reference")
            )
    if errors:
        raise InvalidLinks(errors)


def referrers(kind: Kind, entity_id: str) -> list[str]:
    """Entities whose links name this one (a delete would leave them dangling)."""
    found = []
    for other in KINDS:
        for field_name, target_kinds in other.links.items():
            if kind.name in target_kinds:
                for doc in other.document.objects(deleted=False, **{field_name: entity_id}).only("id"):
                    found.append(f"{other.name} '{doc.id}' ({field_name})")
    return found


def _now() -> datetime:
    return datetime.now(UTC)


def create(kind: Kind, data: dict[str, Any]) -> d.RegistryEntity:
    entity_id = data["id"]
    if any(k.document.objects(id=entity_id).count() for k in KINDS):
        raise Conflict(f"the id '{entity_id}' is already in use")
    check_links(kind, data)
    doc = kind.document(**data, version=1, pending_publish=True, updated_at=_now())
    doc.save(force_insert=True)
    REGISTRY_WRITES.labels(kind.name, "create").inc()
    return doc


# One writer at a time in this process: FerretDB 1.x loses concurrent updates of one document,
# so two PATCHes of one entity both saved version+1 and the second change was never published.
# Every read-modify-write of an entity (and the outbox's clearing of its marker) holds it.
WRITES = threading.RLock()


def _save_new_version(kind: Kind, doc: d.RegistryEntity, operation: str) -> None:
    """One single-document write: the change, its new version and its outbox marker together,
    compared and set on the version it was read at (issue 35.12: two registry replicas each hold
    their own lock, and both saved version+1). SaveConditionError when another writer won."""
    read_at = doc.version
    # FerretDB 1.x lets every writer of a compare-and-set "win" (docs/reliability-and-security.md)
    # but keeps a unique _id: the new version is claimed by an insert first, which one writer only
    # can make; MongoDB also checks the save's condition.
    try:
        d.VersionClaim(id=f"{kind.name}:{doc.id}:{read_at + 1}", at=_now()).save(force_insert=True)
    except NotUniqueError:
        raise SaveConditionError(f"version {read_at + 1} of {kind.name} '{doc.id}' is taken") from None
    doc.version += 1
    doc.pending_publish = True
    doc.updated_at = _now()
    try:
        doc.save(save_condition={"version": read_at})
    except SaveConditionError:
        doc.version = read_at
        raise
    REGISTRY_WRITES.labels(kind.name, operation).inc()


CAS_ATTEMPTS = 5


def update(kind: Kind, entity_id: str, changes: dict[str, Any]) -> d.RegistryEntity:
    with WRITES:
        check_links(kind, changes)
        for _ in range(CAS_ATTEMPTS):  # another replica changed it meanwhile: read it again
            doc = get(kind, entity_id)
            for key, value in changes.items():
                setattr(doc, key, value)
            try:
                _save_new_version(kind, doc, "update")
                return doc
            except SaveConditionError:
                continue
        raise Conflict(f"{kind.name} '{entity_id}' changes under every attempt; try again")


def delete(kind: Kind, entity_id: str) -> d.RegistryEntity:
    """Soft delete: the document stays, marked, so that the outbox can publish the deletion."""
    with WRITES:
        doc = get(kind, entity_id)
        linked = referrers(kind, entity_id)
        if linked:
            raise Conflict(f"{kind.name} '{entity_id}' is still named by: " + "; ".join(linked[:20]))
        doc.deleted = True
        try:
            _save_new_version(kind, doc, "delete")
        except SaveConditionError:
            raise Conflict(f"{kind.name} '{entity_id}' changed meanwhile; try again") from None
        return doc


def upsert(kind: Kind, data: dict[str, Any], *, overwrite: bool = False) -> str:
    """For the seed loader: create what is missing; returns created, kept, updated or unchanged.

    An entity an admin has edited or deleted is kept as the admin left it, unless `overwrite`
    (`python -m services.registry.seed --overwrite`) brings it back to the seed's content.
    """
    doc = kind.document.objects(id=data["id"]).first()
    if doc is None:
        kind.document(**data, version=1, pending_publish=True, updated_at=_now()).save(force_insert=True)
        REGISTRY_WRITES.labels(kind.name, "create").inc()
        return "created"
    current = payload(kind, doc)
    if not doc.deleted and all(current.get(key) == value for key, value in data.items()):
        return "unchanged"
    if not overwrite:
        return "kept"
    for key, value in data.items():
        setattr(doc, key, value)
    doc.deleted = False
    _save_new_version(kind, doc, "update")
    return "updated"


def count_entities() -> dict[str, int]:
    counts = {kind.name: kind.document.objects(deleted=False).count() for kind in KINDS}
    for name, count in counts.items():
        ENTITIES.labels(name).set(count)
    return counts


# ------------------------------------------------------------------ routing


def resolve(
    *, problem_type: str, enterprise_id: str | None, work_group_id: str | None, category: str | None = None
) -> list[routing.Route]:
    rule_doc = d.RoutingRule.objects(id=problem_type, deleted=False).first()
    if rule_doc is not None:
        rule = routing.RouteRule(
            problem_type,
            rule_doc.primary,
            tuple(rule_doc.cc),
            tuple(rule_doc.cc_when_sme),
            rule_doc.description or "",
        )
    else:
        rule = routing.DEFAULT_ROUTE_RULES[problem_type]
    if enterprise_id is not None:
        enterprise = get(BY_NAME["enterprise"], enterprise_id)
        subject = routing.Subject(
            enterprise.id, "enterprise", bool(enterprise.is_sme), tuple(enterprise.work_group_ids)
        )
    else:
        assert work_group_id is not None
        get(BY_NAME["work_group"], work_group_id)
        subject = routing.Subject(work_group_id, "work_group")
    return routing.resolve_routes(rule, subject, incident_category=category)


# ------------------------------------------------------------------ tokens

SUBJECT_KIND = {"enterprise": "enterprise", "work_group": "work_group", "group": "group"}


def issue_token(
    *, subject_type: str, subject_id: str, expires_in_days: int | None, description: str
) -> tuple[str, token_store.ApiToken]:
    kind_name = SUBJECT_KIND.get(subject_type)
    if kind_name is not None and not exists([kind_name], subject_id):
        raise InvalidLinks(
            [field_error(["body", "subject_id"], f"unknown {subject_type.replace('_', ' ')} '{subject_id}'")]
        )
    expires_at = None
    if expires_in_days is not None:
        expires_at = _now() + timedelta(days=expires_in_days)
    return token_store.issue_token(
        subject_type=subject_type, subject_id=subject_id, expires_at=expires_at, description=description
    )


def revoke_token(token_id: str) -> token_store.ApiToken:
    record = token_store.ApiToken.objects(token_id=token_id).first()
    if record is None:
        raise NotFound(f"no token with id '{token_id}'")
    if record.revoked_at is None:
        record.revoked_at = _now()
        record.save()
    token_store.forget(record.token_hash)
    return record
