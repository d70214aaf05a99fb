"""Scheduled season rolls: a season whose ``scheduled_end_at`` has passed is rolled by the timer.

The roll itself is ``synapse.services.seasons.roll`` (snapshot, seasonal resets, close, open the
next, audit row, webhooks), done as the ``system`` actor at the *scheduled* time, so a late timer
rolls exactly as a punctual one would. The next season gets the same length. Only guilds with
the Seasons module on are rolled. Two timers racing are safe: the roll locks the active season
and names the one it closes, so the loser gets a ``Conflict`` and moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from synapse.admin.audit import SYSTEM
from synapse.clock import Clock
from synapse.db.engine import transaction
from synapse.errors import Conflict, NotFound

log = logging.getLogger(__name__)


@dataclass
class SeasonTimerReport:
    rolled: list[tuple[int, int, int]] = field(default_factory=list)  # (guild, closed season, opened season)


def roll_due_seasons(engine: Engine, *, clock: Clock) -> SeasonTimerReport:
    from synapse.services.seasons import roll

    report = SeasonTimerReport()
    with engine.connect() as conn:
        due = conn.execute(text("""
            SELECT s.guild_id, s.season_id, s.started_at, s.scheduled_end_at FROM seasons s
              JOIN modules m ON m.guild_id = s.guild_id AND m.key = 'seasons' AND m.enabled
             WHERE s.status = 'active' AND s.scheduled_end_at IS NOT NULL AND s.scheduled_end_at <= :now
             ORDER BY s.guild_id"""), {"now": clock.now()}).all()
    for row in due:
        length = row.scheduled_end_at - row.started_at
        try:
            with transaction(engine) as conn:
                result = roll(conn, row.guild_id, expected_season_id=row.season_id,
                              next_name=f"Season {row.season_id + 1}", actor=SYSTEM, at=row.scheduled_end_at,
                              next_scheduled_end_at=row.scheduled_end_at + length if length.total_seconds() > 0
                              else None)
        except (Conflict, NotFound) as exc:  # rolled meanwhile (by an admin or another timer)
            log.info("scheduled season roll skipped", extra={"guild_id": row.guild_id, "reason": exc.message})
            continue
        report.rolled.append((row.guild_id, result.closed_season_id, result.opened_season_id))
        log.info("season rolled on schedule", extra={"guild_id": row.guild_id, "closed": result.closed_season_id,
                                                      "opened": result.opened_season_id})
    return report
