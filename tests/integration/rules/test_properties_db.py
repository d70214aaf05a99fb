"""Against the real database: after any sequence of events, in any batching, the ledger invariant holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store
from synapse.eventlake.events import DISCORD, Event
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message, reaction, voice_tick
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, tzinfo=UTC)

step = st.one_of(
    st.tuples(st.just("msg"), st.integers(1, 3), st.integers(1, 12), st.integers(0, 7200)),
    st.tuples(st.just("react"), st.integers(1, 3), st.integers(1, 12), st.integers(0, 7200)),
    st.tuples(st.just("unreact"), st.integers(1, 3), st.integers(1, 12), st.integers(0, 7200)),
    st.tuples(st.just("delete"), st.integers(1, 3), st.integers(1, 12), st.integers(0, 7200)),
    st.tuples(st.just("voice"), st.integers(1, 3), st.integers(1, 12), st.integers(0, 7200)),
)


def _event(guild: int, kind: str, user: int, mid: int, sec: int) -> Event:
    at = T0 + timedelta(seconds=sec)
    author = 1 + mid % 3
    if kind == "msg":
        return message(guild, author, mid, at)
    if kind in ("react", "unreact"):
        return reaction(guild, user, mid, author, at, removed=kind == "unreact")
    if kind == "delete":
        return Event(DISCORD, f"message_delete:{mid}", "message_delete", guild, author, 501, at,
                     {"message_id": str(mid)})
    return voice_tick(guild, user, at, members_in_channel=1 + mid % 3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=40), st.integers(1, 10), st.integers(0, 10**6))
def test_ledger_invariant_after_any_sequence(engine: sa.Engine, steps: list[tuple[str, int, int, int]],
                                             batch: int, salt: int) -> None:
    """Events in random time order and batching: wallets equal their transactions and never go negative,
    the star cap and the message cooldown hold, and a redelivery changes nothing."""
    guild = 10_000 + salt
    with engine.begin() as conn:
        init_guild(conn, guild, actor=SYSTEM)
    events = [_event(guild, *s) for s in steps]
    cache: RuleCache[object] = RuleCache()
    for i in range(0, len(events), batch):
        with engine.begin() as conn:
            process(conn, lake_store.append(conn, events[i:i + batch]), rules=cache)
    with engine.begin() as conn:  # a redelivered message after commit: nothing new
        assert process(conn, lake_store.append(conn, events), rules=cache).postings == 0
    with engine.connect() as conn:
        assert ledger_store.verify(conn, guild) == []
        negative = conn.execute(sa.text("SELECT count(*) FROM wallets WHERE guild_id = :g AND balance < 0"),
                                {"g": guild}).scalar_one()
        over_cap = conn.execute(sa.text("""
            SELECT count(*) FROM (SELECT user_id, date_trunc('day', occurred_at AT TIME ZONE 'UTC'), SUM(amount) s
                                    FROM transactions WHERE guild_id = :g AND currency_key = 'stars' AND kind = 'rule'
                                   GROUP BY 1, 2) d WHERE s > 25"""), {"g": guild}).scalar_one()
        too_close = conn.execute(sa.text("""
            SELECT count(*) FROM transactions a JOIN transactions b
              ON a.guild_id = b.guild_id AND a.user_id = b.user_id AND a.rule_id = b.rule_id AND a.id < b.id
             JOIN rules r ON r.guild_id = a.guild_id AND r.rule_id = a.rule_id AND r.name = 'Message XP'
             WHERE a.guild_id = :g AND a.kind = 'rule' AND b.kind = 'rule'
               AND abs(extract(epoch FROM a.occurred_at - b.occurred_at)) < 60"""), {"g": guild}).scalar_one()
    assert negative == 0 and over_cap == 0 and too_close == 0
