"""The voice timer's use case: pay open sessions their minutes so far, close stale ones.

Runs every minute. One transaction per guild (and per chunk of sessions): lock the
members, emit the ticks each open session has earned (keys from the session's content,
so a tick is never paid twice however often or rarely the timer runs), append them to
the lake, evaluate the rules on the new ones, commit, enqueue the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from synapse.clock import Clock
from synapse.db import lake_store, ledger_store
from synapse.db.engine import transaction
from synapse.services import voice
from synapse.services.ingest import rule_cache

log = logging.getLogger(__name__)

CHUNK = 200


@dataclass
class TickReport:
    sessions: int = 0
    ticks: int = 0
    closed: int = 0
    postings: int = 0
    outbox_ids: int = 0


def credit_open_sessions(engine: Engine, *, clock: Clock, rules: Any = None,
                         announce: Callable[[list[int]], object] | None = None) -> TickReport:
    from synapse.services.rules_runner import process

    report = TickReport()
    now = clock.now()
    with engine.connect() as conn:
        sessions = voice.open_sessions(conn)
    by_guild: dict[int, list[voice.Session]] = {}
    for s in sessions:
        by_guild.setdefault(s.guild_id, []).append(s)
    for guild_sessions in by_guild.values():
        for start in range(0, len(guild_sessions), CHUNK):
            chunk = guild_sessions[start:start + CHUNK]
            with transaction(engine) as conn:
                # The members' locks, and the transaction id the rollups rely on (see rollups.py).
                ledger_store.lock_member_pairs(conn, {(s.guild_id, s.user_id) for s in chunk})
                derived = voice.tick_sessions(conn, chunk, now=now)
                new = lake_store.insert_derived(conn, derived)
                result = process(conn, new, rules=rules or rule_cache(), clock=clock, members_locked=True)
            report.sessions += len(chunk)
            report.ticks += sum(1 for e in new if e.event_type == "voice_tick")
            report.closed += sum(1 for e in new if e.event_type == "voice_session_end")
            report.postings += result.postings
            report.outbox_ids += len(result.outbox_ids)
            if result.outbox_ids and announce is not None:
                announce(list(result.outbox_ids))
    if report.sessions:
        log.info("voice ticks credited", extra=report.__dict__)
    return report
