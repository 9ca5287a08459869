"""The archive: alerts resolved long ago leave the working set and stay readable by id."""

import contextlib
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from services.notify import alert_changes, alert_index
from services.notify.clock import aware, now
from services.notify.config import Settings
from services.notify.documents import Alert

ARCHIVE = "alerts_archive"


def archived(alert_id: str) -> Alert | None:
    """An alert moved to the archive (resolved long ago): read-only, still readable by id."""
    doc = Alert._get_db()[ARCHIVE].find_one({"_id": alert_id})
    return None if doc is None else Alert._from_son(doc)


def archive_resolved(settings: Settings) -> int:
    """Move alerts resolved more than `archive_after_days` ago to the archive collection, so
    that the working set (the inbox, the writer's lookups) stays the size of what is current.

    Each move is an insert into the archive, then a delete that holds only if the alert has not
    changed since it was read (a comment, a reopening): otherwise the copy is taken back and the
    alert stays. Any notify instance may run it; a second mover finds the copy there already.
    """
    cutoff = now() - timedelta(days=settings.archive_after_days)
    live, archive = Alert._get_collection(), Alert._get_db()[ARCHIVE]
    moved = 0
    for found in Alert.objects(status="resolved").only("alert_id", "updated_at"):
        updated_at = aware(found.updated_at)
        if updated_at is None or updated_at >= cutoff:
            continue
        doc = live.find_one({"_id": found.alert_id})
        if doc is None or doc.get("status") != "resolved" or doc.get("updated_at") != found.updated_at:
            continue  # changed since
        doc["archived_at"] = now()
        with contextlib.suppress(DuplicateKeyError):
            archive.insert_one(doc)
        if live.delete_one(
            {"_id": found.alert_id, "status": "resolved", "updated_at": found.updated_at}
        ).deleted_count:
            moved += 1
            alert_index.forget(found.alert_id)
            alert_changes.record(
                found.alert_id,
                "archived",
                by="notify",
                at=doc["archived_at"],
                detail={"after_days": settings.archive_after_days},
            )
        else:
            archive.delete_one({"_id": found.alert_id})
    return moved
