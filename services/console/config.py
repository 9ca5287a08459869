from pydantic_settings import SettingsConfigDict

from liaison_common import topics
from liaison_common.settings import CommonSettings


class Settings(CommonSettings):
    """Console settings: the shared ones plus CONSOLE_* variables."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", populate_by_name=True)

    # The console is a front end: alerts come from notify, the organisation from the registry,
    # both called with the signed-in user's own token so their access rules apply unchanged.
    notify_url: str = "http://127.0.0.1:8003"
    registry_url: str = "http://127.0.0.1:8002"
    # Rules publishes its thresholds (the energy ceilings drawn on the charts) at /v1/thresholds.
    rules_url: str = "http://127.0.0.1:8004"
    # A liaison's correction of a queried week goes through ingest like any report (§7).
    ingest_url: str = "http://127.0.0.1:8001"
    upstream_timeout_seconds: float = 10.0
    # The indicator history behind the trend charts is the console's own, read from the reports topic.
    reports_topic: str = topics.REPORTS
    dlq_topic: str = topics.DLQ
    consumer_group: str = "liaison-console"
    # The charts are weekly history: the broker may hold a fetch up to this long (or until 64 KiB
    # are there), so that a steady stream of single reports is stored a batch at a time, one
    # insert and one commit per batch, not per report.
    gather_ms: int = 1000
    session_hours: float = 12.0
    # Set when the console is served over HTTPS, so the session cookie never travels in clear.
    secure_cookies: bool = False
    max_body_bytes: int = 65_536
