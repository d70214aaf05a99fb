"""The one writer: ``write(conn, changes) -> outbox ids``, bulk statements inside the caller's transaction.

Derived events and postings carry the ids the loader reserved; postings carry the ``balance_after``
the state predicted. The database still checks every balance: with ``synapse.batch_posting`` on
(migration 0007) the statement trigger verifies that each wallet's new rows form an unbroken chain
from its balance and never dip below zero where negatives are not allowed, then moves the wallet
once. Any disagreement (a prediction that was wrong: a writer that took no member lock, a key or
event already stored) raises :class:`Mispredicted`; the caller's transaction rolls back and the
queue delivers the message again. There is no second engine to fall back to.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from synapse.db import lake_store, ledger_store
from synapse.processing.changes import ChangeSet

# Derived events and postings in one statement. The setting is switched on by a CTE the INSERT reads; the
# statement trigger (after the whole statement) sees it. It is switched off by the next statement
# (``_REST``), never in this one: the trigger would then skip the wallets.
_FIRST = text("""
WITH batch AS (SELECT set_config('synapse.batch_posting', 'on', true) AS on_),
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
SELECT (SELECT count(*) FROM events) AS events,
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
  ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id)
SELECT (SELECT count(*) FROM grants) AS granted, (SELECT count(*) FROM fires) AS fired,
       (SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM outbox) AS outbox_ids,
       (SELECT count(*) FROM off) AS off
""")


class Mispredicted(Exception):
    """The database disagreed with what the state predicted (a balance, an id, a key, a grant)."""


def write(conn: Connection, changes: ChangeSet) -> list[int]:
    """Store a run's changes; return the ids of the outbox rows inserted (send them after commit)."""
    posted, derived = changes.postings, changes.derived
    if posted or derived:
        params: dict[str, Any] = {f"e_{k}": v for k, v in lake_store.event_columns(derived).items()}
        params["e_id"] = [e.id for e in derived]
        params.update(ledger_store.posting_columns([p.posting for p in posted]))
        params["id"] = [p.transaction_id for p in posted]
        params["balance_after"] = [p.balance_after for p in posted]
        try:   # a refusal aborts the caller's transaction: it rolls back, nothing half-written remains
            row = conn.execute(_FIRST, params).one()
        except IntegrityError as exc:
            raise Mispredicted(f"the database refused the postings: {exc.orig}") from exc
        if row.events != len(derived):
            raise Mispredicted(f"{len(derived) - row.events} derived event(s) were already in the lake")
        written = dict(zip(row.ids, row.balances, strict=True))
        for p in posted:
            if written.get(p.transaction_id) != p.balance_after:
                raise Mispredicted(f"posting {p.posting.idempotency_key}: predicted balance {p.balance_after}, "
                                   f"database {written.get(p.transaction_id)}")
    if not (changes.grants or changes.fires or changes.outbox or posted or derived):   # (switches it off)
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
        "op": [json.dumps(o.payload) for o in changes.outbox]}
    rest = conn.execute(_REST, params).one()
    if rest.granted != len(grants):
        raise Mispredicted(f"{len(grants) - rest.granted} milestone(s) were already granted")
    return [int(i) for i in rest.outbox_ids]
