"""Request and response models of the dashboard API (the OpenAPI document is generated from these).

Snowflakes are strings in JSON (JavaScript loses precision past 2^53); amounts are integers.
Every list that can grow without bound is a :class:`Page` with an opaque ``next_cursor``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from synapse.api.directory_schemas import ChannelRef, RuleReferences

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
    name: str | None = Field(None, description="The channel's name (null: not known yet)")
    deleted: bool = Field(False, description="The channel was deleted in Discord")


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
    period: Literal["all", "week", "month", "season"] = Field(
        "all", description="all: balances; week / month / season: each entry's balance is its net earned in "
                           "the window [since, until)")
    since: datetime | None = Field(None, description="Start of the period's window (null for all)")
    until: datetime | None = Field(None, description="End of the window, exclusive (null: all, or the open season)")


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


class GuildSetup(Model):
    """What Synapse installed when the guild set itself up (services/onboarding.py)."""

    initialised_at: datetime | None = Field(description="When the default pack was installed; null if never")
    door: str | None = Field(description="What set it up: event (the bot joined / first activity), interaction "
                                         "(first slash command), login (first admin login), cli, system")
    installed: dict[str, int] = Field(description="How many of each were installed then: currencies, modules, "
                                                  "settings, rules, milestones")
    currencies: list[str] = Field(description="The guild's currencies now (names)")
    rules: list[str] = Field(description="Enabled rules now (names, highest priority first)")
    milestones: list[str] = Field(description="Enabled milestones now (names)")
    modules_on: list[str] = Field(description="Modules turned on now")


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


# ---------------------------------------------------------------- admin

class ModuleToggle(Model):
    enabled: bool


class ChannelGroupIn(Model):
    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    name: str = Field(min_length=1, max_length=60)
    description: str = Field("", max_length=300)
    channel_ids: list[Snowflake] = Field(default_factory=list, max_length=500)


class ChannelGroupPatch(Model):
    name: str | None = Field(None, min_length=1, max_length=60)
    description: str | None = Field(None, max_length=300)
    channel_ids: list[Snowflake] | None = Field(None, max_length=500)


class ChannelGroup(Model):
    key: str
    name: str
    description: str
    channel_ids: list[Snowflake]
    channels: list[ChannelRef] = Field(default_factory=list, description="channel_ids with names, in order")


class MilestoneAdmin(Model):
    milestone_id: int
    key: str
    name: str
    description: str
    emoji: str
    criteria: dict[str, Any]
    rewards: list[dict[str, Any]]
    hidden: bool
    announce: bool
    enabled: bool
    earned_count: int


class GrantIn(Model):
    user_id: Snowflake = Field(pattern=r"^[0-9]{1,19}$")


class GrantOut(Model):
    milestone: str
    user_id: Snowflake
    already: bool
    earned_at: datetime


class RetroMember(Model):
    user_id: Snowflake
    display_name: str | None


class RetroPreview(Model):
    milestone: str
    qualifying: int
    preview_token: str = Field(description="Pass to /retro/apply; it names exactly the list you reviewed")
    members: list[RetroMember] = Field(description="The first 200 qualifying members")


class RetroApplyIn(Model):
    preview_token: str = Field(min_length=1, max_length=64)


class RetroApplied(Model):
    milestone: str
    granted: int


class AwardIn(Model):
    user_id: Snowflake = Field(pattern=r"^[0-9]{1,19}$")
    currency: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    amount: int = Field(ge=-(10**12), le=10**12, description="Negative for a correction (debit)")
    reason: str = Field(min_length=1, max_length=200)
    request_id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                                   description="Idempotency key: the same request id never posts twice "
                                               "(default: X-Request-Id header, else random)")


class AwardOut(Model):
    user_id: Snowflake
    currency: str
    amount: int
    balance_after: int
    transaction_id: int
    repeated: bool = Field(description="true: this request id was posted before; nothing changed now")


class TransactionOut(Model):
    id: int
    user_id: Snowflake
    currency: str
    amount: int
    balance_after: int
    kind: str
    reason: str
    rule_id: int | None
    actor_id: Snowflake | None
    season_id: int | None
    occurred_at: datetime
    rule_version: int | None = Field(None, description="The version of the rule that posted it")
    event_id: int | None = Field(None, description="Event Lake id of the event that caused it")
    event_type: str | None = Field(None, description="That event's type")


class SeasonStartIn(Model):
    name: str = Field(min_length=1, max_length=80)
    scheduled_end_at: datetime | None = None


class SeasonRollIn(Model):
    expected_season_id: int = Field(ge=1, le=2**31 - 1, description="The active season you mean to close "
                                                                     "(a stale page gets 409)")
    next_name: str = Field(min_length=1, max_length=80)
    next_scheduled_end_at: datetime | None = None


class SeasonRollOut(Model):
    closed_season_id: int
    opened_season_id: int
    snapshot_rows: int
    reset_wallets: dict[str, int]
    reset_total: dict[str, int]


class ImportIn(Model):
    format: Literal["mee6", "csv"]
    currency: str = Field("xp", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    content: str = Field(min_length=1, max_length=50_000_000, description="The file's text")
    filename: str = Field("", max_length=200)


class ImportRow(Model):
    user_id: Snowflake
    username: str | None
    amount: int
    balance_before: int
    balance_after: int
    level_before: int | None
    level_after: int | None


class LevelCount(Model):
    level: int
    members: int


class ImportPreview(Model):
    source: str
    file_sha256: str
    currency: str
    members: int
    total: int
    members_with_balance: int = Field(description="Members who already hold this currency (import adds on top)")
    levels: list[LevelCount] = Field(description="How many members land on each level after the import")
    rows: list[ImportRow] = Field(description="The first 100 rows, highest first")
    problems: list[dict[str, Any]]
    already_imported: bool
    import_id: int | None


class ImportResult(Model):
    import_id: int
    already_imported: bool
    members: int
    total: int
    posted: int


class ImportBatch(Model):
    import_id: int
    source: str
    file_sha256: str
    currency: str
    members: int
    total: int
    created_by: Snowflake | None
    created_at: datetime


class AuditEntry(Model):
    id: int
    actor_id: Snowflake | None
    actor_kind: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    request_id: str | None
    created_at: datetime


class ApiTokenIn(Model):
    name: str = Field(min_length=1, max_length=60)


class ApiTokenOut(Model):
    token_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="Shown once; only its hash is stored")


class WebhookIn(Model):
    url: str = Field(min_length=8, max_length=500)
    events: list[Literal["level_up", "milestone_earned", "season.closed"]] = Field(min_length=1, max_length=3)


class WebhookOut(Model):
    webhook_id: int
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once: verify X-Synapse-Signature with it")


class ErasureIn(Model):
    confirm_user_id: Snowflake = Field(description="Repeat the member id to confirm")


class ErasureOut(Model):
    user_id: Snowflake
    deleted: dict[str, int]


class RuleOut(Model):
    rule_id: int
    version: int
    name: str
    enabled: bool
    module: str
    priority: int
    trigger: str
    definition: dict[str, Any]
    references: RuleReferences | None = Field(None, description="The channels and roles the rule names, "
                                                                "resolved; deleted ones flagged")


class RuleVersionOut(Model):
    version: int
    definition: dict[str, Any]
    created_by: Snowflake | None
    created_at: datetime


class RuleDetail(RuleOut):
    versions: list[RuleVersionOut]


class RuleValidation(Model):
    valid: bool
    errors: list[dict[str, Any]] = Field(description="Every problem with its JSON path")
    warnings: list[dict[str, Any]] = Field(default_factory=list, description="[{path, message}]: deleted or "
                                           "unknown channels the rule names (it still saves)")


class BacktestIn(Model):
    rules: list[dict[str, Any]] = Field(default_factory=list, max_length=50,
                                        description="Draft rules (with id to replace a live rule, without to add)")
    start: datetime | None = None
    end: datetime | None = None
    only_draft: bool = Field(False, description="Run the drafts alone instead of overlaid on the live rules")
    compare: bool = Field(True, description="Also run the live rules and return the difference")


class BacktestOut(Model):
    start: datetime | None
    end: datetime | None
    draft: dict[str, Any]
    live: dict[str, Any] | None
    diff: dict[str, Any] | None


class DiffEntry(Model):
    path: str
    before: Any
    after: Any


class RuleDiff(Model):
    rule_id: int
    from_version: int
    to_version: int
    changes: list[DiffEntry]


class MemberIntegration(Model):
    user_id: Snowflake
    balances: list[Balance]
    milestones: list[EarnedMilestone]


# ---------------------------------------------------------------- member management (admin)

class MemberHit(Model):
    user_id: Snowflake
    display_name: str | None
    avatar: str | None
    left_at: datetime | None
    last_seen_at: datetime | None
    balances: dict[str, int] = Field(description="Balance per currency key (wallets only)")


class MemberWallet(Model):
    currency: str
    name: str
    symbol: str
    levelled: bool
    allow_negative: bool
    balance: int
    level: int | None = Field(None, description="Levelled currencies: the level of this balance")
    into_level: int | None = None
    for_next: int | None = None


class MemberAdmin(Model):
    user_id: Snowflake
    known: bool = Field(description="false: Synapse has never seen this member (no events, wallets or transactions)")
    display_name: str | None
    avatar: str | None
    joined_at: datetime | None
    left_at: datetime | None
    last_seen_at: datetime | None
    wallets: list[MemberWallet] = Field(description="Every currency of the server, 0 where the member has no wallet")


class LedgerLine(Model):
    """One transaction of a member, with where it came from."""

    id: int
    currency: str
    amount: int
    balance_after: int
    kind: str = Field(description="rule, admin_award, season_reset, clawback, correction, transfer or import")
    reason: str
    occurred_at: datetime
    rule_id: int | None
    rule_version: int | None
    rule_name: str | None = Field(description="The rule's name at that version")
    event_id: int | None = Field(description="Event Lake id of the event that caused it")
    event_type: str | None
    actor_id: Snowflake | None = Field(description="The admin who made it (awards, corrections, seasons, imports)")
    actor_name: str | None
    season_id: int | None
    import_source: str | None = Field(description="Imports: the format the balances came from (mee6, csv)")
    clawback_of: int | None = Field(description="Clawbacks: the id of the transaction taken back")


_REQUEST_ID = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                    description="Idempotency key: the same request id never changes anything twice "
                                "(default: X-Request-Id header, else random)")


class SetBalanceIn(Model):
    currency: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    balance: int = Field(ge=-(10**12), le=10**12, description="The balance to set (negative only where allowed)")
    reason: str = Field(min_length=1, max_length=200)
    request_id: str | None = _REQUEST_ID


class SetLevelIn(Model):
    currency: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="A levelled currency")
    level: int = Field(ge=0, le=1000, description="The balance becomes the least one at this level")
    reason: str = Field(min_length=1, max_length=200)
    request_id: str | None = _REQUEST_ID


class ResetIn(Model):
    currency: str | None = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$",
                                 description="Required; null resets every currency (never by omission)")
    reason: str = Field(min_length=1, max_length=200)
    request_id: str | None = _REQUEST_ID


class BalanceChange(Model):
    currency: str
    before: int
    after: int
    amount: int
    transaction_id: int = Field(description="The correction transaction")


class AdjustmentOut(Model):
    user_id: Snowflake
    action: Literal["member.set_balance", "member.set_level", "member.reset"]
    reason: str
    changes: list[BalanceChange] = Field(description="One per currency that moved; empty if none had to")
    audit_id: int = Field(description="The admin_log row of this change")
    repeated: bool = Field(description="true: this request id was used before; nothing changed now")


# ---------------------------------------------------------------- templates and level roles (issue 16)

class Placeholder(BaseModel):
    name: str = Field(description="Written {name} in the template")
    description: str
    sample: str = Field(description="The value the dashboard's live preview shows")


class TemplatePlaceholders(BaseModel):
    """The placeholders each template setting may use (one list: the save-time check and the preview)."""

    levelup_template: list[Placeholder]
    milestone_template: list[Placeholder]


class LevelRoleRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(description="A levelled currency's key")
    level: int = Field(description="The level (1–100000) that earns the role")
    role_id: Snowflake


class LevelRoleRowOut(LevelRoleRow):
    role: Any = Field(None, description="The role resolved from the directory: {id, name, deleted, assignable}")


class LevelRolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["stack", "replace"] | None = Field(None, description="level_role_mode (unchanged if absent)")
    rows: list[Any] = Field(description="The whole table: [{currency, level, role_id}], saved as one")


class LevelRolesOut(BaseModel):
    mode: Literal["stack", "replace"]
    rows: list[LevelRoleRowOut]
    currencies: list[str] = Field(description="The levelled currencies (the rows' choices)")


class LevelRoleChange(BaseModel):
    user_id: Snowflake
    name: str | None = None
    role_id: Snowflake
    role_name: str | None = None
    action: Literal["add", "remove"]
    currency: str
    level: int


class LevelRoleSync(BaseModel):
    """What "sync now" would do (or did): the changes, and what it will not touch."""

    mode: Literal["stack", "replace"]
    token: str = Field(description="Pass it to apply exactly these changes")
    changes: list[LevelRoleChange]
    added: int
    removed: int
    members: int = Field(description="Members with a balance in a table currency")
    unknown_roles: int = Field(description="Of them, members whose roles Synapse does not know (treated as none)")
    deleted_roles: list[Snowflake] = Field(description="Table roles deleted in Discord: never assigned")
    stale_roles: dict[Snowflake, int] = Field(description="Roles no longer in the table -> members still holding "
                                                          "them (left as they are)")
    outbox_ids: list[int] = Field(default_factory=list, description="Apply: the role changes queued")


class LevelRoleSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=64)
