"""Every payload the relay builds is its event type's payload type, with no key the type does not declare."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from synapse.eventlake.events import CAPTURED_TYPES
from synapse.eventlake.payloads import VoiceMember, check_payload, payload_fields
from tests.relay import payloads as p
from tests.relay.harness import Harness

AT = datetime(2025, 1, 15, 14, 30, tzinfo=UTC)


def relay(frames: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    async def go() -> tuple[list[dict[str, Any]], int]:
        harness = Harness()
        await harness.start()
        await harness.feed(frames, at=AT)
        return harness.events, harness.ctx.stats.events_invalid

    return asyncio.run(go())


def test_every_relay_payload_validates_against_its_type() -> None:
    """Messages (plain, reply, in a thread, by a bot), deletes, reactions, voice, snapshots, threads, members."""
    original = p.message_create("first", mid="334385199974967001")["d"]
    crowd = [p.voice_state(str(10**17 + n), p.VOICE, with_member=False) for n in range(100)]
    events, invalid = relay([
        p.guild_create(voice_states=[p.voice_state(p.MASON, p.VOICE, with_member=False)]),
        p.guild_create(voice_states=crowd),  # a snapshot in parts
        p.message_create("```py\nprint(1)\n``` https://example.com", mentions=[p.user(p.NELLY, "Nelly")]),
        p.message_create("me too", mid="334385199974967002", author=p.user(p.NELLY, "Nelly"), reply_to=original,
                         attachments=1),
        p.thread_create(),
        p.message_create("in the thread", mid="334385199974967003", channel=p.THREAD),
        p.message_create("", mid="334385199974967004", author=p.user(p.BOT, "bot", bot=True)),
        p.reaction_add(), p.reaction_remove(), p.reaction_add(em=p.emoji("blobparty", "41771983429993937")),
        p.message_delete(), p.message_delete("999"),
        p.voice_update(p.NELLY, p.VOICE), p.voice_update(p.NELLY, p.VOICE_2), p.voice_update(p.NELLY, None),
        p.member_add(), p.member_remove(), p.member_add(p.BOT, bot=True),
    ])
    assert invalid == 0
    # Every kind the relay captures is here (command_used comes from interactions, not the gateway).
    assert {e["event_type"] for e in events} == CAPTURED_TYPES - {"command_used"}
    assert any("part" in e["payload"] for e in events)
    assert any(e["payload"].get("reply_to_user_id") and e["payload"].get("thread_id") is None for e in events)
    assert any(e["payload"].get("thread_id") for e in events)
    for e in events:
        check_payload(e["event_type"], e["payload"])
        undeclared = set(e["payload"]) - (payload_fields(e["event_type"]) or set())
        assert not undeclared, (e["event_type"], undeclared)
        for member in e["payload"].get("members", []):
            assert set(member) <= VoiceMember.__required_keys__ | VoiceMember.__optional_keys__
