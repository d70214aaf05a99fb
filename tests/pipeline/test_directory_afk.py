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


def skips_afk(definition: dict[str, object]) -> bool:
    conditions = definition["conditions"]
    assert isinstance(conditions, list)
    return any(c["type"] == "tags" and c["none_of"] == ["afk"] for c in conditions)


def test_guild_init_upgrades_an_unedited_voice_xp_rule_to_skip_the_afk_channel(stack: Stack) -> None:
    """A guild installed before the AFK exclusion gets it on the next init (a new version)."""
    import sqlalchemy as sa

    from synapse.admin.audit import SYSTEM
    from synapse.db import rules_store
    from synapse.rules.defaults import SUPERSEDED_RULES
    from synapse.services.guild_init import init_guild

    def voice_rule() -> object:
        with stack.engine.connect() as conn:
            return conn.execute(sa.text("SELECT rule_id, version, definition FROM rules WHERE guild_id = :g "
                                        "AND name = 'Voice XP'"), {"g": GUILD}).one()

    [old] = SUPERSEDED_RULES["Voice XP"]
    with stack.engine.begin() as conn:  # as an earlier release installed it
        rules_store.save_rule(conn, GUILD, old, rule_id=voice_rule().rule_id)  # type: ignore[attr-defined]
    assert not skips_afk(voice_rule().definition)  # type: ignore[attr-defined]
    with stack.engine.begin() as conn:
        assert init_guild(conn, GUILD, actor=SYSTEM).installed.get("upgraded_rules") == 1
    assert skips_afk(voice_rule().definition)  # type: ignore[attr-defined]
