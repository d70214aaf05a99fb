"""The member cache follows the newest event about a member, whatever order messages arrive in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.eventlake.envelope import encode_envelope
from synapse.services.ingest import handle
from synapse.simulate.community import iso
from tests.pipeline.conftest import GUILD, T0, Stack

USER = 777


def message(n: int, minutes: int, name: str, roles: list[str]) -> dict[str, Any]:
    return {"source_system": "discord", "source_event_id": f"message_create:{n}", "event_type": "message_create",
            "guild_id": str(GUILD), "user_id": str(USER), "channel_id": "42",
            "occurred_at": iso(T0 + timedelta(minutes=minutes)), "payload": {"length": 30},
            "actor": {"name": name, "avatar": "a" * 32, "bot": False, "roles": roles}}


def test_newest_actor_data_wins_and_join_leave_dates_are_kept(stack: Stack) -> None:
    """Name and roles come from the newest event; a late older message does not roll them back."""
    clock = FixedClock(T0 + timedelta(days=1))
    joined = {"source_system": "discord", "source_event_id": f"member_join:{USER}:{iso(T0)}",
              "event_type": "member_join", "guild_id": str(GUILD), "user_id": str(USER), "channel_id": None,
              "occurred_at": iso(T0), "payload": {"account_created_at": "2020-01-01T00:00:00Z", "is_bot": False},
              "actor": {"name": "newbie", "roles": []}}
    handle(encode_envelope([joined, message(1, 10, "ada", ["5"])]), stack.engine, clock=clock)
    handle(encode_envelope([message(3, 30, "Ada L.", ["5", "6"])]), stack.engine, clock=clock)
    handle(encode_envelope([message(2, 20, "old name", ["5"])]), stack.engine, clock=clock)  # late
    with stack.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM member_cache WHERE guild_id = :g AND user_id = :u"),
                           {"g": GUILD, "u": USER}).one()
    assert (row.display_name, sorted(row.roles)) == ("Ada L.", [5, 6])
    assert row.joined_at == T0 and row.left_at is None
    assert row.account_created_at.year == 2020
    assert row.first_seen_at == T0 and row.last_seen_at == T0 + timedelta(minutes=30)


def test_reported_role_changes_become_a_history_of_changes(stack: Stack) -> None:
    """A row per reported change, in time order; none for a repeat, a redelivery or no actor; late ones in place."""
    clock = FixedClock(T0 + timedelta(days=1))
    first = encode_envelope([message(1, 10, "ada", ["5"]), message(2, 20, "ada", ["5"]),
                             message(4, 40, "ada", ["6", "5"]), message(3, 30, "ada", ["5", "6"])])
    handle(first, stack.engine, clock=clock)
    handle(first, stack.engine, clock=clock)   # redelivered
    no_actor = message(5, 45, "", [])
    del no_actor["actor"]
    handle(encode_envelope([message(6, 50, "ada", ["5", "6"]), no_actor]), stack.engine, clock=clock)
    handle(encode_envelope([message(7, 25, "ada", ["7"])]), stack.engine, clock=clock)   # late
    handle(encode_envelope([message(8, 60, "ada", [])]), stack.engine, clock=clock)
    with stack.engine.connect() as conn:
        history = [(r.since, sorted(r.roles)) for r in conn.execute(sa.text(
            "SELECT since, roles FROM member_role_history WHERE guild_id = :g AND user_id = :u ORDER BY since"),
            {"g": GUILD, "u": USER})]
        cached = conn.execute(sa.text("SELECT roles FROM member_cache WHERE guild_id = :g AND user_id = :u"),
                              {"g": GUILD, "u": USER}).scalar_one()
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    assert history == [(at(10), [5]), (at(25), [7]), (at(30), [5, 6]), (at(60), [])]
    assert cached == []
