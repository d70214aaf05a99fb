"""PostgreSQL adapter of the rules engine's ports: ``Facts`` (reads) and the runner's ``Store`` (writes).

One ``DbStore`` serves one guild inside the caller's transaction. Reads see the
transaction's own writes, so the second event of a batch sees what the first earned.
Small, static-ish facts (regions, tags, the active season, member rows) are read once
per store and kept for its lifetime (one ingest message).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from synapse.db import lake_store, ledger_store
from synapse.eventlake.events import Event
from synapse.ledger.model import Posted, Posting
from synapse.milestones.criteria import MilestoneRecord
from synapse.rules.facts import NO_CHANNEL, Channel, Member, PriorCredit

_FIRED = text("""
SELECT EXISTS (SELECT 1 FROM transactions
                WHERE guild_id = :g AND user_id = :u AND rule_id = :r AND occurred_at > :s AND occurred_at < :e)
    OR EXISTS (SELECT 1 FROM rule_state
                WHERE guild_id = :g AND rule_id = :r AND user_id = :u AND last_fired_at > :s AND last_fired_at < :e)
""")
_CAP = text("""
SELECT COALESCE(SUM(amount), 0) FROM transactions
 WHERE guild_id = :g AND user_id = :u AND currency_key = :c AND kind = 'rule' AND amount > 0
   AND occurred_at >= :s AND (CAST(:e AS timestamptz) IS NULL OR occurred_at < :e)
""")
_FIRE = text("""
INSERT INTO rule_state (guild_id, rule_id, user_id, last_fired_at, last_event_id)
VALUES (:g, :r, :u, :t, :ev)
ON CONFLICT (guild_id, rule_id, user_id) DO UPDATE
   SET last_fired_at = GREATEST(rule_state.last_fired_at, EXCLUDED.last_fired_at),
       last_event_id = CASE WHEN EXCLUDED.last_fired_at >= rule_state.last_fired_at
                            THEN EXCLUDED.last_event_id ELSE rule_state.last_event_id END
""")
_OUTBOX = text("""
INSERT INTO outbox (guild_id, kind, dedupe_key, payload) VALUES (:g, :k, :d, CAST(:p AS jsonb))
ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id
""")


class DbStore:
    """Facts and writes of one guild over one open connection (never commits)."""

    def __init__(self, conn: Connection, guild_id: int) -> None:
        self.conn = conn
        self.guild_id = guild_id
        self.outbox_ids: list[int] = []
        self._members: dict[int, Member | None] = {}
        self._channels: dict[int, Channel] | None = None
        self._season: tuple[datetime | None] | None = None

    def _scalar(self, sql: Any, **params: Any) -> Any:
        return self.conn.execute(sql, {"g": self.guild_id, **params}).scalar_one()

    # ------------------------------------------------------------ Store writes

    def observe(self, event: Event) -> None:
        return None  # the lake already holds it: counts read it there

    def post(self, postings: Sequence[Posting]) -> list[Posted]:
        return ledger_store.post(self.conn, postings)

    def record_fires(self, fires: Sequence[tuple[int, int]], at: datetime, event_id: int | None) -> None:
        for rule_id, user_id in fires:
            self.conn.execute(_FIRE, {"g": self.guild_id, "r": rule_id, "u": user_id, "t": at, "ev": event_id})

    def grant(self, milestone: MilestoneRecord, user_id: int, at: datetime, event_id: int | None) -> bool:
        return bool(self.conn.execute(text("""
            INSERT INTO user_milestones (guild_id, user_id, milestone_id, earned_at, event_id, source)
            VALUES (:g, :u, :m, :t, :ev, 'rule') ON CONFLICT DO NOTHING"""),
            {"g": self.guild_id, "u": user_id, "m": milestone.milestone_id, "t": at, "ev": event_id}).rowcount)

    def append_derived(self, events: Sequence[Event]) -> list[Event]:
        return lake_store.insert_derived(self.conn, events)

    def emit(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        row = self.conn.execute(_OUTBOX, {"g": self.guild_id, "k": kind, "d": dedupe_key,
                                          "p": json.dumps(payload)}).first()
        if row is not None:
            self.outbox_ids.append(int(row.id))

    # ------------------------------------------------------------ Facts

    def fired_between(self, rule_id: int, user_id: int, start: datetime, end: datetime) -> bool:
        return bool(self._scalar(_FIRED, u=user_id, r=rule_id, s=start, e=end))

    def cap_used(self, user_id: int, currency: str, start: datetime, end: datetime | None) -> int:
        return int(self._scalar(_CAP, u=user_id, c=currency, s=start, e=end))

    def season_start(self) -> datetime | None:
        if self._season is None:
            row = self.conn.execute(text(
                "SELECT started_at FROM seasons WHERE guild_id = :g AND status = 'active'"),
                {"g": self.guild_id}).first()
            self._season = (None if row is None else row.started_at,)
        return self._season[0]

    def member(self, user_id: int) -> Member | None:
        if user_id not in self._members:
            row = self.conn.execute(text("""
                SELECT roles, joined_at, account_created_at, is_bot FROM member_cache
                 WHERE guild_id = :g AND user_id = :u"""), {"g": self.guild_id, "u": user_id}).first()
            self._members[user_id] = None if row is None else Member(
                roles=frozenset(row.roles or ()), joined_at=row.joined_at,
                account_created_at=row.account_created_at, is_bot=row.is_bot)
        return self._members[user_id]

    def channel(self, channel_id: int) -> Channel:
        if self._channels is None:
            regions: dict[int, set[str]] = {}
            tags: dict[int, set[str]] = {}
            for table, into in (("regions", regions), ("taxonomy", tags)):
                for row in self.conn.execute(text(f"SELECT key, channel_ids FROM {table} WHERE guild_id = :g"),
                                             {"g": self.guild_id}):
                    for ch in row.channel_ids or ():
                        into.setdefault(int(ch), set()).add(row.key)
            self._channels = {ch: Channel(frozenset(regions.get(ch, ())), frozenset(tags.get(ch, ())))
                              for ch in regions.keys() | tags.keys()}
        return self._channels.get(channel_id, NO_CHANNEL)

    def event_count(self, user_id: int, event_type: str, since: datetime | None) -> int:
        return int(self._scalar(text("""
            SELECT count(*) FROM event_lake WHERE guild_id = :g AND user_id = :u AND event_type = :t
               AND (CAST(:s AS timestamptz) IS NULL OR occurred_at >= :s)"""), u=user_id, t=event_type, s=since))

    def event_sum(self, user_id: int, event_type: str, field: str, since: datetime | None) -> int:
        default = 1 if field == "minutes" else 0
        return int(self._scalar(text("""
            SELECT COALESCE(SUM(CASE WHEN jsonb_typeof(payload -> :f) = 'number'
                                     THEN (payload ->> :f)::numeric ELSE :d END), 0)::bigint
              FROM event_lake WHERE guild_id = :g AND user_id = :u AND event_type = :t
               AND (CAST(:s AS timestamptz) IS NULL OR occurred_at >= :s)"""),
            u=user_id, t=event_type, f=field, d=default, s=since))

    def active_days(self, user_id: int, since: date, until: date) -> frozenset[date]:
        rows = self.conn.execute(text("""
            SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM event_lake
             WHERE guild_id = :g AND user_id = :u AND occurred_at >= :s AND occurred_at < :e"""),
            {"g": self.guild_id, "u": user_id,
             "s": datetime(since.year, since.month, since.day, tzinfo=UTC),
             "e": datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)})
        return frozenset(r.day for r in rows)

    def any_posted(self, keys: Sequence[str]) -> bool:
        return bool(self._scalar(text("""
            SELECT EXISTS (SELECT 1 FROM transactions WHERE guild_id = :g AND idempotency_key = ANY(:k))"""),
            k=list(keys)))

    def fingerprint_repeats(self, user_id: int, fingerprint: str, start: datetime, end: datetime,
                            exclude: str) -> int:
        return int(self._scalar(text("""
            SELECT count(*) FROM event_lake
             WHERE guild_id = :g AND user_id = :u AND event_type = 'message_create'
               AND occurred_at >= :s AND occurred_at <= :e AND payload ->> 'fingerprint' = :f
               AND source_event_id <> :x"""), u=user_id, s=start, e=end, f=fingerprint, x=exclude))

    def balance(self, user_id: int, currency: str) -> int:
        row = self.conn.execute(text("""
            SELECT balance FROM wallets WHERE guild_id = :g AND user_id = :u AND currency_key = :c"""),
            {"g": self.guild_id, "u": user_id, "c": currency}).first()
        return 0 if row is None else int(row.balance)

    def prior_credits(self, source_system: str, source_event_id: str) -> Sequence[PriorCredit]:
        rows = self.conn.execute(text("""
            SELECT t.user_id, t.currency_key, t.amount, t.idempotency_key, t.occurred_at
              FROM event_lake e JOIN transactions t ON t.guild_id = e.guild_id AND t.event_id = e.id
             WHERE e.guild_id = :g AND e.source_system = :ss AND e.source_event_id = :se
               AND t.kind = 'rule' AND t.amount > 0 AND t.rule_id IS NOT NULL
             ORDER BY t.id"""), {"g": self.guild_id, "ss": source_system, "se": source_event_id})
        return [PriorCredit(r.user_id, r.currency_key, r.amount, r.idempotency_key, r.occurred_at) for r in rows]

    def earned_milestones(self, user_id: int) -> AbstractSet[str]:
        rows = self.conn.execute(text("""
            SELECT m.key FROM user_milestones um
              JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
             WHERE um.guild_id = :g AND um.user_id = :u"""), {"g": self.guild_id, "u": user_id})
        return frozenset(r.key for r in rows)
