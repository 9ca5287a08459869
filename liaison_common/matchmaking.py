"""产业对接: the partners the alerts' measures propose, for the group whose measure it is (pure).

The rules service names the partners in each alert's `measures` (the downstream firms of a
stockpile along the seed's chains, 附件7's lead firms for a lasting halt); notify's weekly digest
and the console's matchmaking page list them the same way, from here.
"""

from collections.abc import Iterable
from typing import Any


def proposed_pairs(alerts: Iterable[dict[str, Any]], group_id: str) -> list[dict[str, Any]]:
    """One line per alert and measure with partners that `group_id` carries out, ordered by
    enterprise: its alert, enterprise, partners, the seed's reference and the action."""
    pairs = []
    for alert in alerts:
        for measure in alert.get("measures") or []:
            if measure.get("partners") and group_id in (measure.get("units") or []):
                pairs.append(
                    {
                        "alert_id": alert["alert_id"],
                        "enterprise_id": alert.get("enterprise_id"),
                        "partners": list(measure["partners"]),
                        "ref": measure.get("ref"),
                        "action": measure.get("action"),
                    }
                )
    return sorted(pairs, key=lambda p: (p["enterprise_id"] or "", p["alert_id"]))
