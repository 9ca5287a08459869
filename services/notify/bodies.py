"""The request bodies of notify's routes (docs/contract.md §4): what a caller may send, checked
before any handler runs."""

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from liaison_common.routing import PROBLEM_TYPES

ProblemType = Literal[PROBLEM_TYPES]  # type: ignore[valid-type]


class ActionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=2000)


SlugText = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]


BEIJING = timezone(timedelta(hours=8))


class CoordinationCreate(BaseModel):
    """协调中: the group coordinates the case until `until`, a moment with its offset or a date
    (through the end of that day, Beijing time: the officials' day); escalation and reminders
    wait until then."""

    model_config = ConfigDict(extra="forbid")
    until: AwareDatetime | date
    comment: str = Field(default="", max_length=2000)

    @field_validator("until")
    @classmethod
    def _not_at_the_end_of_time(cls, until: datetime | date) -> datetime | date:
        # 9999-12-31 plus a day overflows (a 500 once, issue 35.4): no coordination lasts so long.
        if until.year >= 9999 or until.year < 1900:
            raise ValueError("must be a date within the next year")
        return until

    def until_moment(self) -> datetime:
        if isinstance(self.until, datetime):
            return self.until
        day = datetime(self.until.year, self.until.month, self.until.day, tzinfo=BEIJING)
        return (day + timedelta(days=1)).astimezone(UTC)


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=2000)


class SilenceMatchers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: SlugText | None = None
    type: ProblemType | None = None
    group_id: SlugText | None = None


SILENCE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SILENCE_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class SilenceCreate(BaseModel):
    """Hold back deliveries that match, from starts_at until ends_at (docs/contract.md §6)."""

    model_config = ConfigDict(extra="forbid")
    matchers: SilenceMatchers
    starts_at: AwareDatetime | None = None  # default: now
    ends_at: AwareDatetime
    comment: str = Field(default="", max_length=2000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_range(cls, moment: datetime | None) -> datetime | None:
        # Years 1 and 9999 with an offset do not fit the database's dates: bound them (a 422).
        if moment is None:
            return None
        if not SILENCE_EARLIEST <= moment <= SILENCE_LATEST:
            raise ValueError("must be between 2000-01-01 and 2100-01-01")
        return moment.astimezone(UTC)
