"""SQLAlchemy rows for the whole schema (DESIGN.md §2–§6).

Every tenant table carries ``guild_id`` and has it first in its primary key and
every unique key, so the schema can be distributed by guild on Citus later.
Snowflakes are BIGINT. Invariants the database enforces itself (triggers,
CHECKs) live in the migrations as SQL; they are listed in ``synapse/ledger/README.md``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TRANSACTION_KINDS = ("rule", "admin_award", "season_reset", "clawback", "correction", "transfer", "import")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        int: BigInteger,
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Guild(Base):
    __tablename__ = "guilds"
    guild_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text, server_default="", nullable=False)
    # Bumped on every rule change; workers refresh their rule cache when it moves.
    rules_version: Mapped[int] = mapped_column(server_default="0", nullable=False)
    created_at: Mapped[datetime] = _now()


class EventRow(Base):
    """The Event Lake: append-only, deduplicated on the natural key."""

    __tablename__ = "event_lake"
    guild_id: Mapped[int]
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    source_system: Mapped[str] = mapped_column(Text)
    source_event_id: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None]
    channel_id: Mapped[int | None]
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = _now()
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (
        PrimaryKeyConstraint("guild_id", "id"),
        UniqueConstraint("guild_id", "source_system", "source_event_id", name="uq_event_lake_natural_key"),
        # Per-member counts by type and time (milestones, profile, caps on events).
        Index("ix_event_lake_member_type_time", "guild_id", "user_id", "event_type", "occurred_at"),
        # Time-range scans (backtests, rollups, analytics): BRIN stays tiny at tens of millions of rows.
        Index("ix_event_lake_occurred_brin", "occurred_at", postgresql_using="brin"),
        Index("ix_event_lake_guild_time", "guild_id", "occurred_at"),
    )


class Currency(Base):
    __tablename__ = "currencies"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(Text, server_default="")
    levelled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    curve: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default='{"type": "polynomial", "a": 5, "b": 50, "c": 100}')
    seasonal: Mapped[bool] = mapped_column(Boolean, server_default="false")
    allow_negative: Mapped[bool] = mapped_column(Boolean, server_default="false")
    visible: Mapped[bool] = mapped_column(Boolean, server_default="true")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("key ~ '^[a-z][a-z0-9_]{0,31}$'", name="key_format"),)


class Wallet(Base):
    """A member's balance in one currency. Changed only by the transactions trigger."""

    __tablename__ = "wallets"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    currency_key: Mapped[str] = mapped_column(Text, primary_key=True)
    balance: Mapped[int] = mapped_column(server_default="0")
    allow_negative: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("allow_negative OR balance >= 0", name="no_negative"),
        ForeignKeyConstraint(["guild_id", "currency_key"], ["currencies.guild_id", "currencies.key"],
                             ondelete="RESTRICT"),
        Index("ix_wallets_leaderboard", "guild_id", "currency_key", text("balance DESC"), "user_id"),
    )


class Transaction(Base):
    """Append-only: a trigger rejects UPDATE and DELETE; wallets follow by trigger."""

    __tablename__ = "transactions"
    guild_id: Mapped[int]
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    user_id: Mapped[int]
    currency_key: Mapped[str] = mapped_column(Text)
    amount: Mapped[int]
    balance_after: Mapped[int] = mapped_column(server_default="0")
    kind: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    rule_id: Mapped[int | None]
    rule_version: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[int | None]
    event_type: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None]
    season_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = _now()
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (
        PrimaryKeyConstraint("guild_id", "id"),
        UniqueConstraint("guild_id", "idempotency_key", name="uq_transactions_idempotency_key"),
        CheckConstraint("amount <> 0", name="nonzero_amount"),
        CheckConstraint(f"kind IN {TRANSACTION_KINDS!r}", name="known_kind"),
        ForeignKeyConstraint(["guild_id", "currency_key"], ["currencies.guild_id", "currencies.key"]),
        # Caps per window and recent history per member and currency.
        Index("ix_transactions_member_currency_time", "guild_id", "user_id", "currency_key", "occurred_at"),
        # Cooldowns: last credit of a rule for a member.
        Index("ix_transactions_member_rule_time", "guild_id", "user_id", "rule_id", "occurred_at",
              postgresql_where=text("rule_id IS NOT NULL")),
        Index("ix_transactions_event", "guild_id", "event_id", postgresql_where=text("event_id IS NOT NULL")),
        # Period leaderboards (week / month / season): one currency's window, index-only (0012).
        Index("ix_transactions_period", "guild_id", "currency_key", "occurred_at",
              postgresql_include=["user_id", "amount"],
              postgresql_where=text("kind NOT IN ('season_reset', 'import')")),
    )


class Rule(Base):
    __tablename__ = "rules"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    module: Mapped[str] = mapped_column(Text, server_default="economy")
    priority: Mapped[int] = mapped_column(Integer, server_default="100")
    trigger_event: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (Index("ix_rules_trigger", "guild_id", "trigger_event"),)


class RuleVersion(Base):
    __tablename__ = "rule_versions"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        ForeignKeyConstraint(["guild_id", "rule_id"], ["rules.guild_id", "rules.rule_id"], ondelete="CASCADE"),
    )


class RuleState(Base):
    """Last time a rule fired for a member (cooldowns), kept apart from the ledger for speed."""

    __tablename__ = "rule_state"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    last_fired_at: Mapped[datetime]
    last_event_id: Mapped[int | None]


class Milestone(Base):
    __tablename__ = "milestones"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    emoji: Mapped[str] = mapped_column(Text, server_default="")
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rewards: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    hidden: Mapped[bool] = mapped_column(Boolean, server_default="false")
    announce: Mapped[bool] = mapped_column(Boolean, server_default="true")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (UniqueConstraint("guild_id", "key", name="uq_milestones_key"),)


class UserMilestone(Base):
    __tablename__ = "user_milestones"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    earned_at: Mapped[datetime]
    event_id: Mapped[int | None]
    source: Mapped[str] = mapped_column(Text, server_default="rule")
    granted_by: Mapped[int | None]
    __table_args__ = (
        ForeignKeyConstraint(["guild_id", "milestone_id"], ["milestones.guild_id", "milestones.milestone_id"],
                             ondelete="CASCADE"),
        Index("ix_user_milestones_milestone", "guild_id", "milestone_id", "earned_at"),
    )


class Region(Base):
    __tablename__ = "regions"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    channel_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")


class TaxonomyTag(Base):
    """Tags on channels (e.g. 'help', 'showcase'), used by rule conditions and analytics."""

    __tablename__ = "taxonomy"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    channel_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")


class Module(Base):
    __tablename__ = "modules"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = _now()


class Setting(Base):
    __tablename__ = "settings"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _now()


class Season(Base):
    __tablename__ = "seasons"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    season_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    scheduled_end_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(Text, server_default="active")
    __table_args__ = (
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        Index("uq_seasons_one_active", "guild_id", unique=True, postgresql_where=text("status = 'active'")),
    )


class SeasonSnapshot(Base):
    __tablename__ = "season_snapshots"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    season_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency_key: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int]
    rank: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        ForeignKeyConstraint(["guild_id", "season_id"], ["seasons.guild_id", "seasons.season_id"]),
        Index("ix_season_snapshots_rank", "guild_id", "season_id", "currency_key", "rank"),
    )


class AdminLog(Base):
    __tablename__ = "admin_log"
    guild_id: Mapped[int]
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    actor_id: Mapped[int | None]
    actor_kind: Mapped[str] = mapped_column(Text, server_default="user")
    action: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text, server_default="")
    before: Mapped[Any | None] = mapped_column(JSONB)
    after: Mapped[Any | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        PrimaryKeyConstraint("guild_id", "id"),
        Index("ix_admin_log_time", "guild_id", "created_at"),
        Index("ix_admin_log_entity", "guild_id", "entity_type", "entity_id"),
        Index("ix_admin_log_actor", "guild_id", "actor_id", "created_at"),
    )


class VoiceSession(Base):
    __tablename__ = "voice_sessions"
    guild_id: Mapped[int]
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    user_id: Mapped[int]
    channel_id: Mapped[int]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    last_tick_at: Mapped[datetime | None]
    self_mute: Mapped[bool] = mapped_column(Boolean, server_default="false")
    self_deaf: Mapped[bool] = mapped_column(Boolean, server_default="false")
    start_event_id: Mapped[int | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        PrimaryKeyConstraint("guild_id", "id"),
        Index("uq_voice_sessions_open", "guild_id", "user_id", unique=True,
              postgresql_where=text("ended_at IS NULL")),
        Index("ix_voice_sessions_open_channel", "guild_id", "channel_id",
              postgresql_where=text("ended_at IS NULL")),
        Index("ix_voice_sessions_channel_end", "guild_id", "channel_id", "ended_at"),
    )


class Outbox(Base):
    """Side effects on Discord (and webhooks) written in the ingest transaction, sent after commit."""

    __tablename__ = "outbox"
    guild_id: Mapped[int]
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    kind: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None]
    __table_args__ = (
        PrimaryKeyConstraint("guild_id", "id"),
        UniqueConstraint("guild_id", "dedupe_key", name="uq_outbox_dedupe_key"),
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'held')", name="status"),
        Index("ix_outbox_pending", "status", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


class MemberCache(Base):
    """Display data and the few facts rules need; refreshed from events and Discord, never the source of truth."""

    __tablename__ = "member_cache"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    avatar: Mapped[str | None] = mapped_column(Text)
    is_bot: Mapped[bool] = mapped_column(Boolean, server_default="false")
    roles: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    account_created_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    public_opt_out: Mapped[bool] = mapped_column(Boolean, server_default="false")
    first_seen_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime] = _now()


class MemberRoleHistory(Base):
    """The roles a member held from ``since`` on (a row per change the gateway reported; migration 0018): the
    roles in force at a time are those of the latest row at or before it (backtests, voice ticks)."""

    __tablename__ = "member_role_history"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    since: Mapped[datetime] = mapped_column(primary_key=True)
    roles: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))


class ActivityHourly(Base):
    """Rollup: events per guild, hour, type and channel (maintained incrementally by a timer)."""

    __tablename__ = "activity_hourly"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    channel_id: Mapped[int] = mapped_column(primary_key=True)  # 0 when the event has no channel
    events: Mapped[int] = mapped_column(server_default="0")
    voice_seconds: Mapped[int] = mapped_column(server_default="0")


class MemberDaily(Base):
    """Rollup: per member and day, for active-member counts, heatmaps and cohorts."""

    __tablename__ = "member_daily"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=False), primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, server_default="0")
    reactions: Mapped[int] = mapped_column(Integer, server_default="0")
    voice_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    events: Mapped[int] = mapped_column(Integer, server_default="0")
    __table_args__ = (Index("ix_member_daily_user", "guild_id", "user_id", "day"),)


class MemberEventTotal(Base):
    """Each member's lifetime count per event type (``field`` ''), and per numeric payload field of the voice
    events how many held a number and their sum: the fact loader's lifetime facts, one key probe each. Kept
    by triggers on ``event_lake`` in the writer's transaction (migration 0017), never written by code."""

    __tablename__ = "member_event_totals"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    field: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    events: Mapped[int] = mapped_column()
    total: Mapped[Decimal] = mapped_column(Numeric, server_default="0")


class RollupState(Base):
    """Watermark of each incremental rollup (the last event id folded in)."""

    __tablename__ = "rollup_state"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime] = _now()


class ApiToken(Base):
    """Read-only integration tokens; only a hash is stored."""

    __tablename__ = "api_tokens"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("guild_id", "token_hash", name="uq_api_tokens_hash"),)


class Webhook(Base):
    __tablename__ = "webhooks"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()


class ImportBatch(Base):
    """One imported leaderboard file; the file hash makes re-importing it a no-op."""

    __tablename__ = "import_batches"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(Integer, Identity(always=False), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(Text)
    currency_key: Mapped[str] = mapped_column(Text)
    members: Mapped[int] = mapped_column(Integer)
    total: Mapped[int]
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = _now()
    __table_args__ = (UniqueConstraint("guild_id", "file_sha256", "currency_key", name="uq_import_batches_file"),)


class GuildDirectoryEntry(Base):
    """A cached channel or role of a guild (names for ids); vanished ones keep their row with deleted_at."""

    __tablename__ = "guild_directory"
    guild_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text, server_default="")
    type: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    parent_id: Mapped[int | None]
    managed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    color: Mapped[int] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("kind IN ('channel', 'role')", name="kind"),)


class GuildDirectoryState(Base):
    """Per guild: the AFK channel, the bot's own roles, when the directory was last fetched."""

    __tablename__ = "guild_directory_state"
    guild_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    afk_channel_id: Mapped[int | None]
    bot_role_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    refreshed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = _now()


__all__ = [name for name in dir() if name[0].isupper()]
