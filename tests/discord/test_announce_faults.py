"""Fault injection (issue 10): Discord answers 429 and 5xx for a while, answers get lost, workers race.

Afterwards no announcement is posted twice and nothing that should have gone is left in the outbox.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.services.announce import Announcer
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_time import FakeTime

pytestmark = [pytest.mark.integration, pytest.mark.fault]

MESSAGES = "POST /channels/{channel_id}/messages"
ROLES = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"


def test_stormy_discord_posts_everything_exactly_once(engine: sa.Engine, fake_discord: FakeDiscord) -> None:
    """60 rows, 4 workers, Discord giving 429s (route and global), 500s after storing the message,
    503s and dropped connections: every row ends sent, every message exists once."""
    rng = random.Random(7)
    with engine.begin() as conn:
        ids = [conn.execute(sa.text("""
            INSERT INTO outbox (guild_id, kind, dedupe_key, payload) VALUES (789, :k, :d, CAST(:p AS jsonb))
            RETURNING id"""), {
                "k": "announce" if i % 3 else "role_add", "d": f"storm:{i}",
                "p": json.dumps({"target": "fixed", "channel_id": str(1000 + i % 5), "user_id": str(i + 1),
                                 "embed": {"title": f"Level {i}", "description": f"<@{i + 1}> #{i}"},
                                 "content": "", "reason": "level_up"} if i % 3 else
                                {"user_id": str(i + 1), "role_id": "55", "reason": "storm"})}).scalar_one()
               for i in range(60)]
    fake_discord.fail_next(MESSAGES, 500, n=6, after_commit=True)
    fake_discord.fail_next(MESSAGES, 429, n=4, retry_after=30.0)
    fake_discord.fail_next("*", 429, n=2, retry_after=12.0, is_global=True)
    fake_discord.fail_next("*", 503, n=10)
    fake_discord.fail_next(ROLES, 0, n=3)
    clock = FixedClock(datetime.now(UTC))
    times = [FakeTime() for _ in range(4)]
    clients = [fake_discord.client(sleep=t.sleep, monotonic=t.monotonic, max_retries=1) for t in times]
    workers = [Announcer(engine, c, clock=clock) for c in clients]

    def run(worker: Announcer, batch: list[int]) -> None:
        worker.send(batch)

    batches = [rng.sample(ids, len(ids)) for _ in workers]
    threads = [threading.Thread(target=run, args=(w, b)) for w, b in zip(workers, batches, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(20):  # the timer's sweeps, each a little later
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar_one()
        if not left:
            break
        clock.advance(minutes=2)
        for t in times:
            t.advance(120)
        workers[rng.randrange(4)].sweep()
    for c in clients:
        c.close()
    with engine.connect() as conn:
        statuses = Counter(conn.execute(sa.text("SELECT status FROM outbox")).scalars())
    assert statuses == {"sent": 60}
    per_nonce = Counter(m["nonce"] for m in fake_discord.messages)
    assert len(per_nonce) == 40 and set(per_nonce.values()) == {1}
    assert all(fake_discord.member_roles[("789", str(i + 1))] == {"55"} for i in range(0, 60, 3))
    assert any(r.status == 429 for r in fake_discord.requests)
    assert any(r.status == 500 for r in fake_discord.requests)
