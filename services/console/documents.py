"""mongoengine documents of the console: the indicator history behind the trend charts."""

import mongoengine as me


class ReportPoint(me.Document):
    """One enterprise report's indicators, kept for the trend charts; one document per report_id."""

    meta = {
        "collection": "console_report_points",
        "indexes": [{"fields": ["report_id"], "unique": True}, "enterprise_id"],
    }

    report_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    period_start = me.StringField(required=True)
    period_end = me.StringField(required=True)
    submitted_at = me.StringField(required=True)
    indicators = me.DictField()
