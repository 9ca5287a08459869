"""The registry's entity kinds: one table says, for each, its document, shapes and links."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from services.registry import documents as d
from services.registry import schemas as s


@dataclass(frozen=True)
class Kind:
    name: str  # entity_type on liaison.registry.v1
    path: str  # /v1/<path>
    document: type[d.RegistryEntity]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    # field -> names of the kinds whose ids it may hold; checked on every write
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    order_by: tuple[str, ...] = ("id",)


GROUP_KINDS = ("group", "work_group")

KINDS: tuple[Kind, ...] = (
    Kind(
        "unit",
        "units",
        d.GovernmentUnit,
        s.UnitCreate,
        s.UnitUpdate,
        s.UnitRead,
        {"parent_id": ("unit",), "enterprise_id": ("enterprise",)},
    ),
    Kind(
        "group",
        "groups",
        d.CoordinationGroup,
        s.GroupCreate,
        s.GroupUpdate,
        s.GroupRead,
        {"lead_unit_id": ("unit",), "member_unit_ids": ("unit",)},
        ("number", "id"),
    ),
    Kind(
        "work_group",
        "work-groups",
        d.WorkGroup,
        s.WorkGroupCreate,
        s.WorkGroupUpdate,
        s.WorkGroupRead,
        {"lead_unit_ids": ("unit",), "participant_unit_ids": ("unit",)},
        ("number", "id"),
    ),
    Kind(
        "enterprise",
        "enterprises",
        d.Enterprise,
        s.EnterpriseCreate,
        s.EnterpriseUpdate,
        s.EnterpriseRead,
        {"work_group_ids": ("work_group",)},
    ),
    Kind(
        "contact",
        "contacts",
        d.LiaisonContact,
        s.ContactCreate,
        s.ContactUpdate,
        s.ContactRead,
        {"enterprise_id": ("enterprise",)},
    ),
    Kind(
        "matchmaking_event",
        "matchmaking-events",
        d.MatchmakingEvent,
        s.MatchmakingEventCreate,
        s.MatchmakingEventUpdate,
        s.MatchmakingEventRead,
        {"host_unit_ids": ("unit",), "host_enterprise_ids": ("enterprise",), "group_id": ("group",)},
        ("number", "id"),
    ),
    Kind(
        "routing_rule",
        "routing-rules",
        d.RoutingRule,
        s.RoutingRuleCreate,
        s.RoutingRuleUpdate,
        s.RoutingRuleRead,
        {"primary": GROUP_KINDS, "cc": GROUP_KINDS, "cc_when_sme": GROUP_KINDS},
    ),
    Kind(
        "indicator_range",
        "indicator-ranges",
        d.IndicatorRange,
        s.IndicatorRangeCreate,
        s.IndicatorRangeUpdate,
        s.IndicatorRangeRead,
        {"enterprise_id": ("enterprise",)},
    ),
    Kind(
        "subscription",
        "subscriptions",
        d.AlertSubscription,
        s.SubscriptionCreate,
        s.SubscriptionUpdate,
        s.SubscriptionRead,
        {"group_id": GROUP_KINDS},
    ),
)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}

# The names the seed file and the topic use for each kind's collection.
SEED_SECTIONS = {
    "units": "unit",
    "coordination_groups": "group",
    "work_groups": "work_group",
    "enterprises": "enterprise",
    "matchmaking_events": "matchmaking_event",
}
