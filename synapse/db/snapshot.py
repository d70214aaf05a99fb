"""The one fact loader: ``load(conn, query) -> Snapshot``, one round trip, for ingest, manual actions, backtests.

A backtest asks the "as of" form (``plan.facts_as_of``): the whole guild as of the range's start,
read with guild-wide aggregates in one statement of its own (the per-message statement stays lean).

It answers a ``processing.plan.FactQuery`` as it is asked: the members' wallets, milestones and
rows, lifetime counts and sums of their events (the query's own events included; from
``member_event_totals``, which the lake's triggers keep, so one key probe however long the member's
history; a sum over a type other than the voice events reads the member's rows), history in
the windows given and the active days (its own events left out), the members' role history from
a time on (``member_role_history``, when a rule reads roles), the keys given that are in the
ledger, the credits of the events given, and blocks of reserved ids. It knows tables, not
rules: which facts, windows and keys matter is the planner's business. Call it after the members'
locks are taken, so what it reads stays true until commit.

Each part reads member by member (``unnest`` of the keys, an index probe each, behind ``OFFSET 0``
or in a scalar subquery so the planner cannot turn it into a scan of the whole guild): plans that
hold whatever the statistics say, for a new guild in a big database or a fresh one nobody analysed.
The guild id reaches the statement as a value the planner does not look at (``_AN_AVERAGE_GUILD``):
planned with the id itself, a guild the statistics do not list yet counted as empty, and every probe
chose a guild-wide index (each member's read a scan of the guild's rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.ledger.model import Kind, Posting, Season
from synapse.processing.actions import HandGrant
from synapse.processing.plan import FactQuery
from synapse.processing.snapshot import Snapshot
from synapse.rules.defaults import AFK_TAG
from synapse.rules.facts import Channel, Member, PriorCredit

# The event types whose numeric payload fields ``member_event_totals`` sums (migration 0017's ``SUMMED``: the
# voice events, which ``processing.state`` sums too); a lifetime sum over another type reads the lake.
SUMMED_EVENT_TYPES = ("voice_tick", "voice_session_end")

# ``:g`` in ``_LOAD`` becomes this scalar subquery: an InitPlan parameter, estimated as an average guild
# (one in the number of distinct guilds), which any member index beats; still an index condition.
_AN_AVERAGE_GUILD = "(SELECT CAST(:g AS bigint))"

_LOAD = text(re.sub(r":g\b", _AN_AVERAGE_GUILD, """
SELECT
  (SELECT json_agg(json_build_array(w.user_id, w.currency_key, w.balance)) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT user_id, currency_key, balance FROM wallets
                          WHERE guild_id = :g AND user_id = x.u OFFSET 0) w) AS wallets,
  (SELECT json_agg(json_build_array(um.user_id, m.key)) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT user_id, milestone_id FROM user_milestones
                          WHERE guild_id = :g AND user_id = x.u OFFSET 0) um
     JOIN milestones m ON m.guild_id = :g AND m.milestone_id = um.milestone_id) AS earned,
  -- (``source_system || ''``: in a guild with a long history of Discord events, the statistics made the
  -- natural key's (guild, source_system) prefix look selective for 'synapse', and each member's probe
  -- read every Synapse event of the guild through it: 64 ms for one message; only the member's index serves)
  CASE WHEN :me THEN
  (SELECT json_agg(e.source_event_id) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT source_event_id FROM event_lake
                          WHERE guild_id = :g AND user_id = x.u AND event_type = 'milestone_earned'
                            AND source_system || '' = 'synapse' OFFSET 0) e) END AS milestone_events,
  (SELECT json_agg(x.k) FROM unnest(CAST(:dk AS text[])) AS x(k)
    WHERE (SELECT true FROM event_lake WHERE guild_id = :g AND source_system = 'synapse'
                                         AND source_event_id = x.k)) AS derived_keys,
  (SELECT json_agg(json_build_array(m.user_id, m.roles, m.joined_at, m.account_created_at, m.is_bot))
     FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT * FROM member_cache WHERE guild_id = :g AND user_id = x.u OFFSET 0) m) AS members,
  -- [[member, since (null: from the beginning), roles]] of the members' role history from the roles in force
  -- at :rs on (rules that read roles)
  CASE WHEN CAST(:rs AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(x.u, CASE WHEN h.since <> '-infinity' THEN h.since END, h.roles)
                   ORDER BY x.u, h.since)
     FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (
         (SELECT since, roles FROM member_role_history WHERE guild_id = :g AND user_id = x.u AND since <= :rs
           ORDER BY since DESC LIMIT 1)
         UNION ALL
         SELECT since, roles FROM member_role_history WHERE guild_id = :g AND user_id = x.u AND since > :rs) h)
  END AS role_history,
  (SELECT json_agg(json_build_array(key, channel_ids)) FROM regions WHERE guild_id = :g) AS regions,
  (SELECT json_agg(json_build_array(key, channel_ids)) FROM taxonomy WHERE guild_id = :g) AS tags,
  (SELECT afk_channel_id FROM guild_directory_state WHERE guild_id = :g) AS afk_channel_id,
  (SELECT started_at FROM seasons WHERE guild_id = :g AND status = 'active') AS season_start,
  -- [[member, position in the lt_* arrays, lifetime count or sum]] unless the member holds every listed milestone:
  -- from member_event_totals (kept by the lake's triggers, migration 0017), a key probe or two; only a sum over
  -- a type it does not sum (not in :summed) reads the member's rows
  (SELECT json_agg(json_build_array(x.u, x.n, CASE
            WHEN x.f IS NULL THEN COALESCE(tc.events, 0)
            WHEN x.t = ANY(CAST(:summed AS text[])) THEN
                 (SELECT COALESCE(tc.events, 0) * x.d + COALESCE(SUM(total - x.d * events), 0) FROM member_event_totals
                   WHERE guild_id = :g AND user_id = x.u AND event_type = x.t AND field = x.f)::bigint
            ELSE (SELECT COALESCE(SUM(CASE WHEN jsonb_typeof(payload -> x.f) = 'number'
                                           THEN (payload ->> x.f)::numeric ELSE x.d END), 0)::bigint
                    FROM event_lake WHERE guild_id = :g AND user_id = x.u AND event_type = x.t) END))
     FROM (SELECT members.u, c.* FROM unnest(CAST(:u AS bigint[])) AS members(u),
                  unnest(CAST(:lt_t AS text[]), CAST(:lt_f AS text[]), CAST(:lt_d AS int[]), CAST(:lt_m AS text[]))
                    WITH ORDINALITY AS c(t, f, d, m, n)) x
     LEFT JOIN LATERAL (SELECT events FROM member_event_totals
                         WHERE guild_id = :g AND user_id = x.u AND event_type = x.t AND field = '' OFFSET 0) tc ON true
    WHERE EXISTS (SELECT 1 FROM unnest(CAST(string_to_array(x.m, ',') AS bigint[])) AS ms(id)
                   WHERE NOT EXISTS (SELECT 1 FROM user_milestones
                                      WHERE guild_id = :g AND user_id = x.u AND milestone_id = ms.id))) AS lifetimes,
  -- [[member, position in the rc_* arrays, occurred_at, value]]: the members' events since a time
  (SELECT json_agg(json_build_array(x.u, x.n, e.occurred_at, e.id,
                   CASE WHEN x.f IS NOT NULL AND jsonb_typeof(e.payload -> x.f) = 'number'
                        THEN (e.payload ->> x.f)::numeric ELSE x.d END))
     FROM (SELECT members.u, c.* FROM unnest(CAST(:u AS bigint[])) AS members(u),
                  unnest(CAST(:rc_t AS text[]), CAST(:rc_f AS text[]), CAST(:rc_d AS int[]),
                         CAST(:rc_s AS timestamptz[])) WITH ORDINALITY AS c(t, f, d, s, n)) x
     CROSS JOIN LATERAL (SELECT id, occurred_at, payload FROM event_lake
                          WHERE guild_id = :g AND user_id = x.u AND event_type = x.t AND occurred_at >= x.s
                          OFFSET 0) e) AS recent,
  -- [[member, UTC day]] the members were active on since :ds, by events before the message's own (those
  -- the run observes itself, in order: a day only a later event of the message makes active is not one yet)
  (SELECT json_agg(json_build_array(x.u, d.day)) FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM event_lake
                          WHERE guild_id = :g AND user_id = x.u AND occurred_at >= CAST(:ds AS date)
                            AND CAST(:ds AS date) IS NOT NULL AND id <> ALL(CAST(:own AS bigint[])) OFFSET 0) d)
     AS days,
  -- [[member, fingerprint, occurred_at, source id]] of the members' messages with these fingerprints
  (SELECT json_agg(json_build_array(x.u, e.payload ->> 'fingerprint', e.occurred_at, e.source_event_id, e.id))
     FROM unnest(CAST(:u AS bigint[])) AS x(u)
     CROSS JOIN LATERAL (SELECT id, occurred_at, payload, source_event_id FROM event_lake
                          WHERE guild_id = :g AND user_id = x.u AND event_type = 'message_create'
                            AND occurred_at >= :fp_s AND occurred_at <= :fp_e
                            AND payload ->> 'fingerprint' = ANY(CAST(:fps AS text[])) OFFSET 0) e) AS fingerprints,
  -- [[rule, member, fired at]] in the span (ledger rows and rule_state)
  (SELECT json_agg(json_build_array(x.r, x.u, f.at))
     FROM (SELECT u, r FROM unnest(CAST(:u AS bigint[])) AS members(u), unnest(CAST(:fire_r AS bigint[])) AS r(r)) x
     CROSS JOIN LATERAL (SELECT * FROM (
         SELECT occurred_at AS at FROM transactions
          WHERE guild_id = :g AND user_id = x.u AND rule_id = x.r AND occurred_at > :fire_s AND occurred_at < :fire_e
         UNION ALL
         SELECT last_fired_at FROM rule_state
          WHERE guild_id = :g AND rule_id = x.r AND user_id = x.u
            AND last_fired_at > :fire_s AND last_fired_at < :fire_e) AS fired OFFSET 0) f) AS fires,
  -- [[member, position in the cap_* arrays, positive rule credits of the currency in the window]]
  -- (``kind || ''``: the guild-wide ix_transactions_period must not serve a member's window; its
  -- partial predicate cannot be proven from that, so only the member's index can)
  (SELECT json_agg(json_build_array(x.u, x.n, (
            SELECT COALESCE(SUM(amount), 0) FROM transactions
             WHERE guild_id = :g AND user_id = x.u AND currency_key = x.c AND kind || '' = 'rule' AND amount > 0
               AND occurred_at >= COALESCE(x.s, (SELECT started_at FROM seasons
                                                  WHERE guild_id = :g AND status = 'active'), 'epoch')
               AND (x.e IS NULL OR occurred_at < x.e))))
     FROM (SELECT members.u, w.* FROM unnest(CAST(:u AS bigint[])) AS members(u),
                  unnest(CAST(:cap_c AS text[]), CAST(:cap_s AS timestamptz[]), CAST(:cap_e AS timestamptz[]))
                    WITH ORDINALITY AS w(c, s, e, n)) x) AS caps,
  (SELECT json_agg(x.k) FROM unnest(CAST(:keys AS text[])) AS x(k)
    WHERE (SELECT true FROM transactions WHERE guild_id = :g AND idempotency_key = x.k)) AS keys,
  -- [[source, source id, member, currency, amount, key, occurred_at, taken back already, wallet balance]]
  (SELECT json_agg(json_build_array(x.ss, x.se, t.user_id, t.currency_key, t.amount, t.idempotency_key,
                                    t.occurred_at,
                                    (SELECT true FROM transactions
                                      WHERE guild_id = :g AND idempotency_key = :tb || t.idempotency_key),
                                    (SELECT balance FROM wallets WHERE guild_id = :g AND user_id = t.user_id
                                        AND currency_key = t.currency_key))
                   ORDER BY t.id)
     FROM unnest(CAST(:prior_ss AS text[]), CAST(:prior_se AS text[])) AS x(ss, se)
     CROSS JOIN LATERAL (SELECT id FROM event_lake
                          WHERE guild_id = :g AND source_system = x.ss AND source_event_id = x.se OFFSET 0) e
     CROSS JOIN LATERAL (SELECT * FROM transactions
                          WHERE guild_id = :g AND event_id = e.id AND kind = 'rule' AND amount > 0
                            AND rule_id IS NOT NULL OFFSET 0) t) AS priors,
  -- (the identity columns' sequences by name: resolved once per statement, not once per id)
  (SELECT array_agg(id ORDER BY id) FROM (SELECT nextval('transactions_id_seq'::regclass) AS id
                                             FROM generate_series(1, :n_tx)) AS ids) AS tx_ids,
  (SELECT array_agg(id ORDER BY id) FROM (SELECT nextval('event_lake_id_seq'::regclass) AS id
                                             FROM generate_series(1, :n_events)) AS ids) AS event_ids
"""))


def _ts(value: str | None) -> datetime | None:
    """A timestamp PostgreSQL wrote into JSON (ISO 8601 with its offset)."""
    return None if value is None else datetime.fromisoformat(value)


def _params(q: FactQuery) -> dict[str, Any]:
    fire_s, fire_e = q.fire_span or (None, None)
    fp_s, fp_e = q.fingerprint_span or (None, None)
    return {
        "g": q.guild_id, "u": list(q.members), "me": q.milestone_events, "dk": list(q.derived_keys),
        "lt_t": [x.event_type for x in q.lifetimes], "lt_f": [x.field for x in q.lifetimes],
        "lt_d": [x.default for x in q.lifetimes], "lt_m": [",".join(map(str, x.milestone_ids)) for x in q.lifetimes],
        "summed": list(SUMMED_EVENT_TYPES),
        "rc_t": [x.event_type for x in q.recent], "rc_f": [x.field for x in q.recent],
        "rc_d": [x.default for x in q.recent], "rc_s": [x.since for x in q.recent],
        "ds": q.days_since, "rs": q.roles_since, "own": list(q.own_event_ids), "fps": list(q.fingerprints),
        "fp_s": fp_s, "fp_e": fp_e,
        "fire_r": list(q.fire_rules), "fire_s": fire_s, "fire_e": fire_e,
        "cap_c": [w.currency for w in q.cap_windows], "cap_s": [w.start for w in q.cap_windows],
        "cap_e": [w.end for w in q.cap_windows], "keys": list(q.keys), "tb": q.taken_back_prefix,
        "prior_ss": [o[0] for o in q.originals], "prior_se": [o[1] for o in q.originals],
        "n_tx": q.tx_ids, "n_events": q.event_ids}


# The "as of" form (``plan.facts_as_of``, a backtest's start): the whole guild, its history before :as_of
# (nothing when :as_of is NULL). Guild-wide aggregates: a backtest reads the guild once, not per message.
_LOAD_AS_OF = text("""
WITH start_season AS (   -- the season :as_of falls in (without :as_of, the active one)
  SELECT CASE WHEN CAST(:as_of AS timestamptz) IS NULL
              THEN (SELECT started_at FROM seasons WHERE guild_id = :g AND status = 'active')
              ELSE (SELECT started_at FROM seasons WHERE guild_id = :g AND started_at <= :as_of
                       AND (ended_at IS NULL OR ended_at > :as_of) ORDER BY started_at DESC LIMIT 1) END AS started_at)
SELECT
  (SELECT json_agg(json_build_array(user_id, roles, joined_at, account_created_at, is_bot))
     FROM member_cache WHERE guild_id = :g) AS members,
  -- [[member, since (null: from the beginning), roles]]: the guild's whole role history (one row per change)
  (SELECT json_agg(json_build_array(user_id, CASE WHEN since <> '-infinity' THEN since END, roles)
                   ORDER BY user_id, since)
     FROM member_role_history WHERE guild_id = :g) AS role_history,
  (SELECT json_agg(json_build_array(key, channel_ids)) FROM regions WHERE guild_id = :g) AS regions,
  (SELECT json_agg(json_build_array(key, channel_ids)) FROM taxonomy WHERE guild_id = :g) AS tags,
  (SELECT afk_channel_id FROM guild_directory_state WHERE guild_id = :g) AS afk_channel_id,
  (SELECT started_at FROM start_season) AS season_start,
  (SELECT json_agg(json_build_array(season_id, name, started_at, ended_at) ORDER BY started_at)
     FROM seasons WHERE guild_id = :g) AS seasons,
  -- postings of the kinds in :bh_k from :as_of on (all without it), in ledger order
  (SELECT json_agg(json_build_array(user_id, currency_key, amount, kind, idempotency_key, reason, occurred_at,
                                    actor_id, season_id, meta) ORDER BY id)
     FROM transactions WHERE guild_id = :g AND kind = ANY(CAST(:bh_k AS text[]))
                         AND (CAST(:as_of AS timestamptz) IS NULL OR occurred_at >= :as_of)) AS by_hand,
  -- milestones not earned by the rules (granted by hand), from :as_of on
  (SELECT json_agg(json_build_array(user_id, milestone_id, earned_at, source, granted_by) ORDER BY earned_at, user_id)
     FROM user_milestones WHERE guild_id = :g AND source <> 'rule' AND cardinality(CAST(:bh_k AS text[])) > 0
                            AND (CAST(:as_of AS timestamptz) IS NULL OR earned_at >= :as_of)) AS hand_grants,
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(user_id, currency_key, total))
     FROM (SELECT user_id, currency_key, SUM(amount)::bigint AS total FROM transactions
            WHERE guild_id = :g AND occurred_at < :as_of GROUP BY 1, 2) b) END AS balances,
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(um.user_id, m.key))
     FROM user_milestones um JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
    WHERE um.guild_id = :g AND um.earned_at < :as_of) END AS earned,
  -- [[member, event type, count, minutes (a voice_tick without a number is one)]]
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(user_id, event_type, n, minutes))
     FROM (SELECT user_id, event_type, count(*) AS n,
                  SUM(CASE WHEN jsonb_typeof(payload -> 'minutes') = 'number'
                           THEN (payload ->> 'minutes')::bigint ELSE 1 END) AS minutes
             FROM event_lake WHERE guild_id = :g AND occurred_at < :as_of AND user_id IS NOT NULL
            GROUP BY 1, 2) c) END AS counts,
  -- [[key, member, currency, amount, rule, occurred_at, event's source, source id]] of every posting since :cs,
  -- in time order: all their keys (a posting made already is not made again); the member, currency, amount,
  -- rule and event only of positive rule credits (caps, cooldown fires, what a clawback takes back)
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(CASE WHEN t.kind = 'rule' AND t.amount > 0
                        THEN json_build_array(t.idempotency_key, t.user_id, t.currency_key, t.amount, t.rule_id,
                                              t.occurred_at, e.source_system, e.source_event_id)
                        ELSE json_build_array(t.idempotency_key) END ORDER BY t.occurred_at, t.id)
     FROM transactions t LEFT JOIN event_lake e ON e.guild_id = t.guild_id AND e.id = t.event_id
                                              AND t.kind = 'rule' AND t.amount > 0
    WHERE t.guild_id = :g AND t.occurred_at >= :cs AND t.occurred_at < :as_of)
  END AS postings,
  -- [[member, currency, positive rule credits]] from the start of :as_of's season (all time without one) to :cs,
  -- of the currencies in :season_c (season caps; the credits after :cs are above)
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(user_id, currency_key, used))
     FROM (SELECT user_id, currency_key, SUM(amount)::bigint AS used FROM transactions
            WHERE guild_id = :g AND currency_key = ANY(CAST(:season_c AS text[])) AND kind = 'rule' AND amount > 0
              AND occurred_at >= COALESCE((SELECT started_at FROM start_season), 'epoch')
              AND occurred_at < :cs GROUP BY 1, 2) c) END AS season_caps,
  -- [[member, position in the rc_* arrays, occurred_at, value]]: the guild's events of each type since its time
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(e.user_id, x.n, e.occurred_at,
                   CASE WHEN x.f IS NOT NULL AND jsonb_typeof(e.payload -> x.f) = 'number'
                        THEN (e.payload ->> x.f)::numeric ELSE x.d END) ORDER BY e.occurred_at, e.id)
     FROM unnest(CAST(:rc_t AS text[]), CAST(:rc_f AS text[]), CAST(:rc_d AS int[]), CAST(:rc_s AS timestamptz[]))
            WITH ORDINALITY AS x(t, f, d, s, n)
     JOIN event_lake e ON e.guild_id = :g AND e.event_type = x.t AND e.occurred_at >= x.s AND e.occurred_at < :as_of
                      AND e.user_id IS NOT NULL) END AS recent,
  -- [[member, fingerprint, occurred_at, source id]] of the guild's messages in [:fp_s, :as_of) (repeat guards)
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(user_id, payload ->> 'fingerprint', occurred_at, source_event_id)
                   ORDER BY occurred_at, id)
     FROM event_lake WHERE guild_id = :g AND event_type = 'message_create' AND occurred_at >= :fp_s
                       AND occurred_at < :as_of AND user_id IS NOT NULL AND payload ->> 'fingerprint' <> '')
  END AS fingerprints,
  -- [[member, UTC day]] active since :ds
  CASE WHEN CAST(:as_of AS timestamptz) IS NOT NULL THEN
  (SELECT json_agg(json_build_array(user_id, day))
     FROM (SELECT DISTINCT user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day FROM event_lake
            WHERE guild_id = :g AND occurred_at >= :ds AND occurred_at < :as_of AND user_id IS NOT NULL) d)
  END AS days
""")


def _load_as_of(conn: Connection, query: FactQuery) -> Snapshot:
    fp_s = None if query.fingerprint_span is None else query.fingerprint_span[0]
    row = conn.execute(_LOAD_AS_OF, {
        "g": query.guild_id, "as_of": query.as_of, "cs": query.credits_since, "ds": query.active_since,
        "bh_k": list(query.by_hand_kinds),
        "season_c": [w.currency for w in query.cap_windows if w.start is None],
        "rc_t": [x.event_type for x in query.recent], "rc_f": [x.field for x in query.recent],
        "rc_d": [x.default for x in query.recent], "rc_s": [x.since for x in query.recent], "fp_s": fp_s}).one()
    snap = Snapshot(query.guild_id, season_start=row.season_start)
    for user_id, roles, joined_at, created_at, is_bot in row.members or ():
        snap.members[user_id] = Member(roles=frozenset(roles or ()), joined_at=_ts(joined_at),
                                       account_created_at=_ts(created_at), is_bot=is_bot)
    snap.role_history = _role_history(row.role_history)
    snap.seasons = [Season(season_id, name, datetime.fromisoformat(started), _ts(ended))
                    for season_id, name, started, ended in row.seasons or ()]
    snap.by_hand = [Posting(guild_id=query.guild_id, user_id=uid, currency=currency, amount=int(amount),
                            kind=Kind(kind), idempotency_key=key, occurred_at=datetime.fromisoformat(at), reason=reason,
                            actor_id=actor_id, season_id=season_id, meta=meta or {})
                    for uid, currency, amount, kind, key, reason, at, actor_id, season_id, meta in row.by_hand or ()]
    snap.hand_grants = [HandGrant(query.guild_id, user_id, milestone_id, datetime.fromisoformat(at), source, granted_by)
                        for user_id, milestone_id, at, source, granted_by in row.hand_grants or ()]
    snap.channels = _channels(row.regions or (), row.tags or (), row.afk_channel_id)
    for user_id, currency, total in row.balances or ():
        snap.balances[(user_id, currency)] = int(total)
    for user_id, key in row.earned or ():
        snap.earned.setdefault(user_id, set()).add(key)
    for user_id, event_type, n, minutes in row.counts or ():
        snap.counts[(user_id, event_type)] = int(n)
        if event_type == "voice_tick":
            snap.sums[(user_id, "voice_tick", "minutes")] = int(minutes)
    for key, *credit in row.postings or ():
        snap.posted_keys.add(key)
        if not credit:
            continue
        user_id, currency, amount, rule_id, at, source, source_id = credit
        occurred_at = datetime.fromisoformat(at)
        snap.credits.append((user_id, currency, occurred_at, int(amount)))
        if rule_id is not None:
            snap.fires.append((rule_id, user_id, occurred_at))
            if source is not None:
                snap.priors.setdefault((source, source_id), []).append(
                    PriorCredit(user_id, currency, int(amount), key, occurred_at))
    for user_id, currency, used in row.season_caps or ():
        snap.cap_used[(user_id, currency, None, None)] = int(used)
    for user_id, position, at, value in row.recent or ():
        rc = query.recent[position - 1]
        snap.recent.append((user_id, rc.event_type, rc.field, datetime.fromisoformat(at), int(value)))
    snap.fingerprints = [(user_id, fp, datetime.fromisoformat(at), source_id)
                         for user_id, fp, at, source_id in row.fingerprints or ()]
    snap.days = [(user_id, date.fromisoformat(day)) for user_id, day in row.days or ()]
    return snap


def load(conn: Connection, query: FactQuery) -> Snapshot:
    """Answer ``query`` in one statement (after the members' locks are taken; a backtest's start
    state, ``plan.facts_as_of``, needs no locks: its transaction is read only)."""
    if query.whole_guild:
        return _load_as_of(conn, query)
    row = conn.execute(_LOAD, _params(query)).one()
    snap = Snapshot(query.guild_id, season_start=row.season_start)
    for user_id, currency, balance in row.wallets or ():
        snap.balances[(user_id, currency)] = int(balance)
    snap.earned = {u: set() for u in query.members}
    for user_id, key in row.earned or ():
        snap.earned[user_id].add(key)
    snap.milestone_events = set(row.milestone_events or ())
    snap.derived_keys = set(row.derived_keys or ())
    snap.members = dict.fromkeys(query.members)
    for user_id, roles, joined_at, created_at, is_bot in row.members or ():
        snap.members[user_id] = Member(roles=frozenset(roles or ()), joined_at=_ts(joined_at),
                                       account_created_at=_ts(created_at), is_bot=is_bot)
    snap.role_history = _role_history(row.role_history)
    snap.channels = _channels(row.regions or (), row.tags or (), row.afk_channel_id)
    for user_id, position, value in row.lifetimes or ():
        lt = query.lifetimes[position - 1]
        if lt.field is None:
            snap.counts[(user_id, lt.event_type)] = int(value)
        else:
            snap.sums[(user_id, lt.event_type, lt.field)] = int(value)
    own = set(query.own_event_ids)
    for user_id, position, at, event_id, value in row.recent or ():
        if event_id not in own:
            rc = query.recent[position - 1]
            snap.recent.append((user_id, rc.event_type, rc.field, datetime.fromisoformat(at), int(value)))
    snap.days = [(user_id, date.fromisoformat(day)) for user_id, day in row.days or ()]
    snap.fingerprints = [(user_id, fp, datetime.fromisoformat(at), source_id)
                         for user_id, fp, at, source_id, event_id in row.fingerprints or () if event_id not in own]
    snap.fires = [(rule_id, user_id, datetime.fromisoformat(at)) for rule_id, user_id, at in row.fires or ()]
    for user_id, position, used in row.caps or ():
        w = query.cap_windows[position - 1]
        snap.cap_used[(user_id, w.currency, w.start, w.end)] = int(used)
    snap.posted_keys = set(row.keys or ())
    for ss, se, user_id, currency, amount, key, at, taken_back, balance in row.priors or ():
        snap.priors.setdefault((ss, se), []).append(
            PriorCredit(user_id, currency, int(amount), key, datetime.fromisoformat(at)))
        if taken_back:
            snap.posted_keys.add(query.taken_back_prefix + key)
        snap.balances.setdefault((user_id, currency), 0 if balance is None else int(balance))
    for o in query.originals:
        snap.priors.setdefault(o, [])
    snap.tx_ids = [int(i) for i in row.tx_ids or ()]
    snap.event_ids = [int(i) for i in row.event_ids or ()]
    return snap


def _role_history(rows: Iterable[Any] | None) -> dict[int, list[tuple[datetime | None, frozenset[int]]]]:
    """``[[member, since, roles]]`` in time order per member → each member's history."""
    history: dict[int, list[tuple[datetime | None, frozenset[int]]]] = {}
    for user_id, since, roles in rows or ():
        history.setdefault(user_id, []).append((_ts(since), frozenset(roles or ())))
    return history


def _channels(regions_of: Iterable[Any], tags_of: Iterable[Any], afk_channel_id: int | None) -> dict[int, Channel]:
    """``[[key, channel ids]]`` of regions and of tags → each channel's facts. The guild's AFK channel
    carries the built-in tag "afk" (the default voice XP rule excludes it)."""
    regions: dict[int, set[str]] = {}
    tags: dict[int, set[str]] = {}
    for items, into in ((regions_of, regions), (tags_of, tags)):
        for key, channel_ids in items:
            for ch in channel_ids or ():
                into.setdefault(int(ch), set()).add(key)
    if afk_channel_id is not None:
        tags.setdefault(int(afk_channel_id), set()).add(AFK_TAG)
    return {ch: Channel(frozenset(regions.get(ch, ())), frozenset(tags.get(ch, ())))
            for ch in regions.keys() | tags.keys()}
