"""The one writer: ``write(conn, changes) -> outbox ids``, bulk statements inside the caller's transaction.

Derived events and postings carry the ids the loader reserved; postings carry the ``balance_after``
the state predicted. The database still checks every balance: with ``synapse.batch_posting`` on
(migration 0007) the statement trigger verifies that each wallet's new rows form an unbroken chain
from its balance and never dip below zero where negatives are not allowed, then moves the wallet
once. Any disagreement (a prediction that was wrong: a writer that took no member lock, a key or
event already stored) raises :class:`Mispredicted`; the caller's transaction rolls back and the
queue delivers the message again. There is no second engine to fall back to.

Voice sessions (``changes.voice``) ride in the same two statements: stored sessions closed or ticked
in the first (``voice_closed``), sessions opened in the second (``voice_opened``), so a member's old
session is closed before their new one is inserted (the open-session unique index checks each row as
it is written, and the CTEs of one statement run in no fixed order).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from synapse.db import lake_store, ledger_store
from synapse.processing.changes import ChangeSet
from synapse.processing.voice import Changes as VoiceChanges

# Derived events and postings in one statement. The setting is switched on by a CTE the INSERT reads; the
# statement trigger (after the whole statement) sees it. It is switched off by the next statement
# (``_REST``), never in this one: the trigger would then skip the wallets.
_FIRST = text("""
WITH batch AS (SELECT set_config('synapse.batch_posting', 'on', true) AS on_),
voice_closed AS (
  UPDATE voice_sessions AS s
     SET ended_at = COALESCE(x.ended_at, s.ended_at), end_reason = COALESCE(x.reason, s.end_reason),
         last_tick_at = x.last_tick_at
    FROM unnest(CAST(:v_g AS bigint[]), CAST(:v_id AS bigint[]), CAST(:v_t AS timestamptz[]),
                CAST(:v_r AS text[]), CAST(:v_lt AS timestamptz[])) AS x(g, id, ended_at, reason, last_tick_at)
   WHERE s.guild_id = x.g AND s.id = x.id
  RETURNING 1),
events AS (
  INSERT INTO event_lake (id, guild_id, source_system, source_event_id, event_type, user_id, channel_id,
                          occurred_at, payload)
  SELECT * FROM unnest(
      CAST(:e_id AS bigint[]),
      CAST(:e_guild_id AS bigint[]), CAST(:e_source_system AS text[]), CAST(:e_source_event_id AS text[]),
      CAST(:e_event_type AS text[]), CAST(:e_user_id AS bigint[]), CAST(:e_channel_id AS bigint[]),
      CAST(:e_occurred_at AS timestamptz[]), CAST(:e_payload AS jsonb[]))
  ON CONFLICT (guild_id, source_system, source_event_id) DO NOTHING
  RETURNING id),
postings AS (
  INSERT INTO transactions (id, balance_after, guild_id, user_id, currency_key, amount, kind, idempotency_key,
                            reason, rule_id, rule_version, event_id, event_type, actor_id, season_id, occurred_at,
                            meta)
  SELECT x.* FROM unnest(
      CAST(:id AS bigint[]), CAST(:balance_after AS bigint[]),
      CAST(:guild_id AS bigint[]), CAST(:user_id AS bigint[]), CAST(:currency AS text[]),
      CAST(:amount AS bigint[]), CAST(:kind AS text[]), CAST(:key AS text[]), CAST(:reason AS text[]),
      CAST(:rule_id AS bigint[]), CAST(:rule_version AS int[]), CAST(:event_id AS bigint[]),
      CAST(:event_type AS text[]), CAST(:actor_id AS bigint[]), CAST(:season_id AS int[]),
      CAST(:occurred_at AS timestamptz[]), CAST(:meta AS jsonb[])) AS x
   WHERE (SELECT on_ FROM batch) = 'on'
  RETURNING id, balance_after)
SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM voice_closed) AS voice_closed,
       (SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM postings) AS ids,
       (SELECT COALESCE(array_agg(balance_after ORDER BY id), '{}') FROM postings) AS balances
""")
_REST = text("""
WITH off AS (SELECT set_config('synapse.batch_posting', 'off', true)),
grants AS (
  INSERT INTO user_milestones (guild_id, user_id, milestone_id, earned_at, event_id, source, granted_by)
  SELECT :g, u, m, t, ev, s, b
    FROM unnest(CAST(:gu AS bigint[]), CAST(:gm AS bigint[]), CAST(:gt AS timestamptz[]), CAST(:gev AS bigint[]),
                CAST(:gs AS text[]), CAST(:gb AS bigint[])) AS x(u, m, t, ev, s, b)
  ON CONFLICT DO NOTHING RETURNING 1),
fires AS (
  INSERT INTO rule_state (guild_id, rule_id, user_id, last_fired_at, last_event_id)
  SELECT :g, r, u, t, ev
    FROM unnest(CAST(:fr AS bigint[]), CAST(:fu AS bigint[]), CAST(:ft AS timestamptz[]), CAST(:fev AS bigint[]))
         AS x(r, u, t, ev)
  ON CONFLICT (guild_id, rule_id, user_id) DO UPDATE
     SET last_fired_at = GREATEST(rule_state.last_fired_at, EXCLUDED.last_fired_at),
         last_event_id = CASE WHEN EXCLUDED.last_fired_at >= rule_state.last_fired_at
                              THEN EXCLUDED.last_event_id ELSE rule_state.last_event_id END
  RETURNING 1),
outbox AS (
  INSERT INTO outbox (guild_id, kind, dedupe_key, payload)
  SELECT :g, k, d, CAST(p AS jsonb)
    FROM unnest(CAST(:ok AS text[]), CAST(:od AS text[]), CAST(:op AS text[])) WITH ORDINALITY AS x(k, d, p, n)
   ORDER BY n
  ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id),
voice_opened AS (
  INSERT INTO voice_sessions (guild_id, user_id, channel_id, started_at, ended_at, self_mute, self_deaf,
                              start_event_id, end_reason, last_tick_at)
  SELECT g, u, c, t, e, m, d, ev, r, lt
    FROM unnest(CAST(:vo_g AS bigint[]), CAST(:vo_u AS bigint[]), CAST(:vo_c AS bigint[]),
                CAST(:vo_t AS timestamptz[]), CAST(:vo_e AS timestamptz[]), CAST(:vo_m AS boolean[]),
                CAST(:vo_d AS boolean[]), CAST(:vo_ev AS bigint[]), CAST(:vo_r AS text[]),
                CAST(:vo_lt AS timestamptz[])) WITH ORDINALITY AS x(g, u, c, t, e, m, d, ev, r, lt, n)
   ORDER BY n
  RETURNING 1)
SELECT (SELECT count(*) FROM grants) AS granted, (SELECT count(*) FROM fires) AS fired,
       (SELECT count(*) FROM voice_opened) AS voice_opened,
       (SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM outbox) AS outbox_ids,
       (SELECT count(*) FROM off) AS off
""")


class Mispredicted(Exception):
    """The database disagreed with what the state predicted (a balance, an id, a key, a grant)."""


def _voice_updates(changes: VoiceChanges) -> dict[str, list[Any]]:
    rows: list[tuple[int, int, datetime | None, str | None, datetime]] = [
        (c.guild_id, c.id, c.ended_at, c.end_reason, c.ended_at) for c in changes.closed]
    rows += [(t.guild_id, t.id, None, None, t.last_tick_at) for t in changes.ticked]
    return {"v_g": [r[0] for r in rows], "v_id": [r[1] for r in rows], "v_t": [r[2] for r in rows],
            "v_r": [r[3] for r in rows], "v_lt": [r[4] for r in rows]}


def _voice_inserts(changes: VoiceChanges) -> dict[str, list[Any]]:
    new = [(o.session, o.start_event_id, o.end_reason) for o in changes.opened]
    return {"vo_g": [s.guild_id for s, _, _ in new], "vo_u": [s.user_id for s, _, _ in new],
            "vo_c": [s.channel_id for s, _, _ in new], "vo_t": [s.started_at for s, _, _ in new],
            "vo_e": [s.ended_at for s, _, _ in new], "vo_m": [s.self_mute for s, _, _ in new],
            "vo_d": [s.self_deaf for s, _, _ in new], "vo_ev": [ev for _, ev, _ in new],
            "vo_r": [r for _, _, r in new], "vo_lt": [s.last_tick_at for s, _, _ in new]}


def write(conn: Connection, changes: ChangeSet) -> list[int]:
    """Store a run's changes; return the ids of the outbox rows inserted (send them after commit)."""
    posted, derived, voice = changes.postings, changes.derived, changes.voice
    voice_updates = len({(c.guild_id, c.id) for c in voice.closed} | {(t.guild_id, t.id) for t in voice.ticked})
    if posted or derived or voice_updates:
        params: dict[str, Any] = {f"e_{k}": v for k, v in lake_store.event_columns(derived).items()}
        params.update(_voice_updates(voice))
        params["e_id"] = [e.id for e in derived]
        params.update(ledger_store.posting_columns([p.posting for p in posted]))
        params["id"] = [p.transaction_id for p in posted]
        params["balance_after"] = [p.balance_after for p in posted]
        try:   # a refusal aborts the caller's transaction: it rolls back, nothing half-written remains
            row = conn.execute(_FIRST, params).one()
        except IntegrityError as exc:
            raise Mispredicted(f"the database refused the postings: {exc.orig}") from exc
        if row.voice_closed != voice_updates:
            raise Mispredicted(f"{voice_updates - row.voice_closed} voice session(s) to close or tick are not stored")
        if row.events != len(derived):
            raise Mispredicted(f"{len(derived) - row.events} derived event(s) were already in the lake")
        written = dict(zip(row.ids, row.balances, strict=True))
        for p in posted:
            if written.get(p.transaction_id) != p.balance_after:
                raise Mispredicted(f"posting {p.posting.idempotency_key}: predicted balance {p.balance_after}, "
                                   f"database {written.get(p.transaction_id)}")
    if not (changes.grants or changes.fires or changes.outbox or posted or derived or voice):   # (switches it off)
        return []
    grants, fires = changes.grants, list(changes.fires.items())
    params = {
        "g": changes.guild_id,
        "gu": [x.user_id for x in grants], "gm": [x.milestone_id for x in grants],
        "gt": [x.earned_at for x in grants], "gev": [x.event_id for x in grants],
        "gs": [x.source for x in grants], "gb": [x.granted_by for x in grants],
        "fr": [k[0] for k, _ in fires], "fu": [k[1] for k, _ in fires],
        "ft": [v[0] for _, v in fires], "fev": [v[1] for _, v in fires],
        "ok": [o.kind for o in changes.outbox], "od": [o.dedupe_key for o in changes.outbox],
        "op": [json.dumps(o.payload) for o in changes.outbox], **_voice_inserts(voice)}
    rest = conn.execute(_REST, params).one()
    if rest.granted != len(grants):
        raise Mispredicted(f"{len(grants) - rest.granted} milestone(s) were already granted")
    return [int(i) for i in rest.outbox_ids]
