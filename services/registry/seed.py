"""Loads the organisation and the default routing rules into the registry's database.

Seeds only what is missing: an entity already there (even one an admin edited or deleted)
is left alone, with no new version and no change event. `--overwrite` brings every seeded
entity back to the file's content. `--seed-routes` replaces the routing rules of the types for
which the seed names more recipients than docs/contract.md §3 with the seed's reading
(organisation.SEED_IMPLIED_ROUTES); seeding again with `--overwrite` brings the contract's back.
Run: python -m services.registry.seed [--overwrite] [--seed-routes]
"""

import sys
from collections import Counter

from liaison_common import db
from services.registry import organisation, service
from services.registry.config import Settings
from services.registry.kinds import BY_NAME, SEED_SECTIONS


def load(data: dict | None = None, *, overwrite: bool = False, seed_routes: bool = False) -> Counter[str]:
    """Create every missing entity of the file; count created, kept, updated and unchanged."""
    data = data or organisation.load_organisation()
    problems = organisation.problems(data)
    if problems:
        raise ValueError("the organisation file is inconsistent:\n  " + "\n  ".join(problems))
    outcome: Counter[str] = Counter()
    for section, kind_name in SEED_SECTIONS.items():
        kind = BY_NAME[kind_name]
        for item in data[section]:
            clean = kind.create.model_validate(item).model_dump()
            outcome[service.upsert(kind, clean, overwrite=overwrite)] += 1
    for rule in organisation.routing_rules():
        kind = BY_NAME["routing_rule"]
        rule_data = kind.create.model_validate(rule).model_dump()
        outcome[service.upsert(kind, rule_data, overwrite=overwrite)] += 1
    if seed_routes:
        for rule in organisation.seed_routing_rules():
            if rule["id"] in organisation.SEED_IMPLIED_ROUTES:
                kind = BY_NAME["routing_rule"]
                rule_data = kind.create.model_validate(rule).model_dump()
                outcome[service.upsert(kind, rule_data, overwrite=True)] += 1
    return outcome


def main() -> int:
    settings = Settings()
    db.connect(settings.mongodb_uri)
    try:
        outcome = load(overwrite="--overwrite" in sys.argv[1:], seed_routes="--seed-routes" in sys.argv[1:])
    finally:
        db.disconnect()
    print(
        f"registry seed: {outcome['created']} created, {outcome['unchanged']} unchanged, "
        f"{outcome['kept']} kept as an admin changed them, {outcome['updated']} overwritten"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
