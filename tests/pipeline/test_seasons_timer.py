"""Scheduled season rolls: the timer rolls a season whose scheduled end passed, once, at the scheduled time."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.clock import FixedClock
from synapse.services import seasons
from synapse.services.seasons_timer import roll_due_seasons
from tests.pipeline.conftest import GUILD, T0, Stack


def test_due_season_rolls_once_and_the_next_keeps_its_length(stack: Stack) -> None:
    """Past its scheduled end, the season is rolled at that end; the next one is as long; a rerun does nothing."""
    end = T0 + timedelta(days=7)
    with stack.engine.begin() as conn:
        seasons.start(conn, GUILD, name="Season 1", actor=SYSTEM, at=T0, scheduled_end_at=end)
    assert roll_due_seasons(stack.engine, clock=FixedClock(end + timedelta(hours=3))).rolled == []  # module off
    with stack.engine.begin() as conn:
        conn.execute(sa.text("UPDATE modules SET enabled = true WHERE guild_id = :g AND key = 'seasons'"),
                     {"g": GUILD})
    assert roll_due_seasons(stack.engine, clock=FixedClock(end - timedelta(minutes=1))).rolled == []
    report = roll_due_seasons(stack.engine, clock=FixedClock(end + timedelta(hours=3)))
    assert report.rolled == [(GUILD, 1, 2)]
    assert roll_due_seasons(stack.engine, clock=FixedClock(end + timedelta(hours=3))).rolled == []
    with stack.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT season_id, status, ended_at, started_at, scheduled_end_at "
                                    "FROM seasons WHERE guild_id = :g ORDER BY 1"), {"g": GUILD}).all()
    assert rows[0].status == "closed" and rows[0].ended_at == end
    assert rows[1].status == "active" and rows[1].started_at == end
    assert rows[1].scheduled_end_at == end + timedelta(days=7)
