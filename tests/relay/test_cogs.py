"""Docs-shaped gateway payloads through discord.py's parsers and the relay's cogs → envelope events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import discord
import pytest

from relay.client import RelayBot, relay_intents
from relay.context import RelayContext
from relay.features import text_features
from relay.normalise import SNAPSHOT_MEMBERS_PER_EVENT
from synapse.eventlake.envelope import MAX_PAYLOAD_BYTES, validate_envelope
from tests.relay import payloads as p
from tests.relay.harness import KEY, run_frames

AT = datetime(2025, 1, 15, 14, 30, 0, 123000, tzinfo=UTC)
AT_S = "2025-01-15T14:30:00.123Z"


def only(events: list[dict], event_type: str) -> list[dict]:
    return [e for e in events if e["event_type"] == event_type]


def valid(events: list[dict]) -> None:
    validate_envelope({"v": 1, "events": events})  # raises EnvelopeError listing every problem


def test_intents_are_exactly_the_six_of_d02_10_and_never_presences() -> None:
    """The client asks for GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, reactions, voice states, MESSAGE_CONTENT."""
    intents = relay_intents()
    expected = (1 << 0) | (1 << 1) | (1 << 9) | (1 << 10) | (1 << 7) | (1 << 15)
    assert intents.value == expected
    assert not intents.presences and not intents.dm_messages and not intents.typing
    bot = RelayBot(RelayContext(sink=lambda e: None, fingerprint_key=KEY))
    state = bot._connection
    assert state._chunk_guilds is False
    assert state.member_cache_flags.value == discord.MemberCacheFlags.none().value
    assert state.max_messages is None  # no message cache: no message text held in memory


def test_message_create_becomes_features_with_the_design_id_and_no_text() -> None:
    """MESSAGE_CREATE → message_create:{id} with every payload field of DESIGN.md §2."""
    text = "Supa Hot ```py\nprint(1)\nprint(2)\n``` see https://example.com/a and <@80351110224678912>"
    events = run_frames([p.guild_create(),
                         p.message_create(text, roles=["111"], mentions=[p.user(p.NELLY, "Nelly")])])
    [event] = only(events, "message_create")
    assert event["source_event_id"] == "message_create:334385199974967042"
    assert (event["guild_id"], event["user_id"], event["channel_id"]) == (p.GUILD, p.MASON, p.TEXT)
    assert event["occurred_at"] == "2017-07-11T17:27:24.250Z"  # the snowflake's own time
    payload = event["payload"]
    assert payload == {
        "length": len(text), "words": len(text.split()), "has_code_block": True, "code_block_lines": 2,
        "links": 1, "fingerprint": text_features(text, key=KEY, guild_id=int(p.GUILD))["fingerprint"],
        "attachments": 0, "mentions": 1, "is_reply": False, "reply_to_user_id": None, "thread_id": None,
        "is_bot": False, "is_webhook": False,
    }
    assert event["actor"] == {"name": "NOT API SUPPORT", "avatar": "a_bab14f271d565501444b2ca3be944b25",
                              "bot": False, "roles": ["111"]}
    assert "Supa" not in json.dumps(event)
    valid(events)


def test_replies_attachments_and_thread_messages_are_described() -> None:
    """A reply names the replied-to author; attachments are counted; a message in a thread names it."""
    original = p.message_create("first", mid="334385199974967001")["d"]
    events = run_frames([
        p.guild_create(), p.thread_create(),
        p.message_create("me too", mid="334385199974967002", author=p.user(p.NELLY, "Nelly"),
                         reply_to=original, attachments=2),
        p.message_create("in the thread", mid="334385199974967003", channel=p.THREAD),
    ])
    reply, in_thread = only(events, "message_create")
    assert reply["payload"]["is_reply"] is True
    assert reply["payload"]["reply_to_user_id"] == p.MASON
    assert reply["payload"]["attachments"] == 2
    assert in_thread["payload"]["thread_id"] == p.THREAD and in_thread["channel_id"] == p.THREAD
    valid(events)


def test_bots_and_webhooks_are_marked_and_system_messages_skipped() -> None:
    """actor.bot and is_bot/is_webhook are set; a join notice (type 7) is not member activity."""
    system = p.message_create("", mid="334385199974967010")
    system["d"]["type"] = 7
    events = run_frames([
        p.guild_create(),
        p.message_create("beep", mid="334385199974967011", author=p.user(p.BOT, "Robo", bot=True)),
        p.message_create("hook", mid="334385199974967012", author=p.user("223", "Hook"), webhook_id="223"),
        system,
    ])
    bot, hook = only(events, "message_create")
    assert bot["payload"]["is_bot"] is True and bot["actor"]["bot"] is True
    assert hook["payload"]["is_webhook"] is True and hook["actor"]["bot"] is True
    assert len(only(events, "message_create")) == 2
    valid(events)


def test_message_delete_names_the_author_when_the_relay_saw_the_message() -> None:
    """message_delete:{id}; user_id from the relay's id-only memory, null for messages it never saw."""
    events = run_frames([p.guild_create(), p.message_create("hello"), p.message_delete(),
                         p.message_delete("999")], at=AT)
    seen, unseen = only(events, "message_delete")
    assert seen["source_event_id"] == "message_delete:334385199974967042"
    assert seen["payload"] == {"message_id": "334385199974967042"} and seen["user_id"] == p.MASON
    assert unseen["user_id"] is None and seen["occurred_at"] == AT_S
    valid(events)


def test_reactions_keep_one_key_for_add_and_remove() -> None:
    """reaction_add/remove:{message}:{user}:{emoji}; custom emoji by id; remove finds the author."""
    events = run_frames([
        p.guild_create(), p.message_create("react to me"),
        p.reaction_add(message_author=None), p.reaction_remove(),
        p.reaction_add(em=p.emoji("blobparty", "41771983429993937")),
    ], at=AT)
    add, custom = only(events, "reaction_add")
    [remove] = only(events, "reaction_remove")
    assert add["source_event_id"] == f"reaction_add:334385199974967042:{p.NELLY}:🔥"
    assert remove["source_event_id"] == f"reaction_remove:334385199974967042:{p.NELLY}:🔥"
    assert add["payload"] == {"message_id": "334385199974967042", "message_author_id": p.MASON,
                              "emoji": "🔥", "burst": False}
    assert remove["payload"]["message_author_id"] == p.MASON
    assert custom["payload"]["emoji"] == "41771983429993937"
    assert add["user_id"] == p.NELLY and add["actor"]["name"] == "NOT API SUPPORT"
    valid(events)


def test_voice_updates_become_join_move_leave_with_flags_and_occupancy() -> None:
    """Join, move, leave; self_mute/self_deaf; members_in_channel; a mute toggle is no event."""
    events = run_frames([
        p.guild_create(voice_states=[p.voice_state(p.MASON, p.VOICE, with_member=False)]),
        p.voice_update(p.NELLY, p.VOICE, self_mute=True, self_deaf=False),
        p.voice_update(p.NELLY, p.VOICE, self_mute=False, self_deaf=False),
        p.voice_update(p.NELLY, p.VOICE_2, self_mute=False, self_deaf=True),
        p.voice_update(p.NELLY, None, self_mute=False, self_deaf=True),
    ], at=AT)
    kinds = [e["event_type"] for e in events if e["event_type"].startswith("voice_")]
    assert kinds == ["voice_state_snapshot", "voice_join", "voice_move", "voice_leave"]
    [join] = only(events, "voice_join")
    [move] = only(events, "voice_move")
    [leave] = only(events, "voice_leave")
    assert join["source_event_id"] == f"voice_join:{p.NELLY}:{p.VOICE}:{AT_S}"
    assert join["payload"] == {"channel_id": p.VOICE, "self_mute": True, "self_deaf": False,
                               "members_in_channel": 2}
    assert move["payload"] == {"channel_id": p.VOICE_2, "from_channel_id": p.VOICE, "self_mute": False,
                               "self_deaf": True, "members_in_channel": 1}
    assert leave["source_event_id"] == f"voice_leave:{p.NELLY}:{p.VOICE_2}:{AT_S}"
    assert leave["payload"]["from_channel_id"] == p.VOICE_2 and leave["payload"]["members_in_channel"] == 0
    valid(events)


def test_guild_create_sends_a_voice_state_snapshot_for_the_guild() -> None:
    """voice_state_snapshot:{guild}:{at}: guild_id set, user_id null, everyone in voice listed."""
    events = run_frames([p.guild_create(voice_states=[
        p.voice_state(p.MASON, p.VOICE, with_member=False),
        p.voice_state(p.NELLY, p.VOICE_2, self_mute=False, self_deaf=True, with_member=False)])], at=AT)
    [snap] = only(events, "voice_state_snapshot")
    assert snap["source_event_id"] == f"voice_state_snapshot:{p.GUILD}:{AT_S}"
    assert snap["guild_id"] == p.GUILD and snap["user_id"] is None
    assert sorted(snap["payload"]["members"], key=lambda m: m["user_id"]) == [
        {"user_id": p.MASON, "channel_id": p.VOICE, "self_mute": True, "self_deaf": False},
        {"user_id": p.NELLY, "channel_id": p.VOICE_2, "self_mute": False, "self_deaf": True},
    ]
    valid(events)


def test_a_crowded_snapshot_is_split_into_parts_that_each_fit_the_payload_limit() -> None:
    """More members in voice than one payload holds → numbered parts, all valid, nobody missing."""
    crowd = [p.voice_state(str(10**17 + n), p.VOICE, with_member=False) for n in range(200)]
    events = only(run_frames([p.guild_create(voice_states=crowd)], at=AT), "voice_state_snapshot")
    assert len(events) == -(-200 // SNAPSHOT_MEMBERS_PER_EVENT)
    assert [e["source_event_id"] for e in events] == [
        f"voice_state_snapshot:{p.GUILD}:{AT_S}:{n}/{len(events)}" for n in range(1, len(events) + 1)]
    assert sum(len(e["payload"]["members"]) for e in events) == 200
    assert all(len(json.dumps(e["payload"], separators=(",", ":"))) <= MAX_PAYLOAD_BYTES for e in events)
    valid(events)


def test_thread_create_only_for_new_threads() -> None:
    """thread_create:{id} with thread_id/parent_id; being added to an old thread is not creation."""
    events = run_frames([p.guild_create(), p.thread_create(),
                         p.thread_create(tid="41771983423144000", newly_created=False)])
    [thread] = only(events, "thread_create")
    assert thread["source_event_id"] == f"thread_create:{p.THREAD}"
    assert thread["payload"] == {"thread_id": p.THREAD, "parent_id": p.TEXT}
    assert thread["user_id"] == p.NELLY and thread["occurred_at"] == "2021-04-12T23:40:39.855Z"
    valid(events)


def test_members_join_and_leave_with_account_age_and_bot_flag() -> None:
    """member_join/leave:{user}:{at}; join time from the payload's joined_at, leave time from the clock."""
    events = run_frames([p.guild_create(), p.member_add(), p.member_remove(), p.member_add(p.BOT, bot=True)],
                        at=AT)
    join, bot_join = only(events, "member_join")
    [leave] = only(events, "member_leave")
    assert join["source_event_id"] == f"member_join:{p.NELLY}:2015-04-26T06:26:56.936Z"
    assert join["payload"] == {"account_created_at": "2015-08-10T17:26:37.529Z", "is_bot": False}
    assert leave["source_event_id"] == f"member_leave:{p.NELLY}:{AT_S}"
    assert bot_join["payload"]["is_bot"] is True and bot_join["actor"]["bot"] is True
    valid(events)


@pytest.mark.parametrize("frame", [p.voice_update(p.NELLY, p.VOICE), p.thread_create(), p.member_add()])
def test_frames_for_a_guild_the_relay_never_saw_are_discarded_without_error(frame: dict) -> None:
    """No GUILD_CREATE first → discord.py discards guild-scoped frames; nothing is invented."""
    assert run_frames([frame]) == []


def test_guild_create_becomes_one_guild_join_keyed_by_the_guild_alone() -> None:
    """GUILD_CREATE → guild_join:{guild id} (the lake keeps the first ever: Synapse sets the guild up once)."""
    events = run_frames([p.guild_create()])
    [event] = only(events, "guild_join")
    assert event["source_event_id"] == f"guild_join:{p.GUILD}"
    assert (event["guild_id"], event["user_id"], event["channel_id"]) == (p.GUILD, None, None)
    assert set(event["payload"]) == {"name", "member_count"} and event["payload"]["name"]
    valid(events)
    again = run_frames([p.guild_create()])   # a later relay start sends the same key
    assert only(again, "guild_join")[0]["source_event_id"] == event["source_event_id"]
