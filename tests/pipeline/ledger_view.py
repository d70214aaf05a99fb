"""Order-independent views of a database's ledger, to compare two runs (event ids differ between runs)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from synapse.db.snapshot import SUMMED_EVENT_TYPES


def balances(engine: sa.Engine) -> dict[tuple[int, int, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT guild_id, user_id, currency_key, balance FROM wallets"))
        return {(r.guild_id, r.user_id, r.currency_key): r.balance for r in rows}


def transactions(engine: sa.Engine) -> Counter[tuple[Any, ...]]:
    """Each transaction named by what caused it (rule name + the causing event's natural key)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT t.user_id, t.currency_key, t.amount, t.kind, r.name AS rule, e.source_system, e.source_event_id
              FROM transactions t
              LEFT JOIN rules r ON r.guild_id = t.guild_id AND r.rule_id = t.rule_id
              LEFT JOIN event_lake e ON e.guild_id = t.guild_id AND e.id = t.event_id"""))
        return Counter(tuple(r) for r in rows)


def milestones(engine: sa.Engine) -> set[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT um.user_id, m.key FROM user_milestones um
              JOIN milestones m USING (guild_id, milestone_id)"""))
        return {(r.user_id, r.key) for r in rows}


def outbox(engine: sa.Engine) -> Counter[tuple[str, str]]:
    """Outbox rows by what they say (dedupe keys embed run-specific ids such as transaction ids).

    A level-up is announced in the channel of the activity that crossed the line; when a member's
    XP comes from two messages (their chat and the voice channel's), which one crossed it depends
    on arrival order, so that channel is left out of the comparison (the level and member are not).
    """
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, payload FROM outbox"))
        out: Counter[tuple[str, str]] = Counter()
        for r in rows:
            payload = dict(r.payload)
            if payload.get("reason") == "level_up":
                payload.pop("channel_id", None)
            out[(r.kind, json.dumps(payload, sort_keys=True))] += 1
        return out


def lake(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(r.event_type for r in conn.execute(sa.text("SELECT event_type FROM event_lake")))


Totals = dict[tuple[int, int, str, str], tuple[int, Decimal]]


def member_totals(engine: sa.Engine) -> Totals:
    """``member_event_totals`` as (guild, member, type, field) -> (events, total)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT guild_id, user_id, event_type, field, events, total FROM member_event_totals"))
        return {(r.guild_id, r.user_id, r.event_type, r.field): (r.events, Decimal(r.total)) for r in rows}


def member_totals_of_lake(engine: sa.Engine, summed: tuple[str, ...] = SUMMED_EVENT_TYPES) -> Totals:
    """What ``member_event_totals`` must hold, counted here from the lake's rows: each member's events per
    type, and for the ``summed`` types (the loader's, so migration 0017's triggers must agree with them)
    each top-level field holding a JSON number (how many, their sum)."""
    out: dict[tuple[int, int, str, str], tuple[int, Decimal]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT guild_id, user_id, event_type, payload FROM event_lake WHERE user_id IS NOT NULL"))
        for r in rows:
            fields = [("", Decimal(0))]
            if r.event_type in summed:
                fields += [(k, Decimal(str(v))) for k, v in r.payload.items()
                           if isinstance(v, int | float) and not isinstance(v, bool)]
            for name, value in fields:
                key = (r.guild_id, r.user_id, r.event_type, name)
                n, total = out.get(key, (0, Decimal(0)))
                out[key] = (n + 1, total + value)
    return out


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    return {"balances": balances(engine), "transactions": transactions(engine), "milestones": milestones(engine),
            "outbox": outbox(engine), "lake": lake(engine), "member_totals": member_totals(engine)}
