"""Voice XP excludes the guild's AFK channel by default: the relay's guild_update (or a directory refresh)
names it, the channel facts tag it "afk", and the default Voice XP rule refuses that tag."""

from __future__ import annotations

from datetime import timedelta

from synapse.simulate.community import iso
from tests.pipeline.conftest import GUILD, T0, Stack
from tests.pipeline.test_voice import GAMING, LOUNGE, A, B, ev, ingest, rows, xp


def afk_is(channel: int, at: object) -> dict[str, object]:
    return {"source_system": "discord", "source_event_id": f"guild_update:{GUILD}:{at}", "event_type": "guild_update",
            "guild_id": str(GUILD), "user_id": None, "channel_id": None, "occurred_at": at,
            "payload": {"afk_channel_id": str(channel)}}


def test_talking_in_the_afk_channel_earns_no_voice_xp(stack: Stack) -> None:
    """Two members 10 min in the AFK channel earn nothing; the same 10 min in another channel pay 5 XP a minute."""
    ingest(stack, afk_is(LOUNGE, iso(T0 - timedelta(hours=1))))
    assert rows(stack, "SELECT count(*) AS n FROM event_lake WHERE event_type = 'guild_update'")[0].n == 0
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    ingest(stack, ev("voice_leave", A, T0 + timedelta(minutes=10), channel_id=LOUNGE),
           ev("voice_leave", B, T0 + timedelta(minutes=10), channel_id=LOUNGE))
    ticks = rows(stack, "SELECT sum((payload->>'minutes')::int) AS m FROM event_lake WHERE event_type = 'voice_tick'")
    assert ticks[0].m == 20  # the minutes are counted (voice time), just not paid
    assert xp(stack, A) == 0 and xp(stack, B) == 0
    t = T0 + timedelta(hours=1)
    ingest(stack, ev("voice_join", A, t, channel_id=GAMING), ev("voice_join", B, t, channel_id=GAMING))
    ingest(stack, ev("voice_leave", A, t + timedelta(minutes=10), channel_id=GAMING),
           ev("voice_leave", B, t + timedelta(minutes=10), channel_id=GAMING))
    assert xp(stack, A) == 50 and xp(stack, B) == 50
