"""The console's work: sign-in sessions, the indicator history, and calls to notify and registry."""

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pymongo.errors import BulkWriteError

from liaison_common.events import EnterpriseReport
from liaison_common.tokens import Principal
from services.console.documents import ReportPoint
from services.console.exceptions import UpstreamUnavailable
from services.console.metrics import UPSTREAM_ERRORS

GROUP_SUBJECTS = ("group", "work_group", "admin")
# An enterprise's liaison signs in too, for its own data queries only (docs/contract.md §7).
CONSOLE_SUBJECTS = (*GROUP_SUBJECTS, "enterprise")
DUPLICATE_KEY = 11000


# ------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str  # the user's own token, sent on to notify and the registry
    display_name: str
    expires_at: float


class TooManySessions(Exception):
    pass


class Sessions:
    """Signed-in users by a random session id (the only thing the browser's cookie holds).

    Kept in memory: a console restart signs everyone out, which costs a paste of the token.
    """

    def __init__(self, lifetime_seconds: float):
        self.lifetime_seconds = lifetime_seconds
        self._sessions: dict[str, Session] = {}

    MAX_PER_TOKEN = 20  # issue 35.11: sign-ins of one token that may be open at once

    def open(self, principal: Principal, token: str, display_name: str) -> str:
        """A new session; TooManySessions once the token holds MAX_PER_TOKEN live ones."""
        self._forget_expired()
        if sum(1 for session in self._sessions.values() if session.token == token) >= self.MAX_PER_TOKEN:
            raise TooManySessions(
                f"this token is signed in {self.MAX_PER_TOKEN} times; sign out elsewhere first"
            )
        session_id = secrets.token_urlsafe(32)
        expires_at = time.monotonic() + self.lifetime_seconds
        self._sessions[session_id] = Session(principal, token, display_name, expires_at)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        session = self._sessions.get(session_id or "")
        if session is None or session.expires_at < time.monotonic():
            return None
        return session

    def close(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for session_id in [s for s, session in self._sessions.items() if session.expires_at < now]:
            del self._sessions[session_id]


# ------------------------------------------------------------------ indicator history


def store_report_points(reports: Sequence[EnterpriseReport]) -> dict[str, int]:
    """Keep each report's indicators once (by report_id); count what was new and what repeated."""
    documents = [
        {
            "report_id": r.report_id,
            "enterprise_id": r.enterprise_id,
            "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(),
            "submitted_at": r.submitted_at.isoformat(),
            "indicators": r.indicators.model_dump(exclude_none=True),
        }
        for r in reports
    ]
    collection = ReportPoint._get_collection()
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {"stored": len(documents) - len(errors), "duplicate": len(errors)}
    return {"stored": len(documents), "duplicate": 0}


def database_answers() -> None:
    """One document read (not a count: FerretDB counts by reading every document)."""
    ReportPoint._get_collection().find_one({}, {"_id": 1})


def report_points(enterprise_id: str, *, limit: int = 260) -> list[dict[str, Any]]:
    """The enterprise's latest reports (five years of weeks at most), oldest first."""
    found = (
        ReportPoint.objects(enterprise_id=enterprise_id)
        .order_by("-period_end")
        .limit(limit)
        .only("report_id", "period_start", "period_end", "submitted_at", "indicators")
    )
    points = [
        {
            "report_id": p.report_id,
            "period_start": p.period_start,
            "period_end": p.period_end,
            "submitted_at": p.submitted_at,
            "indicators": dict(p.indicators),
        }
        for p in found
    ]
    # A corrected report for the same period replaces the earlier one on the chart.
    latest: dict[str, dict[str, Any]] = {}
    for point in sorted(points, key=lambda p: p["submitted_at"]):
        latest[point["period_end"]] = point
    return sorted(latest.values(), key=lambda p: p["period_end"])


# ------------------------------------------------------------------ notify, registry and rules


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status_code < 300

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and "detail" in self.body:
            detail = self.body["detail"]
            if isinstance(detail, list):
                return "；".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
            return str(detail)
        return f"HTTP {self.status_code}"


class Upstream:
    """Calls to another Liaison service with the signed-in user's token."""

    def __init__(self, name: str, base_url: str, client: httpx.AsyncClient):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.client = client

    async def call(
        self, method: str, path: str, *, token: str, params: dict[str, Any] | None = None, json: Any = None
    ) -> Answer:
        try:
            response = await self.client.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"} if token else {},
            )
        except httpx.HTTPError as error:
            UPSTREAM_ERRORS.labels(self.name).inc()
            raise UpstreamUnavailable(f"{self.name} did not answer: {type(error).__name__}") from error
        if response.status_code >= 500:
            UPSTREAM_ERRORS.labels(self.name).inc()
            raise UpstreamUnavailable(f"{self.name} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    async def get_list(self, path: str, *, token: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list endpoint, page by page (1,000 per call, the contract's maximum)."""
        items: list[Any] = []
        offset = 0
        while True:
            answer = await self.call(
                "GET", path, token=token, params={**(params or {}), "limit": 1000, "offset": offset}
            )
            if not answer.ok:
                raise UpstreamUnavailable(f"{self.name} {path}: {answer.detail}")
            page = answer.body["items"] if isinstance(answer.body, dict) else answer.body
            items.extend(page)
            if len(page) < 1000 or len(items) >= 20_000:
                return items
            offset += 1000
