"""Seasons: start the first one, and roll (snapshot, reset seasonal currencies, close, open the next).

A roll happens in one transaction:

1. lock the active season row (``FOR UPDATE``), so two rolls cannot interleave; the caller
   names the season it means to close (``expected_season_id``) so a double click is a 409;
2. snapshot every non-zero wallet of every currency into ``season_snapshots`` with its rank
   (position by balance, ties by member id) — past seasons stay browsable from there;
3. reset each seasonal currency with one ``season_reset`` transaction per wallet of
   ``-balance`` (``ledger.posting.season_resets``, keyed ``keys.SeasonReset``), so the ledger
   invariant ``balance == SUM(transactions)`` holds and the history shows why balances fell (a
   backtest across the roll makes the same postings: ``processing.loop.close_season``);
4. close the season, open the next, write the audit row and the ``season.closed`` webhooks.

Nothing is deleted or rewritten: a roll is visible in history (snapshots + reset transactions),
and reversible by hand with ``correction`` transactions if an admin rolled by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import ledger_store
from synapse.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from synapse.ledger.posting import season_resets

POSTING_BATCH = 5000


@dataclass(frozen=True)
class RollReport:
    closed_season_id: int
    opened_season_id: int
    snapshot_rows: int
    reset_wallets: dict[str, int]
    reset_total: dict[str, int]


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise ValidationFailed("invalid season", [ErrorDetail("name", "1..80 characters")])
    return name


def start(conn: Connection, guild_id: int, *, name: str, actor: Actor, at: datetime,
          scheduled_end_at: datetime | None = None) -> int:
    """Open the first season (or the next after a manual close); 409 if one is already active."""
    name = _check_name(name)
    conn.execute(text("SELECT 1 FROM guilds WHERE guild_id = :g FOR UPDATE"), {"g": guild_id})
    if conn.execute(text("SELECT 1 FROM seasons WHERE guild_id = :g AND status = 'active'"),
                    {"g": guild_id}).first():
        raise Conflict("a season is already active", hint="roll it instead")
    season_id = _open(conn, guild_id, name, at, scheduled_end_at)
    record(conn, guild_id=guild_id, actor=actor, action="season.start", entity_type="season",
           entity_id=season_id, after={"season_id": season_id, "name": name, "started_at": at})
    return season_id


def _open(conn: Connection, guild_id: int, name: str, at: datetime, scheduled_end_at: datetime | None) -> int:
    return int(conn.execute(text("""
        INSERT INTO seasons (guild_id, season_id, name, started_at, scheduled_end_at, status)
        SELECT :g, COALESCE(MAX(season_id), 0) + 1, :n, :at, :end, 'active' FROM seasons WHERE guild_id = :g
        RETURNING season_id"""), {"g": guild_id, "n": name, "at": at, "end": scheduled_end_at}).scalar_one())


def roll(conn: Connection, guild_id: int, *, expected_season_id: int, next_name: str, actor: Actor,
         at: datetime, next_scheduled_end_at: datetime | None = None) -> RollReport:
    next_name = _check_name(next_name)
    current = conn.execute(text("""
        SELECT season_id, name, started_at FROM seasons
         WHERE guild_id = :g AND status = 'active' FOR UPDATE"""), {"g": guild_id}).first()
    if current is None:
        raise NotFound("no active season to roll", hint="start a season first")
    if current.season_id != expected_season_id:
        raise Conflict(f"season {expected_season_id} is not the active one (season {current.season_id} is)",
                       hint="reload the page: someone else may have rolled already")
    season_id = int(current.season_id)
    snapshot_rows = conn.execute(text("""
        INSERT INTO season_snapshots (guild_id, season_id, currency_key, user_id, balance, rank)
        SELECT guild_id, :s, currency_key, user_id, balance,
               row_number() OVER (PARTITION BY currency_key ORDER BY balance DESC, user_id)
          FROM wallets WHERE guild_id = :g AND balance <> 0"""), {"g": guild_id, "s": season_id}).rowcount
    currencies = ledger_store.load_currencies(conn, guild_id)
    reset_wallets: dict[str, int] = {}
    reset_total: dict[str, int] = {}
    for key, cur in currencies.items():
        if not cur.seasonal:
            continue
        rows = conn.execute(text("""
            SELECT user_id, balance FROM wallets
             WHERE guild_id = :g AND currency_key = :c AND balance <> 0 ORDER BY user_id"""),
            {"g": guild_id, "c": key}).all()
        postings = season_resets(guild_id, season_id, current.name, at, key,
                                 [(int(r.user_id), int(r.balance)) for r in rows], actor_id=actor.id)
        for i in range(0, len(postings), POSTING_BATCH):
            ledger_store.post(conn, postings[i:i + POSTING_BATCH])
        reset_wallets[key] = len(postings)
        reset_total[key] = sum(int(r.balance) for r in rows)
    conn.execute(text("UPDATE seasons SET status = 'closed', ended_at = :at WHERE guild_id = :g AND season_id = :s"),
                 {"g": guild_id, "s": season_id, "at": at})
    opened = _open(conn, guild_id, next_name, at, next_scheduled_end_at)
    report = RollReport(season_id, opened, snapshot_rows, reset_wallets, reset_total)
    record(conn, guild_id=guild_id, actor=actor, action="season.roll", entity_type="season", entity_id=season_id,
           before={"season_id": season_id, "name": current.name, "status": "active"},
           after={"closed": season_id, "opened": opened, "next_name": next_name,
                  "snapshot_rows": snapshot_rows, "reset_wallets": reset_wallets, "reset_total": reset_total})
    from synapse.services.integrations import enqueue_webhooks

    enqueue_webhooks(conn, guild_id, "season.closed", f"season:{season_id}", {
        "season_id": season_id, "name": current.name, "started_at": current.started_at.isoformat(),
        "ended_at": at.isoformat(), "next_season_id": opened,
        "top": _top(conn, guild_id, season_id)})
    return report


def _top(conn: Connection, guild_id: int, season_id: int) -> dict[str, list[dict[str, Any]]]:
    rows = conn.execute(text("""
        SELECT s.currency_key, s.user_id, s.balance, s.rank FROM season_snapshots s
          LEFT JOIN member_cache m ON m.guild_id = s.guild_id AND m.user_id = s.user_id
         WHERE s.guild_id = :g AND s.season_id = :s AND s.rank <= 3 AND NOT COALESCE(m.public_opt_out, false)
         ORDER BY s.currency_key, s.rank"""), {"g": guild_id, "s": season_id})
    top: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        top.setdefault(r.currency_key, []).append({"user_id": str(r.user_id), "balance": int(r.balance),
                                                   "rank": int(r.rank)})
    return top
