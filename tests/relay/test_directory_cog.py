"""Channel, role and guild changes (docs-shaped gateway frames) → the relay's directory events."""

from __future__ import annotations

from datetime import UTC, datetime

from synapse.eventlake.envelope import validate_envelope
from tests.relay import payloads as p
from tests.relay.harness import run_frames

AT = datetime(2025, 1, 15, 14, 30, 0, 123000, tzinfo=UTC)
AT_S = "2025-01-15T14:30:00.123Z"
ROLE = {"id": "41771983423143936", "name": "WE DEM BOYZZ!!!!!!", "color": 3447003,
        "colors": {"primary_color": 3447003, "secondary_color": None, "tertiary_color": None},
        "hoist": True, "icon": None,
        "unicode_emoji": None, "position": 1, "permissions": "66321471", "managed": False, "mentionable": False,
        "flags": 0}
NEW_CHANNEL = {"id": "41771983423143950", "guild_id": p.GUILD, "name": "study-hall", "type": 0, "position": 8,
               "permission_overwrites": [], "rate_limit_per_user": 0, "nsfw": False, "topic": None,
               "last_message_id": None, "parent_id": None}


def directory_events(frames: list[dict]) -> list[dict]:
    events = run_frames([p.guild_create(), *frames], at=AT)
    found = [e for e in events if e["event_type"] in ("channel_update", "role_update", "guild_update")]
    validate_envelope({"v": 1, "events": found})  # the envelope contract holds
    return found


def test_channel_create_update_delete_carry_name_type_position_and_category() -> None:
    """CHANNEL_CREATE/UPDATE/DELETE → channel_update with the action, name, type, position and parent."""
    renamed = {**NEW_CHANNEL, "name": "quiet-study", "position": 2}
    events = directory_events([p.frame("CHANNEL_CREATE", NEW_CHANNEL), p.frame("CHANNEL_UPDATE", renamed),
                               p.frame("CHANNEL_DELETE", renamed)])
    assert [(e["payload"]["action"], e["payload"]["name"], e["payload"]["position"]) for e in events] == [
        ("create", "study-hall", 8), ("update", "quiet-study", 2), ("delete", "quiet-study", 2)]
    first = events[0]
    assert first["channel_id"] == NEW_CHANNEL["id"] and first["guild_id"] == p.GUILD and first["user_id"] is None
    assert first["payload"] == {"action": "create", "name": "study-hall", "type": 0, "position": 8, "parent_id": None}
    assert first["source_event_id"] == f"channel_update:{NEW_CHANNEL['id']}:{AT_S}"


def test_role_changes_carry_position_managed_and_colour() -> None:
    """GUILD_ROLE_CREATE/UPDATE/DELETE → role_update with what decides whether the bot can assign it."""
    moved = {**ROLE, "position": 3, "name": "Regulars"}
    events = directory_events([
        p.frame("GUILD_ROLE_CREATE", {"guild_id": p.GUILD, "role": ROLE}),
        p.frame("GUILD_ROLE_UPDATE", {"guild_id": p.GUILD, "role": moved}),
        p.frame("GUILD_ROLE_DELETE", {"guild_id": p.GUILD, "role_id": ROLE["id"]})])
    assert [e["payload"]["action"] for e in events] == ["create", "update", "delete"]
    assert events[1]["payload"] == {"action": "update", "role_id": ROLE["id"], "name": "Regulars", "position": 3,
                                    "managed": False, "color": 3447003}
    assert events[2]["payload"]["role_id"] == ROLE["id"]


def test_guild_update_reports_a_changed_afk_channel_only() -> None:
    """GUILD_UPDATE with a new afk_channel_id → guild_update; one that changes something else → nothing."""
    base = p.guild_create()["d"]
    fields = {k: v for k, v in base.items() if k not in ("channels", "members", "voice_states", "threads",
                                                         "presences", "stage_instances",
                                                         "guild_scheduled_events", "soundboard_sounds")}
    events = directory_events([p.frame("GUILD_UPDATE", {**fields, "name": "Renamed"}),
                               p.frame("GUILD_UPDATE", {**fields, "afk_channel_id": p.VOICE})])
    assert [e["payload"] for e in events] == [{"afk_channel_id": p.VOICE}]
