"""PostgreSQL adapter of the rules engine's ports: ``Facts`` (reads) and the runner's ``Store`` (writes).

One ``DbStore`` serves one guild inside the caller's transaction. Reads see the
transaction's own writes, so the second event of a batch sees what the first earned.
Small, static-ish facts (regions, tags, the active season, member rows) are read once
per store and kept for its lifetime (one ingest message).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from synapse.db import lake_store, ledger_store
from synapse.eventlake.events import SYNAPSE, Event
from synapse.ledger.model import Currency, Kind, Posted, Posting
from synapse.milestones import model as mm
from synapse.milestones.criteria import CompiledMilestone, MilestoneRecord, walk_criteria
from synapse.rules import model as rm
from synapse.rules.compile import RuleSet, clawback_original, walk_conditions, window_bounds
from synapse.rules.defaults import AFK_TAG
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


def _sum_default(field: str) -> int:
    """What an event without a number in ``field`` adds to its sum (a voice tick without minutes is one)."""
    return 1 if field == "minutes" else 0


def load_channels(conn: Connection, guild_id: int) -> dict[int, Channel]:
    """The regions and tags of every channel that has some (a channel not listed has none)."""
    regions: dict[int, set[str]] = {}
    tags: dict[int, set[str]] = {}
    for table, into in (("regions", regions), ("taxonomy", tags)):
        for row in conn.execute(text(f"SELECT key, channel_ids FROM {table} WHERE guild_id = :g"), {"g": guild_id}):
            for ch in row.channel_ids or ():
                into.setdefault(int(ch), set()).add(row.key)
    # The guild's AFK channel carries the built-in tag "afk" (the default voice XP rule excludes it).
    afk = conn.execute(text("SELECT afk_channel_id FROM guild_directory_state WHERE guild_id = :g"),
                       {"g": guild_id}).scalar_one_or_none()
    if afk is not None:
        tags.setdefault(int(afk), set()).add(AFK_TAG)
    return {ch: Channel(frozenset(regions.get(ch, ())), frozenset(tags.get(ch, ())))
            for ch in regions.keys() | tags.keys()}


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
            self._channels = load_channels(self.conn, self.guild_id)
        return self._channels.get(channel_id, NO_CHANNEL)

    def event_count(self, user_id: int, event_type: str, since: datetime | None) -> int:
        return int(self._scalar(text("""
            SELECT count(*) FROM event_lake WHERE guild_id = :g AND user_id = :u AND event_type = :t
               AND (CAST(:s AS timestamptz) IS NULL OR occurred_at >= :s)"""), u=user_id, t=event_type, s=since))

    def event_sum(self, user_id: int, event_type: str, field: str, since: datetime | None) -> int:
        return int(self._scalar(text("""
            SELECT COALESCE(SUM(CASE WHEN jsonb_typeof(payload -> :f) = 'number'
                                     THEN (payload ->> :f)::numeric ELSE :d END), 0)::bigint
              FROM event_lake WHERE guild_id = :g AND user_id = :u AND event_type = :t
               AND (CAST(:s AS timestamptz) IS NULL OR occurred_at >= :s)"""),
            u=user_id, t=event_type, f=field, d=_sum_default(field), s=since))

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


# ---------------------------------------------------------------------------------------------------------
# The batch store: prefetch, evaluate in memory, write in bulk (live ingest's hot path)

_INSERT_WITH_IDS = text("""
INSERT INTO transactions (id, balance_after, guild_id, user_id, currency_key, amount, kind, idempotency_key, reason,
                          rule_id, rule_version, event_id, event_type, actor_id, season_id, occurred_at, meta)
SELECT * FROM unnest(
    CAST(:id AS bigint[]), CAST(:balance_after AS bigint[]),
    CAST(:guild_id AS bigint[]), CAST(:user_id AS bigint[]), CAST(:currency AS text[]),
    CAST(:amount AS bigint[]), CAST(:kind AS text[]), CAST(:key AS text[]), CAST(:reason AS text[]),
    CAST(:rule_id AS bigint[]), CAST(:rule_version AS int[]), CAST(:event_id AS bigint[]),
    CAST(:event_type AS text[]), CAST(:actor_id AS bigint[]), CAST(:season_id AS int[]),
    CAST(:occurred_at AS timestamptz[]), CAST(:meta AS jsonb[]))
RETURNING id, balance_after
""")
_BATCH_POSTING_ON = text("SELECT set_config('synapse.batch_posting', 'on', true)")
_BATCH_POSTING_OFF = text("SELECT set_config('synapse.batch_posting', 'off', true)")
_RESERVE_IDS = text("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) AS id "
                    "FROM generate_series(1, :n) ORDER BY 1")
_RESERVE_EVENT_IDS = text("SELECT nextval(pg_get_serial_sequence('event_lake', 'id')) AS id "
                          "FROM generate_series(1, :n) ORDER BY 1")
_APPEND_WITH_IDS = text("""
INSERT INTO event_lake (id, guild_id, source_system, source_event_id, event_type, user_id, channel_id,
                        occurred_at, payload)
SELECT * FROM unnest(
    CAST(:id AS bigint[]),
    CAST(:guild_id AS bigint[]), CAST(:source_system AS text[]), CAST(:source_event_id AS text[]),
    CAST(:event_type AS text[]), CAST(:user_id AS bigint[]), CAST(:channel_id AS bigint[]),
    CAST(:occurred_at AS timestamptz[]), CAST(:payload AS jsonb[]))
ON CONFLICT (guild_id, source_system, source_event_id) DO NOTHING
RETURNING id
""")
_GRANTS_BULK = text("""
INSERT INTO user_milestones (guild_id, user_id, milestone_id, earned_at, event_id, source)
SELECT :g, u, m, t, ev, 'rule'
  FROM unnest(CAST(:u AS bigint[]), CAST(:m AS bigint[]), CAST(:t AS timestamptz[]), CAST(:ev AS bigint[]))
       AS x(u, m, t, ev)
ON CONFLICT DO NOTHING RETURNING milestone_id
""")
_FIRES_BULK = text("""
INSERT INTO rule_state (guild_id, rule_id, user_id, last_fired_at, last_event_id)
SELECT :g, r, u, t, ev
  FROM unnest(CAST(:r AS bigint[]), CAST(:u AS bigint[]), CAST(:t AS timestamptz[]), CAST(:ev AS bigint[]))
       AS x(r, u, t, ev)
ON CONFLICT (guild_id, rule_id, user_id) DO UPDATE
   SET last_fired_at = GREATEST(rule_state.last_fired_at, EXCLUDED.last_fired_at),
       last_event_id = CASE WHEN EXCLUDED.last_fired_at >= rule_state.last_fired_at
                            THEN EXCLUDED.last_event_id ELSE rule_state.last_event_id END
""")
_OUTBOX_BULK = text("""
INSERT INTO outbox (guild_id, kind, dedupe_key, payload)
SELECT :g, k, d, CAST(p AS jsonb)
  FROM unnest(CAST(:k AS text[]), CAST(:d AS text[]), CAST(:p AS text[])) WITH ORDINALITY AS x(k, d, p, n)
 ORDER BY n
ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id
""")


# Everything a batch's rules and milestones can ask about its members, in one round trip: one JSON
# array per kind of fact. Each part reads member by member (``unnest`` of the keys, an index probe each,
# behind OFFSET 0 or in a scalar subquery so the planner cannot turn it into a scan of the whole guild):
# plans that hold whatever the statistics say, for a new guild in a big database or a fresh one nobody
# analysed yet. The same statement reserves the batch's ids and switches batch posting on (0007).
_PREFETCH = text("""
SELECT
  -- [[member, currency, balance]]
  (SELECT json_agg(json_build_array(w.user_id, w.currency_key, w.balance)) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT user_id, currency_key, balance FROM wallets
                          WHERE guild_id = :g AND user_id = x.u OFFSET 0) w) AS wallets,
  -- [[member, milestone key]]
  (SELECT json_agg(json_build_array(um.user_id, m.key)) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT user_id, milestone_id FROM user_milestones
                          WHERE guild_id = :g AND user_id = x.u OFFSET 0) um
     JOIN milestones m ON m.guild_id = :g AND m.milestone_id = um.milestone_id) AS earned,
  -- [source_event_id] of the members' milestone_earned events in the lake
  (SELECT json_agg(e.source_event_id) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT source_event_id FROM event_lake
                          WHERE guild_id = :g AND user_id = x.u AND event_type = 'milestone_earned'
                            AND source_system = 'synapse' OFFSET 0) e) AS earned_in_lake,
  -- [[member, roles, joined_at, account_created_at, is_bot]]
  (SELECT json_agg(json_build_array(m.user_id, m.roles, m.joined_at, m.account_created_at, m.is_bot))
     FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT * FROM member_cache WHERE guild_id = :g AND user_id = x.u OFFSET 0) m) AS members,
  -- [[member, event type, lifetime count]] for each member and event type unless the member earned every
  -- milestone that reads the count (their ids, comma separated)
  (SELECT json_agg(json_build_array(x.u, x.t,
                   (SELECT count(*) FROM event_lake WHERE guild_id = :g AND user_id = x.u AND event_type = x.t)))
     FROM unnest(CAST(:u AS bigint[])) AS members(u)
     CROSS JOIN LATERAL (SELECT members.u, t, m FROM unnest(CAST(:count_t AS text[]), CAST(:count_m AS text[]))
                                                   AS c(t, m)) AS x
    WHERE EXISTS (SELECT 1 FROM unnest(CAST(string_to_array(x.m, ',') AS bigint[])) AS ms(id)
                   WHERE NOT EXISTS (SELECT 1 FROM user_milestones
                                      WHERE guild_id = :g AND user_id = x.u AND milestone_id = ms.id))) AS counts,
  -- [[member, event type, field, lifetime sum]] likewise (a non-number field counts as the default)
  (SELECT json_agg(json_build_array(x.u, x.t, x.f,
                   (SELECT COALESCE(SUM(CASE WHEN jsonb_typeof(payload -> x.f) = 'number'
                                             THEN (payload ->> x.f)::numeric ELSE x.d END), 0)::bigint
                      FROM event_lake WHERE guild_id = :g AND user_id = x.u AND event_type = x.t)))
     FROM unnest(CAST(:u AS bigint[])) AS members(u)
     CROSS JOIN LATERAL (SELECT members.u, t, f, d, m
                           FROM unnest(CAST(:sum_t AS text[]), CAST(:sum_f AS text[]), CAST(:sum_d AS int[]),
                                       CAST(:sum_m AS text[])) AS c(t, f, d, m)) AS x
    WHERE EXISTS (SELECT 1 FROM unnest(CAST(string_to_array(x.m, ',') AS bigint[])) AS ms(id)
                   WHERE NOT EXISTS (SELECT 1 FROM user_milestones
                                      WHERE guild_id = :g AND user_id = x.u AND milestone_id = ms.id))) AS sums,
  -- [[rule, member, fired at]] within the cooldown span around the batch (ledger rows and rule_state)
  (SELECT json_agg(json_build_array(x.r, x.u, f.at))
     FROM (SELECT u, r FROM unnest(CAST(:u AS bigint[])) AS members(u), unnest(CAST(:fire_r AS bigint[])) AS r(r)) x
     CROSS JOIN LATERAL (SELECT * FROM (
         SELECT occurred_at AS at FROM transactions
          WHERE guild_id = :g AND user_id = x.u AND rule_id = x.r AND occurred_at > :fire_s AND occurred_at < :fire_e
         UNION ALL
         SELECT last_fired_at FROM rule_state
          WHERE guild_id = :g AND rule_id = x.r AND user_id = x.u
            AND last_fired_at > :fire_s AND last_fired_at < :fire_e) AS fired OFFSET 0) f) AS fires,
  -- [[member, position in the cap_* arrays, the member's rule credits of that currency in that window]]
  (SELECT json_agg(json_build_array(x.u, x.n, (
            SELECT COALESCE(SUM(amount), 0) FROM transactions
             WHERE guild_id = :g AND user_id = x.u AND currency_key = x.c AND kind = 'rule' AND amount > 0
               AND occurred_at >= x.s AND (x.e IS NULL OR occurred_at < x.e))))
     FROM (SELECT members.u, w.* FROM unnest(CAST(:u AS bigint[])) AS members(u),
                  unnest(CAST(:cap_c AS text[]), CAST(:cap_s AS timestamptz[]), CAST(:cap_e AS timestamptz[]))
                    WITH ORDINALITY AS w(c, s, e, n)) x) AS caps,
  -- [idempotency key] of the given keys already in the ledger
  (SELECT json_agg(x.k) FROM unnest(CAST(:keys AS text[])) AS x(k)
    WHERE (SELECT true FROM transactions WHERE guild_id = :g AND idempotency_key = x.k)) AS keys,
  -- [[source, source id, member, currency, amount, key, occurred_at, clawed back already]] in ledger order:
  -- the rule credits the original events of the batch's clawbacks caused
  (SELECT json_agg(json_build_array(x.ss, x.se, t.user_id, t.currency_key, t.amount, t.idempotency_key,
                                    t.occurred_at, (SELECT true FROM transactions
                                                     WHERE guild_id = :g
                                                       AND idempotency_key = 'clawback:' || t.idempotency_key))
                   ORDER BY t.id)
     FROM unnest(CAST(:prior_ss AS text[]), CAST(:prior_se AS text[])) AS x(ss, se)
     CROSS JOIN LATERAL (SELECT id FROM event_lake
                          WHERE guild_id = :g AND source_system = x.ss AND source_event_id = x.se OFFSET 0) e
     CROSS JOIN LATERAL (SELECT * FROM transactions
                          WHERE guild_id = :g AND event_id = e.id AND kind = 'rule' AND amount > 0
                            AND rule_id IS NOT NULL OFFSET 0) t) AS priors,
  (SELECT array_agg(id ORDER BY id) FROM (SELECT nextval(pg_get_serial_sequence('transactions', 'id')) AS id
                                             FROM generate_series(1, :n_tx)) AS ids) AS tx_ids,
  (SELECT array_agg(id ORDER BY id) FROM (SELECT nextval(pg_get_serial_sequence('event_lake', 'id')) AS id
                                             FROM generate_series(1, :n_events)) AS ids) AS event_ids,
  set_config('synapse.batch_posting', 'on', true) AS batch_posting
""")


def _ts(value: str | None) -> datetime | None:
    """A timestamp PostgreSQL wrote into JSON (ISO 8601 with its offset)."""
    return None if value is None else datetime.fromisoformat(value)


class Mispredicted(Exception):
    """The batch's in-memory ledger disagreed with the database (a writer that does not lock members,
    a key already posted, a constraint): the runner rolls the batch back and processes it statement
    by statement instead (``DbStore``)."""


class BatchStore(DbStore):
    """``DbStore`` for one batch of events whose members the caller has locked until commit.

    ``prefetch`` reads, in one statement (``_PREFETCH``), everything the rules and milestone
    criteria can ask about the batch's members (wallets, earned milestones, member rows, lifetime
    event counts and sums for members who can still earn a milestone, cooldown fires, cap usage per
    calendar window the batch's events fall in, once-per-reactor keys, rule credits a clawback may
    take back), and reserves blocks of transaction and lake ids (unused ids leave gaps: ids are
    unique and increasing, not dense). Evaluation then runs in memory, the state updated as
    decisions are made (as ``MemoryState`` does for backtests); postings whose idempotency key is
    known to be new get their transaction id from the reserved block and their ``balance_after``
    from the prefetched wallet, and are written with cooldown fires and outbox rows in bulk by
    ``finish``. Because the members are locked, state read after the locks is authoritative;
    ``finish`` still checks every predicted ``balance_after`` against the database and raises
    :class:`Mispredicted` on any difference.
    Questions outside what was prefetched fall back to ``DbStore``'s queries (after writing what
    is pending, when the query reads the ledger).
    """

    def __init__(self, conn: Connection, guild_id: int, *, currencies: Mapping[str, Currency]) -> None:
        super().__init__(conn, guild_id)
        self._currencies = currencies
        self._users: frozenset[int] = frozenset()
        self._balances: dict[tuple[int, str], int] = {}
        self._earned: dict[int, set[str]] = {}
        # Lifetime counts and sums prefetched (for members who can still earn a milestone reading them);
        # a count follows the derived events this store appends; a sum goes stale once one of its type is appended.
        self._counts: dict[tuple[int, str], int] = {}
        self._sums: dict[tuple[int, str, str], int] = {}
        self._sum_stale: set[tuple[int, str]] = set()
        self._fire_rules: frozenset[int] = frozenset()
        self._fire_span: tuple[datetime, datetime] | None = None
        self._fires: dict[tuple[int, int], list[datetime]] = {}
        self._capped: frozenset[str] = frozenset()
        # Cap usage per (member, currency, window start, window end) before the batch, and the batch's own credits.
        self._cap_sums: dict[tuple[int, str, datetime, datetime | None], int] = {}
        self._credits: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
        self._keys_checked: set[str] = set()     # keys known to be absent from the ledger (or listed below)
        self._keys_in_db: set[str] = set()
        self._posted_keys: set[str] = set()      # keys this store posted (pending or written)
        self._fresh_events: set[int] = set()     # events inserted by this transaction: their rule keys are new
        self._ids: list[int] = []                # reserved transaction ids, in reverse order (pop)
        self._reserve = 64
        self._pending: list[tuple[Posting, int, int]] = []   # (posting, id, predicted balance_after)
        self._fire_rows: dict[tuple[int, int], tuple[datetime, int | None]] = {}
        self._outbox_rows: dict[str, tuple[str, str]] = {}
        self._tx_ids: set[int] = set()           # transactions this store wrote or will write
        self._pending_events: list[Event] = []   # derived events with a reserved id, not written yet
        self._derived_keys: set[str] = set()     # derived events this store wrote (or will)
        self._earned_in_lake: set[str] = set()   # milestone_earned events of the members already in the lake
        self._pending_grants: list[tuple[int, int, datetime, int | None]] = []
        self._event_keys: dict[int, tuple[str, str]] = {}    # the batch's events: id -> (source, source id)
        self._priors: dict[tuple[str, str], list[PriorCredit]] = {}   # prefetched (and since posted) credits
        self._event_ids: list[int] = []          # reserved lake ids for derived events, in reverse order (pop)
        self._cap_windows: list[tuple[str, datetime, datetime | None]] = []   # (currency, start, end) prefetched

    # ------------------------------------------------------------ prefetch

    def prefetch(self, events: Sequence[Event], users: Iterable[int], rules: RuleSet,
                 milestones: Sequence[CompiledMilestone]) -> None:
        """Read what the batch's rules can ask about ``users`` (call after the member locks are taken).

        One statement (``_PREFETCH``); it also reserves the batch's ids and switches batch posting on
        (the savepoint the batch runs in undoes the setting with everything else; ``_post_now`` and
        ``finish`` switch it off).
        """
        uids = sorted(set(users))
        self._users = frozenset(uids)
        self._fresh_events = {e.id for e in events if e.id is not None}
        self._event_keys = {e.id: (e.source_system, e.source_event_id) for e in events if e.id is not None}
        self._reserve = max(64, len(events) + 16)
        params: dict[str, Any] = {"g": self.guild_id, "u": uids, "n_tx": self._reserve,
                                  "n_events": max(16, len(events) // 4)}
        params.update(self._criteria_params(uids, milestones))
        params.update(self._rule_params(events, uids, rules, milestones))
        row = self.conn.execute(_PREFETCH, params).one()
        self._load(row, uids)

    def _criteria_params(self, uids: list[int], milestones: Sequence[CompiledMilestone]) -> dict[str, Any]:
        """Lifetime event counts and sums the milestones read, for the members who can still earn one.

        A member who has earned every milestone that reads a count is never asked for it again
        (``due`` skips earned milestones), so the database counts nothing for long-time members.
        """
        counts: dict[str, set[int]] = {}              # event type -> ids of the milestones reading its count
        sums: dict[tuple[str, str], set[int]] = {}    # (event type, field) -> milestone ids
        for ms in milestones:
            for c in walk_criteria(ms.record.spec.criteria):
                if isinstance(c, mm.EventCountCrit) and c.within_days is None:
                    counts.setdefault(c.event, set()).add(ms.record.milestone_id)
                elif isinstance(c, mm.EventSumCrit) and c.within_days is None:
                    sums.setdefault((c.event, c.field), set()).add(ms.record.milestone_id)
        count_rows = [(t, ",".join(map(str, sorted(ids)))) for t, ids in sorted(counts.items())]
        sum_rows = [(t, f, _sum_default(f), ",".join(map(str, sorted(ids))))
                    for (t, f), ids in sorted(sums.items())]
        return {"count_t": [r[0] for r in count_rows], "count_m": [r[1] for r in count_rows],
                "sum_t": [r[0] for r in sum_rows], "sum_f": [r[1] for r in sum_rows],
                "sum_d": [r[2] for r in sum_rows], "sum_m": [r[3] for r in sum_rows]}

    def _rule_params(self, events: Sequence[Event], uids: list[int], rules: RuleSet,
                     milestones: Sequence[CompiledMilestone]) -> dict[str, Any]:
        """Cooldown fires, cap usage, keys that may be posted already, and what clawbacks may take back."""
        active = {c.rule_id for compiled in rules.by_event.values() for c in compiled}
        cooldown_rules: set[int] = set()
        longest = 0
        caps: list[rm.CapCond] = []
        once: dict[str, list[tuple[int, int]]] = {}   # trigger event -> (rule id, number of effects)
        clawback_triggers: set[str] = set()
        for record in rules.records:
            if record.rule_id not in active:
                continue
            for c in walk_conditions(record.spec.conditions):
                if isinstance(c, rm.CooldownCond):
                    cooldown_rules.add(record.rule_id)
                    longest = max(longest, c.seconds)
                elif isinstance(c, rm.CapCond):
                    caps.append(c)
                elif isinstance(c, rm.OncePerReactorCond):
                    once.setdefault(record.spec.trigger.event, []).append(
                        (record.rule_id, len(record.spec.effects)))
            if any(isinstance(e, rm.ClawbackEffect) for e in record.spec.effects):
                clawback_triggers.add(record.spec.trigger.event)
        params: dict[str, Any] = {"fire_r": [], "fire_s": None, "fire_e": None,
                                  "cap_c": [], "cap_s": [], "cap_e": [], "prior_ss": [], "prior_se": []}
        if not events:
            params["keys"] = []
            return params
        first = min(e.occurred_at for e in events)
        last = max(e.occurred_at for e in events)
        if cooldown_rules:
            span = timedelta(seconds=longest)
            self._fire_rules, self._fire_span = frozenset(cooldown_rules), (first - span, last + span)
            params.update(fire_r=sorted(cooldown_rules), fire_s=first - span, fire_e=last + span)
        if caps:
            # The calendar windows (hour, day, week, season) the batch's events fall in: one or two per cap.
            windows: set[tuple[str, datetime, datetime | None]] = set()
            times = {e.occurred_at for e in events}
            for c in caps:
                tz = UTC if c.tz == "UTC" else ZoneInfo(c.tz)
                season = self.season_start() if c.window == "season" else None
                windows.update((c.currency, *window_bounds(at, c.window, tz, season)) for at in times)
            # In a fixed order: ``_load`` reads the sums back by position.
            self._cap_windows = sorted(windows, key=str)
            params.update(cap_c=[w[0] for w in self._cap_windows], cap_s=[w[1] for w in self._cap_windows],
                          cap_e=[w[2] for w in self._cap_windows])
            self._capped = frozenset(c.currency for c in caps)
        keys: set[str] = set()
        for e in events:
            for rid, n in once.get(e.event_type, ()):
                keys.update(f"rule:{rid}:once:{e.payload.get('message_id')}:{e.user_id}:{i}" for i in range(n))
        for ms in milestones:   # a reward is keyed per member: granted, revoked and earned again, it is not paid twice
            for i, reward in enumerate(ms.record.spec.rewards):
                if isinstance(reward, mm.CurrencyReward):
                    keys.update(f"milestone:{ms.record.milestone_id}:{u}:{i}" for u in uids)
        params["keys"] = sorted(keys)
        self._keys_checked.update(keys)
        originals = sorted({(e.source_system, original) for e in events if e.event_type in clawback_triggers
                            if (original := clawback_original(e.source_event_id)) is not None})
        # What a clawback can take back: the credits the original events caused (those this batch posts
        # are added as they are made, ``_note``).
        self._priors = {o: [] for o in originals}
        params.update(prior_ss=[o[0] for o in originals], prior_se=[o[1] for o in originals])
        return params

    def _load(self, row: Any, uids: list[int]) -> None:
        """Keep what ``_PREFETCH`` returned."""
        for user_id, currency, balance in row.wallets or ():
            self._balances[(user_id, currency)] = int(balance)
        self._earned = {u: set() for u in uids}
        for user_id, key in row.earned or ():
            self._earned[user_id].add(key)
        self._earned_in_lake = set(row.earned_in_lake or ())
        for u in uids:
            self._members[u] = None
        for user_id, roles, joined_at, created_at, is_bot in row.members or ():
            self._members[user_id] = Member(roles=frozenset(roles or ()), joined_at=_ts(joined_at),
                                            account_created_at=_ts(created_at), is_bot=is_bot)
        for user_id, event_type, n in row.counts or ():
            self._counts[(user_id, event_type)] = int(n)
        for user_id, event_type, name, n in row.sums or ():
            self._sums[(user_id, event_type, name)] = int(n)
        for rule_id, user_id, at in row.fires or ():
            self._fires.setdefault((rule_id, user_id), []).append(datetime.fromisoformat(at))
        for user_id, position, used in row.caps or ():
            currency, start, end = self._cap_windows[position - 1]
            self._cap_sums[(user_id, currency, start, end)] = int(used)
        self._keys_in_db.update(row.keys or ())
        for ss, se, user_id, currency, amount, key, at, clawed_back in row.priors or ():
            self._priors[(ss, se)].append(PriorCredit(user_id, currency, int(amount), key,
                                                      datetime.fromisoformat(at)))
            self._keys_checked.add(f"clawback:{key}")
            if clawed_back:
                self._keys_in_db.add(f"clawback:{key}")
        self._ids = [int(i) for i in reversed(row.tx_ids or ())]
        self._event_ids = [int(i) for i in reversed(row.event_ids or ())]

    # ------------------------------------------------------------ Facts (from memory when prefetched)

    def balance(self, user_id: int, currency: str) -> int:
        key = (user_id, currency)
        value = self._balances.get(key)
        if value is None:
            value = 0 if user_id in self._users else super().balance(user_id, currency)
            self._balances[key] = value
        return value

    def earned_milestones(self, user_id: int) -> AbstractSet[str]:
        have = self._earned.get(user_id)
        if have is None:
            have = self._earned[user_id] = set(super().earned_milestones(user_id))
        return have

    def event_count(self, user_id: int, event_type: str, since: datetime | None) -> int:
        if since is None and (user_id, event_type) in self._counts:
            return self._counts[(user_id, event_type)]
        self.flush_events()
        return super().event_count(user_id, event_type, since)

    def event_sum(self, user_id: int, event_type: str, field: str, since: datetime | None) -> int:
        if (since is None and (user_id, event_type, field) in self._sums
                and (user_id, event_type) not in self._sum_stale):
            return self._sums[(user_id, event_type, field)]
        self.flush_events()
        return super().event_sum(user_id, event_type, field, since)

    def active_days(self, user_id: int, since: date, until: date) -> frozenset[date]:
        self.flush_events()
        return super().active_days(user_id, since, until)

    def fingerprint_repeats(self, user_id: int, fingerprint: str, start: datetime, end: datetime,
                            exclude: str) -> int:
        self.flush_events()
        return super().fingerprint_repeats(user_id, fingerprint, start, end, exclude)

    def fired_between(self, rule_id: int, user_id: int, start: datetime, end: datetime) -> bool:
        for at in self._fires.get((rule_id, user_id), ()):
            if start < at < end:
                return True
        span = self._fire_span
        if span is not None and rule_id in self._fire_rules and user_id in self._users \
                and span[0] <= start and end <= span[1]:
            return False
        return super().fired_between(rule_id, user_id, start, end)

    def cap_used(self, user_id: int, currency: str, start: datetime, end: datetime | None) -> int:
        before = self._cap_sums.get((user_id, currency, start, end))
        if before is not None:
            return before + sum(amount for at, amount in self._credits.get((user_id, currency), ())
                                if at >= start and (end is None or at < end))
        self.flush_postings()
        return super().cap_used(user_id, currency, start, end)

    def any_posted(self, keys: Sequence[str]) -> bool:
        posted = self._posted_keys
        if any(k in posted for k in keys):
            return True
        checked = self._keys_checked
        if all(k in checked for k in keys):
            return any(k in self._keys_in_db for k in keys)
        found = super().any_posted(keys)   # pending postings are all in _posted_keys
        if not found:
            checked.update(keys)
        return found

    def prior_credits(self, source_system: str, source_event_id: str) -> Sequence[PriorCredit]:
        priors = self._priors.get((source_system, source_event_id))
        if priors is not None:
            return list(priors)
        self.flush_events()
        self.flush_postings()
        return super().prior_credits(source_system, source_event_id)

    # ------------------------------------------------------------ Store writes (deferred when safe)

    def _fresh(self, p: Posting) -> bool:
        key = p.idempotency_key
        if key in self._keys_checked:
            return key not in self._keys_in_db
        if p.event_id is None or p.event_id not in self._fresh_events:
            return False
        prefix = f"rule:{p.rule_id}:{p.event_id}:"
        return key.startswith(prefix) and key[len(prefix):].isdigit()

    def _note(self, p: Posting) -> None:
        self._posted_keys.add(p.idempotency_key)
        if p.rule_id is not None:
            self._fires.setdefault((p.rule_id, p.user_id), []).append(p.occurred_at)
            if p.kind is Kind.rule and p.amount > 0 and p.event_id is not None:
                priors = self._priors.get(self._event_keys.get(p.event_id, ("", "")))
                if priors is not None:   # a credit a clawback later in this batch may take back
                    priors.append(PriorCredit(p.user_id, p.currency, p.amount, p.idempotency_key, p.occurred_at))
                    # Its key is new to the ledger, so is the clawback's (were it not, the unique index
                    # would refuse the batch and it would go statement by statement).
                    self._keys_checked.add(f"clawback:{p.idempotency_key}")
        if p.amount > 0 and p.kind is Kind.rule and p.currency in self._capped:
            self._credits.setdefault((p.user_id, p.currency), []).append((p.occurred_at, p.amount))

    def _next_id(self) -> int:
        if not self._ids:
            rows = self.conn.execute(_RESERVE_IDS, {"n": self._reserve}).all()
            self._ids = [int(r.id) for r in reversed(rows)]
        return self._ids.pop()

    def post(self, postings: Sequence[Posting]) -> list[Posted]:
        out: list[Posted] = []
        for p in postings:
            if p.idempotency_key in self._posted_keys:
                continue   # the database skips a key it already holds
            currency = self._currencies.get(p.currency)
            if currency is not None and self._fresh(p):
                after = self.balance(p.user_id, p.currency) + p.amount
                if after >= 0 or currency.allow_negative:
                    tx = self._next_id()
                    self._tx_ids.add(tx)
                    self._pending.append((p, tx, after))
                    self._balances[(p.user_id, p.currency)] = after
                    self._note(p)
                    out.append(Posted(p, tx, after))
                    continue
            out.extend(self._post_now(p))
        return out

    def _post_now(self, p: Posting) -> list[Posted]:
        """The statement-by-statement path (keys that may be in the ledger, refusals the database names)."""
        self.flush_postings()
        self._ids.clear()   # later postings take later ids: id order stays posting order
        self.conn.execute(_BATCH_POSTING_OFF)   # the row trigger computes this one's balance itself
        posted = ledger_store.post(self.conn, [p])
        self.conn.execute(_BATCH_POSTING_ON)
        self._posted_keys.add(p.idempotency_key)
        for x in posted:
            self._tx_ids.add(x.transaction_id)
            self._balances[(p.user_id, p.currency)] = x.balance_after
            self._note(p)
        return posted

    def flush_postings(self) -> None:
        """Write the pending postings in one statement; check the database agrees with every balance."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        columns = ledger_store.posting_columns([p for p, _, _ in pending])
        columns["id"] = [tx for _, tx, _ in pending]
        columns["balance_after"] = [after for _, _, after in pending]
        try:
            # Batch mode (migration 0007, switched on by ``prefetch``): PostgreSQL checks the predicted
            # chain of balances and moves each wallet once per statement instead of once per row.
            rows = self.conn.execute(_INSERT_WITH_IDS, columns).all()
        except IntegrityError as exc:
            raise Mispredicted(f"the database refused a batch of postings: {exc.orig}") from exc
        written = {int(r.id): int(r.balance_after) for r in rows}
        for p, tx, after in pending:
            if written.get(tx) != after:
                raise Mispredicted(f"posting {p.idempotency_key}: predicted balance {after}, "
                                   f"database {written.get(tx)}")

    def record_fires(self, fires: Sequence[tuple[int, int]], at: datetime, event_id: int | None) -> None:
        rows = self._fire_rows
        for rule_id, user_id in fires:
            self._fires.setdefault((rule_id, user_id), []).append(at)
            key = (rule_id, user_id)
            had = rows.get(key)
            if had is None or at >= had[0]:   # as the upsert: the latest fire wins, the later one on a tie
                rows[key] = (at, event_id)

    def grant(self, milestone: MilestoneRecord, user_id: int, at: datetime, event_id: int | None) -> bool:
        if user_id in self._users:   # earned milestones prefetched under the member's lock
            have = self._earned[user_id]
            if milestone.spec.key in have:
                return False
            have.add(milestone.spec.key)
            self._pending_grants.append((milestone.milestone_id, user_id, at, event_id))
            return True
        granted = super().grant(milestone, user_id, at, event_id)
        if granted:
            self.earned_milestones(user_id)   # loaded (with this row) if it was not yet
            self._earned[user_id].add(milestone.spec.key)
        return granted

    def _derived_fresh(self, e: Event) -> bool:
        """Is this derived event surely not in the lake yet (so it may take a reserved id)?"""
        if e.guild_id != self.guild_id or e.source_system != SYNAPSE:
            return False
        key = e.source_event_id
        if e.event_type == "level_up" and key.startswith("level_up:"):
            # level_up:{currency}:{member}:{level}:{transaction}: a transaction of this store is new
            tail = key.rsplit(":", 1)[-1]
            return tail.isdigit() and int(tail) in self._tx_ids
        if e.event_type == "milestone_earned" and e.user_id in self._users:
            return key not in self._earned_in_lake
        return False

    def append_derived(self, events: Sequence[Event]) -> list[Event]:
        wanted: list[tuple[Event, bool]] = []
        for e in events:
            if e.source_event_id in self._derived_keys:
                continue   # the lake keeps the first one
            self._derived_keys.add(e.source_event_id)
            wanted.append((e, self._derived_fresh(e)))
        others = [e for e, fresh in wanted if not fresh]
        inserted: dict[str, Event] = {}
        if others:   # may be in the lake already: the lake decides
            self.flush_events()
            inserted = {e.source_event_id: e for e in super().append_derived(others)}
        written: list[Event] = []
        for e, fresh in wanted:   # in the order given, as the lake returns them
            if fresh:
                e = replace(e, id=self._next_event_id())
                self._pending_events.append(e)
                written.append(e)
            elif e.source_event_id in inserted:
                written.append(inserted[e.source_event_id])
        for e in written:
            if e.id is not None:
                self._fresh_events.add(e.id)
            if e.user_id is not None:
                key = (e.user_id, e.event_type)
                if key in self._counts:   # (only prefetched counts are answered from memory)
                    self._counts[key] += 1
                self._sum_stale.add(key)
        return written

    def _next_event_id(self) -> int:
        """A lake id from a block reserved per batch (ids left unused at commit are a gap in the sequence,
        as a rolled-back insert leaves one: nothing reads the lake's ids as contiguous)."""
        if not self._event_ids:
            rows = self.conn.execute(_RESERVE_EVENT_IDS, {"n": max(16, self._reserve // 4)}).all()
            self._event_ids = [int(r.id) for r in reversed(rows)]
        return self._event_ids.pop()

    def flush_events(self) -> None:
        """Write the pending derived events (reserved ids) in one statement."""
        pending, self._pending_events = self._pending_events, []
        if not pending:
            return
        columns = lake_store.event_columns(pending)
        columns["id"] = [e.id for e in pending]
        rows = self.conn.execute(_APPEND_WITH_IDS, columns).all()
        if len(rows) != len(pending):
            raise Mispredicted(f"{len(pending) - len(rows)} derived event(s) were already in the lake")

    def emit(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        if dedupe_key not in self._outbox_rows:
            self._outbox_rows[dedupe_key] = (kind, json.dumps(payload))

    def finish(self) -> None:
        """Write what the batch decided: derived events, postings, milestones, cooldown fires, outbox rows
        (``outbox_ids`` filled)."""
        self.flush_events()
        self.flush_postings()
        self.conn.execute(_BATCH_POSTING_OFF)
        if self._pending_grants:
            grants, self._pending_grants = self._pending_grants, []
            granted = self.conn.execute(_GRANTS_BULK, {
                "g": self.guild_id, "u": [x[1] for x in grants], "m": [x[0] for x in grants],
                "t": [x[2] for x in grants], "ev": [x[3] for x in grants]}).all()
            if len(granted) != len(grants):
                raise Mispredicted(f"{len(grants) - len(granted)} milestone(s) were already granted")
        if self._fire_rows:
            items = list(self._fire_rows.items())
            self.conn.execute(_FIRES_BULK, {"g": self.guild_id, "r": [k[0] for k, _ in items],
                                            "u": [k[1] for k, _ in items], "t": [v[0] for _, v in items],
                                            "ev": [v[1] for _, v in items]})
            self._fire_rows = {}
        if self._outbox_rows:
            items2 = list(self._outbox_rows.items())
            rows = self.conn.execute(_OUTBOX_BULK, {"g": self.guild_id, "k": [v[0] for _, v in items2],
                                                    "d": [k for k, _ in items2], "p": [v[1] for _, v in items2]})
            self.outbox_ids.extend(sorted(int(r.id) for r in rows))
            self._outbox_rows = {}
