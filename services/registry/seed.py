"""Loads the organisation and the default routing rules into the registry's database.

Idempotent: an entity whose content is already there is left alone (no new version, no
new change event). Run: python -m services.registry.seed
"""

import sys
from collections import Counter

from liaison_common import db
from services.registry import organisation, service
from services.registry.config import Settings
from services.registry.kinds import BY_NAME, SEED_SECTIONS


def load(data: dict | None = None) -> Counter[str]:
    """Upsert every entity of the file; count created, updated and unchanged."""
    data = data or organisation.load_organisation()
    problems = organisation.problems(data)
    if problems:
        raise ValueError("the organisation file is inconsistent:\n  " + "\n  ".join(problems))
    outcome: Counter[str] = Counter()
    for section, kind_name in SEED_SECTIONS.items():
        kind = BY_NAME[kind_name]
        for item in data[section]:
            clean = kind.create.model_validate(item).model_dump()
            outcome[service.upsert(kind, clean)] += 1
    for rule in organisation.routing_rules():
        kind = BY_NAME["routing_rule"]
        outcome[service.upsert(kind, kind.create.model_validate(rule).model_dump())] += 1
    return outcome


def main() -> int:
    settings = Settings()
    db.connect(settings.mongodb_uri)
    try:
        outcome = load()
    finally:
        db.disconnect()
    print(
        f"registry seed: {outcome['created']} created, {outcome['updated']} updated, "
        f"{outcome['unchanged']} unchanged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
