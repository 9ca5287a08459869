"""mongoengine documents of the registry.

Every entity carries its own outbox marker: a write sets `pending_publish` and bumps
`version` in the same single-document update, so the database and the change event
cannot diverge (FerretDB has no multi-document transactions). The publisher clears the
marker only for the version Kafka acknowledged.
"""

import mongoengine as me


class RegistryEntity(me.Document):
    meta = {"abstract": True}

    id = me.StringField(primary_key=True)
    version = me.IntField(default=1)
    pending_publish = me.BooleanField(default=True)
    deleted = me.BooleanField(default=False)
    updated_at = me.DateTimeField()


def _meta(collection: str) -> dict:
    return {"collection": collection, "indexes": ["pending_publish"]}


class GovernmentUnit(RegistryEntity):
    meta = _meta("units")
    name = me.StringField(required=True)
    kind = me.StringField()
    parent_id = me.StringField()
    enterprise_id = me.StringField()
    duties = me.StringField()


class CoordinationGroup(RegistryEntity):
    meta = _meta("coordination_groups")
    number = me.IntField()
    name = me.StringField(required=True)
    name_en = me.StringField()
    leader = me.StringField()
    lead_unit_id = me.StringField()
    member_unit_ids = me.ListField(me.StringField())
    duties = me.StringField()
    main_text_name = me.StringField()
    main_text = me.StringField()
    # The group's own timers for its cases (notify's defaults when unset).
    escalation_hours = me.FloatField()
    reminder_hours = me.FloatField()
    ack_timeout_hours = me.FloatField()


class WorkGroup(RegistryEntity):
    meta = _meta("work_groups")
    number = me.IntField()
    name = me.StringField(required=True)
    short_name = me.StringField()
    name_en = me.StringField()
    lead_unit_ids = me.ListField(me.StringField())
    participant_unit_ids = me.ListField(me.StringField())
    duties = me.StringField()


class Enterprise(RegistryEntity):
    meta = _meta("enterprises")
    name = me.StringField(required=True)
    aliases = me.ListField(me.StringField())
    is_key = me.BooleanField(default=False)
    work_group_ids = me.ListField(me.StringField())
    industry = me.StringField()
    main_product = me.StringField()
    region = me.StringField()
    region_source = me.StringField()
    is_sme = me.BooleanField(default=False)
    sources = me.ListField(me.StringField())


class MatchmakingEvent(RegistryEntity):
    """A matchmaking event of 附件6 (重大对接活动)."""

    meta = _meta("matchmaking_events")
    name = me.StringField(required=True)
    number = me.IntField()
    ref = me.StringField()
    hosts = me.StringField()
    host_unit_ids = me.ListField(me.StringField())
    host_enterprise_ids = me.ListField(me.StringField())
    participants = me.StringField()
    date = me.StringField()
    date_text = me.StringField()
    date_kind = me.StringField()  # "by" (拟定于…前, a deadline) or "on" (定于…举办)
    group_id = me.StringField()


class LiaisonContact(RegistryEntity):
    meta = _meta("liaison_contacts")
    enterprise_id = me.StringField(required=True)
    name = me.StringField(required=True)
    title = me.StringField()
    phone = me.StringField()
    email = me.StringField()


class RoutingRule(RegistryEntity):
    """The recipients of one problem type; the id is the problem type."""

    meta = _meta("routing_rules")
    primary = me.StringField(required=True)
    cc = me.ListField(me.StringField())
    cc_when_sme = me.ListField(me.StringField())
    description = me.StringField()


class IndicatorRange(RegistryEntity):
    """An admin's plausible range of one indicator for one enterprise (docs/contract.md §7, like
    DHIS2's min-max values): it replaces the range rules learns from the enterprise's history."""

    meta = _meta("indicator_ranges")
    enterprise_id = me.StringField(required=True)
    indicator = me.StringField(required=True)
    min = me.FloatField()
    max = me.FloatField()


class AlertSubscription(RegistryEntity):
    """A channel on which a group receives its alerts (notify delivers on it)."""

    meta = _meta("alert_subscriptions")
    group_id = me.StringField(required=True)
    leader = me.BooleanField(default=False)  # the 组长's channel: late reminders only
    channel = me.StringField(required=True, choices=("webhook", "email", "inbox"))
    target = me.StringField()
    enabled = me.BooleanField(default=True)
    secret = me.StringField()  # the webhook's own signing key (X-Liaison-Signature)


class VersionClaim(me.Document):
    """`<kind>:<id>:<version>`, inserted before that version of an entity is saved: of two
    writers (two registry replicas) that read the same version, one only can insert the next."""

    meta = {"collection": "registry_version_claims"}
    id = me.StringField(primary_key=True)
    at = me.DateTimeField()
