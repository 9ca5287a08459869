"""Which submissions ingest has already taken, so that a resubmission is answered 'duplicate'."""

import mongoengine as me


class SubmissionRecord(me.Document):
    """One per submission id and kind. `pending` while Kafka has not acknowledged it."""

    meta = {"collection": "ingest_submissions", "indexes": ["status"]}

    key = me.StringField(primary_key=True)  # "<kind>:<report_id or incident_id>"
    kind = me.StringField(required=True)
    subject_id = me.StringField(required=True)
    status = me.StringField(required=True, choices=("pending", "accepted"))
    source = me.StringField()  # http or kafka
    claimed_at = me.DateTimeField(required=True)
    accepted_at = me.DateTimeField()
    topic = me.StringField()
    partition = me.IntField()
    offset = me.IntField()
