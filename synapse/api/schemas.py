"""Request and response models of the dashboard API (the OpenAPI document is generated from these).

Snowflakes are strings in JSON (JavaScript loses precision past 2^53); amounts are integers.
Every list that can grow without bound is a :class:`Page` with an opaque ``next_cursor``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Snowflake = str
T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= to get the next page; null on the last")


class ErrorBody(Model):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, validation_failed")
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list, description="[{path, message}] for bad input")


class ErrorResponse(Model):
    error: ErrorBody


# ---------------------------------------------------------------- public read models

class ChannelCount(Model):
    channel_id: Snowflake
    events: int


class WindowCounts(Model):
    events: int = Field(description="Events of every type in the window")
    messages: int
    active_members: int = Field(description="Members with at least one event (UTC days, window rounded up)")


class CurrencyTotal(Model):
    key: str
    name: str
    symbol: str
    holders: int
    total: int


class Overview(Model):
    guild_id: Snowflake
    name: str
    members_tracked: int = Field(description="Members seen by Synapse who have not left")
    windows: dict[Literal["24h", "7d", "30d"], WindowCounts]
    top_channels: list[ChannelCount] = Field(description="Busiest channels over the last 30 days")
    currencies: list[CurrencyTotal]
    as_of: datetime


class LeaderboardEntry(Model):
    rank: int = Field(description="1-based position (ties broken by member id)")
    user_id: Snowflake | None = Field(description="null when the member opted out of public boards")
    display_name: str | None = Field(description="null when the member opted out of public boards")
    avatar: str | None
    balance: int
    level: int | None = Field(description="Level for levelled currencies, else null")


class Leaderboard(Page[LeaderboardEntry]):
    currency: str
    season_id: int | None = Field(description="null: all-time balances; else the season shown")
    season_status: Literal["active", "closed"] | None


class Balance(Model):
    currency: str
    name: str
    symbol: str
    balance: int
    rank: int | None
    level: int | None = None
    into_level: int | None = Field(None, description="Points above the current level's threshold")
    for_next: int | None = Field(None, description="Size of the current level")


class EarnedMilestone(Model):
    milestone_id: int
    key: str
    name: str
    emoji: str
    earned_at: datetime


class MemberProfile(Model):
    user_id: Snowflake
    display_name: str | None
    avatar: str | None
    joined_at: datetime | None
    balances: list[Balance]
    milestones: list[EarnedMilestone]
    messages_30d: int
    voice_minutes_30d: int


class SeriesPoint(Model):
    t: datetime = Field(description="Start of the bucket (UTC)")
    messages: int
    reactions: int
    voice_minutes: int
    joins: int
    leaves: int
    active_members: int | None = Field(description="Distinct active members; only for day buckets")


class TimeSeries(Model):
    bucket: Literal["hour", "day"]
    start: datetime
    end: datetime
    points: list[SeriesPoint]


class HeatCell(Model):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday, in the guild's time zone")
    hour: int = Field(ge=0, le=23)
    messages: int


class Heatmap(Model):
    timezone: str
    start: datetime
    end: datetime
    cells: list[HeatCell] = Field(description="All 168 cells, weekday-major")


class Cohort(Model):
    week: date = Field(description="Monday of the join week (UTC)")
    size: int
    retained: list[int] = Field(description="retained[k]: members of the cohort active in week k after joining")


class Retention(Model):
    weeks: int
    cohorts: list[Cohort]


class GalleryMilestone(Model):
    milestone_id: int
    key: str
    name: str
    description: str
    emoji: str
    earned_count: int
    first_earned_at: datetime | None
    last_earned_at: datetime | None


class Announcement(Model):
    id: int
    kind: Literal["level_up", "milestone", "season_closed", "other"]
    user_id: Snowflake | None
    display_name: str | None
    text: str
    created_at: datetime


class Modules(Model):
    modules: dict[str, bool]


class CurrencyInfo(Model):
    key: str
    name: str
    symbol: str
    levelled: bool
    seasonal: bool


class SeasonInfo(Model):
    season_id: int
    name: str
    status: Literal["active", "closed"]
    started_at: datetime
    ended_at: datetime | None
    scheduled_end_at: datetime | None


class GuildInfo(Model):
    guild_id: Snowflake
    name: str
    timezone: str
    modules: dict[str, bool]
    currencies: list[CurrencyInfo]
    public_leaderboard: bool
    public_activity: bool


# ---------------------------------------------------------------- auth

class AdminGuild(Model):
    guild_id: Snowflake
    name: str


class Me(Model):
    user_id: Snowflake
    username: str
    avatar: str | None
    guilds: list[AdminGuild] = Field(description="Guilds this user administers (and Synapse knows)")
    expires_at: datetime


class TokenOut(Model):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class TestLogin(Model):
    user_id: Snowflake = Field(pattern=r"^[0-9]{1,19}$")
    username: str = Field("tester", max_length=100)
    guilds: list[Snowflake] = Field(default_factory=list, max_length=200)
