"""Raw gateway dispatch frames shaped like the examples in Discord's API documentation.

Sources (discord/discord-api-docs): "Example Message" (resources/message), "Example
Guild" and "Example Guild Member" (resources/guild), "Example Guild Text/Voice
Channel" and "Example Thread Channel" (resources/channel), "Example Voice State"
(resources/voice), "Example User" (resources/user), and the field tables of the
gateway events (MESSAGE_CREATE adds ``guild_id`` and a ``member`` without
``user``; MESSAGE_REACTION_ADD/REMOVE; GUILD_MEMBER_ADD/REMOVE; THREAD_CREATE's
``newly_created``). Field names, nesting and value kinds are the docs'; a few
ids are changed where the docs reuse one id for two objects (the thread example
uses its guild's id) or point at objects outside the example guild.
"""

from __future__ import annotations

import copy
import json
from typing import Any

GUILD = "41771983423143937"
TEXT = "41771983423143937"  # the docs' example text channel shares the guild's id, as #general once did
VOICE = "155101607195836416"
VOICE_2 = "155101607195836417"
THREAD = "41771983423143999"
MASON = "53908099506183680"
NELLY = "80351110224678912"
BOT = "80351110224678999"

_seq = 0


def frame(t: str, d: dict[str, Any], **extra: Any) -> dict[str, Any]:
    global _seq
    _seq += 1
    return {"op": 0, "s": _seq, "t": t, "d": d, **extra}


def user(uid: str = MASON, username: str = "Mason", *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"username": username, "discriminator": "9999", "id": uid,
                            "avatar": "a_bab14f271d565501444b2ca3be944b25"}
    if bot:
        data["bot"] = True
    return data


def member(*, roles: list[str] | None = None, with_user: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"nick": "NOT API SUPPORT", "avatar": None, "roles": roles or [],
                            "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": False, "mute": False,
                            "flags": 0}
    if with_user is not None:
        data = {"user": with_user, **data}
    return data


def voice_state(uid: str, channel: str | None, *, self_mute: bool = True, self_deaf: bool = False,
                guild: bool = True, with_member: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"channel_id": channel, "user_id": uid,
                            "session_id": "90326bd25d71d39b9ef95b299e3872ff", "deaf": False, "mute": False,
                            "self_deaf": self_deaf, "self_mute": self_mute, "suppress": False,
                            "request_to_speak_timestamp": "2021-03-31T18:45:31.297561+00:00"}
    if guild:
        data["guild_id"] = GUILD
    if with_member:
        data["member"] = member(with_user=user(uid, "Nelly" if uid == NELLY else "Mason"))
    return data


def guild_create(*, voice_states: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    text = {"id": TEXT, "guild_id": GUILD, "name": "general", "type": 0, "position": 6,
            "permission_overwrites": [], "rate_limit_per_user": 2, "nsfw": True,
            "topic": "24/7 chat about how to gank Mike #2", "last_message_id": "155117677105512449",
            "parent_id": None}
    voice = {"id": VOICE, "guild_id": GUILD, "name": "ROCKET CHEESE", "type": 2, "nsfw": False, "position": 5,
             "permission_overwrites": [], "bitrate": 64000, "user_limit": 0, "parent_id": None}
    voice2 = {**voice, "id": VOICE_2, "name": "ROCKET CHEESE 2", "position": 7}
    return frame("GUILD_CREATE", {
        "id": GUILD, "name": "Discord Developers", "icon": "86e39f7ae3307e811784e2ffd11a7310", "splash": None,
        "owner_id": NELLY, "region": "us-east", "afk_channel_id": None, "afk_timeout": 300,
        "verification_level": 1, "default_message_notifications": 0, "explicit_content_filter": 0,
        "mfa_level": 0, "widget_enabled": False, "widget_channel_id": None, "roles": [], "emojis": [],
        "features": ["INVITE_SPLASH"], "unavailable": False,
        "joined_at": "2017-07-11T17:27:07.299000+00:00", "large": True, "member_count": 50_000,
        "voice_states": [{k: v for k, v in s.items() if k != "guild_id"} for s in (voice_states or [])],
        "members": [], "channels": [text, voice, voice2], "threads": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    })


def message_create(content: str, *, mid: str = "334385199974967042", author: dict[str, Any] | None = None,
                   channel: str = TEXT, roles: list[str] | None = None, mentions: list[dict[str, Any]] | None = None,
                   attachments: int = 0, webhook_id: str | None = None,
                   reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "reactions": [], "attachments": [
            {"id": f"1{n}", "filename": "cat.png", "size": 1024, "url": "https://cdn.discordapp.com/x.png",
             "proxy_url": "https://media.discordapp.net/x.png"} for n in range(attachments)],
        "tts": False, "embeds": [], "timestamp": "2017-07-11T17:27:07.299000+00:00",
        "mention_everyone": False, "id": mid, "pinned": False, "edited_timestamp": None,
        "author": author or user(), "mention_roles": [], "content": content, "channel_id": channel,
        "mentions": mentions or [], "type": 19 if reply_to else 0, "guild_id": GUILD,
    }
    if webhook_id is None:
        data["member"] = member(roles=roles)
    else:
        data["webhook_id"] = webhook_id
    if reply_to is not None:
        data["message_reference"] = {"message_id": reply_to["id"], "channel_id": channel, "guild_id": GUILD}
        data["referenced_message"] = reply_to
    return frame("MESSAGE_CREATE", data)


def message_delete(mid: str = "334385199974967042") -> dict[str, Any]:
    return frame("MESSAGE_DELETE", {"id": mid, "channel_id": TEXT, "guild_id": GUILD})


def emoji(name: str = "🔥", eid: str | None = None) -> dict[str, Any]:
    return {"id": eid, "name": name}


def reaction_add(*, mid: str = "334385199974967042", uid: str = NELLY, em: dict[str, Any] | None = None,
                 message_author: str | None = MASON) -> dict[str, Any]:
    data: dict[str, Any] = {"user_id": uid, "channel_id": TEXT, "message_id": mid, "guild_id": GUILD,
                            "member": member(with_user=user(uid, "Nelly")), "emoji": em or emoji(),
                            "burst": False, "burst_colors": [], "type": 0}
    if message_author is not None:
        data["message_author_id"] = message_author
    return frame("MESSAGE_REACTION_ADD", data)


def reaction_remove(*, mid: str = "334385199974967042", uid: str = NELLY,
                    em: dict[str, Any] | None = None) -> dict[str, Any]:
    return frame("MESSAGE_REACTION_REMOVE", {"user_id": uid, "channel_id": TEXT, "message_id": mid,
                                             "guild_id": GUILD, "emoji": em or emoji(), "burst": False,
                                             "type": 0})


def voice_update(uid: str, channel: str | None, *, received_at: str | None = None,
                 **kw: Any) -> dict[str, Any]:
    extra = {"received_at": received_at} if received_at else {}
    return frame("VOICE_STATE_UPDATE", voice_state(uid, channel, **kw), **extra)


def thread_create(*, tid: str = THREAD, owner: str = NELLY, newly_created: bool = True) -> dict[str, Any]:
    data = {"id": tid, "guild_id": GUILD, "parent_id": TEXT, "owner_id": owner, "name": "don't buy dota-2",
            "type": 11, "last_message_id": "155117677105512449", "message_count": 1, "member_count": 5,
            "rate_limit_per_user": 2,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": "2021-04-12T23:40:39.855793+00:00", "locked": False,
                                "create_timestamp": "2021-04-12T23:40:39.855793+00:00"},
            "total_message_sent": 1, "newly_created": newly_created}
    return frame("THREAD_CREATE", data)


def member_add(uid: str = NELLY, *, bot: bool = False) -> dict[str, Any]:
    data = member(with_user=user(uid, "Nelly", bot=bot))
    data["guild_id"] = GUILD
    data["pending"] = False
    return frame("GUILD_MEMBER_ADD", data)


def member_remove(uid: str = NELLY) -> dict[str, Any]:
    return frame("GUILD_MEMBER_REMOVE", {"guild_id": GUILD, "user": user(uid, "Nelly")})


def lines(frames: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(f) + "\n" for f in frames)


def clone(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value)
