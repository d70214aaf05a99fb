"""The voice timer's use case: pay open sessions their minutes so far, close stale ones.

Runs every minute. One transaction per guild (and per chunk of sessions), through the
pipeline's own steps (``services.ingest.handle_ticks``): lock the members, emit the ticks
each open session has earned (keys from the session's content, so a tick is never paid
twice however often or rarely the timer runs), append them to the lake, evaluate the rules
on them, one write (postings, sessions ticked or closed, ...), commit, enqueue the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from synapse.clock import Clock
from synapse.services import ingest, voice

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
            # The pipeline's steps from the lock on (services.ingest): lock, ticks, rules, one write.
            result = ingest.handle_ticks(engine, chunk, now=now, rules=rules, announce=announce)
            report.sessions += len(chunk)
            report.ticks += result.ticks
            report.closed += result.closed
            report.postings += result.postings
            report.outbox_ids += len(result.outbox_ids)
    if report.sessions:
        log.info("voice ticks credited", extra=report.__dict__)
    return report
