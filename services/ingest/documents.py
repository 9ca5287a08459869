"""Which submissions ingest has accepted, so that a resubmission is answered 'duplicate'."""

import mongoengine as me


class AcceptedSubmission(me.Document):
    """Written once Kafka has acknowledged the event; never updated.

    Insert-only on purpose: FerretDB's SQLite backend answers an insert against the unique
    _id index in well under a millisecond but scans the table for a lookup or an update.
    """

    meta = {"collection": "ingest_accepted"}

    key = me.StringField(primary_key=True)  # "<kind>:<report_id or incident_id>"
    kind = me.StringField(required=True)
    subject_id = me.StringField(required=True)
    source = me.StringField()  # http or kafka
    accepted_at = me.DateTimeField(required=True)
    topic = me.StringField()
    partition = me.IntField()
    offset = me.IntField()
    # False from the claim on; Kafka's acknowledgement is a PublishedSubmission of the same _id
    # (True in claims from before those marks, and in a claim made again after a late one).
    published = me.BooleanField(default=True)


class ReportPeriod(me.Document):
    """Which report holds each subject's period: a later report for the same period under
    another report_id is a correction (docs/contract.md §7). `_id`: "<kind>:<subject>:<start>:<end>"."""

    meta = {"collection": "ingest_periods"}

    key = me.StringField(primary_key=True)
    report_id = me.StringField(required=True)
    submitted_at = me.DateTimeField(required=True)


class PublishedSubmission(me.Document):
    """Kafka acknowledged the claim of the same _id (AcceptedSubmission): written once, in one
    insert per batch; a claim without its mark after STALE_CLAIM_SECONDS was never published."""

    meta = {"collection": "ingest_published"}

    key = me.StringField(primary_key=True)
    partition = me.IntField()
    offset = me.IntField()
    at = me.DateTimeField()
