"""Fault injection at the Discord edge: a long rate limit must delay announcements, never drop them.

Discord's buckets can reset further away than the client waits inline (``max_inline_wait``); the
client then raises ``RateLimited`` and the announcer reschedules the row for when the bucket resets.
A row waiting for its turn is not failing: after a burst (a retroactive milestone grant assigning a
role to hundreds of members) every row must end ``sent``, however many sweeps it waited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.services.announce import MAX_ATTEMPTS, Announcer
from tests.hardening import checks
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_time import FakeTime

pytestmark = [pytest.mark.integration, pytest.mark.fault]

ROLES = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
MESSAGES = "POST /channels/{channel_id}/messages"


def test_a_burst_behind_a_long_rate_limit_is_delayed_not_dropped(engine: sa.Engine) -> None:
    """200 role changes and 40 posts behind buckets that reset every 30 s (longer than the client waits
    inline), swept once a minute: all end sent, each message once, none 'failed for good'."""
    ft = FakeTime()
    fake = FakeDiscord(clock=ft.monotonic).start()
    try:
        fake.set_limit(ROLES, 10, 30.0)
        fake.set_limit(MESSAGES, 5, 30.0)
        with engine.begin() as conn:
            for i in range(240):
                role = i < 200
                conn.execute(sa.text("""
                    INSERT INTO outbox (guild_id, kind, dedupe_key, payload)
                    VALUES (789, :k, :d, CAST(:p AS jsonb))"""),
                    {"k": "role_add" if role else "announce", "d": f"burst:{i}",
                     "p": json.dumps({"user_id": str(i + 1), "role_id": "55", "reason": "retro"} if role else
                                     {"target": "fixed", "channel_id": "1000", "user_id": str(i + 1),
                                      "embed": {"title": f"Milestone {i}"}, "reason": "milestone"})})
        clock = FixedClock(datetime.now(UTC))
        client = fake.client(sleep=ft.sleep, monotonic=ft.monotonic)
        announcer = Announcer(engine, client, clock=clock)
        rounds = 0
        while checks.outbox_status(engine).get("pending") and rounds < 3 * MAX_ATTEMPTS:
            announcer.sweep(min_age_seconds=0, limit=500)
            rounds += 1
            clock.advance(minutes=1)
            ft.advance(60)
        client.close()
        status = checks.outbox_status(engine)
        with engine.connect() as conn:
            failed = conn.execute(sa.text(
                "SELECT last_error FROM outbox WHERE status = 'failed' LIMIT 3")).scalars().all()
        assert status == {"sent": 240}, f"{dict(status)} after {rounds} sweeps; e.g. {failed}"
        assert len(fake.role_changes) == 200
        checks.assert_posted_once(fake)
        assert rounds > MAX_ATTEMPTS, "the burst outlasted max_attempts sweeps (the case this test is about)"
    finally:
        fake.stop()
