"""Interaction payloads shaped like the examples in Discord's "Receiving and Responding" docs.

Guild interactions carry ``member`` (``member.user``, ``member.permissions`` as a
string bitfield, ``member.roles``); DM interactions carry ``user``. Options sit in
``data.options``; users named in options are in ``data.resolved.users`` and, when
they are members of the guild, in ``data.resolved.members`` (without ``user``).
"""

from __future__ import annotations

import itertools
from typing import Any

APP_ID = "1100000000000000001"          # FakeDiscord's default application id
GUILD = "290926798626357999"
CHANNEL = "645027906669510667"
JOINED = "2017-03-13T19:19:14.040000+00:00"

_ids = itertools.count(786008729715212338)

Json = dict[str, Any]


def next_id() -> str:
    return str(next(_ids))


def user(user_id: int | str, username: str = "mason", *, global_name: str | None = None,
         avatar: str | None = "a_d5efa99b3eeaa7dd43acca82f5692432", bot: bool = False) -> Json:
    u: Json = {"id": str(user_id), "username": username, "avatar": avatar, "discriminator": "0",
               "global_name": global_name, "public_flags": 131141}
    if bot:
        u["bot"] = True
    return u


def member(u: Json, *, permissions: str = "2248473465835073", roles: list[str] | None = None,
           nick: str | None = None) -> Json:
    """``member`` of a guild interaction (the invoker). Default permissions: no Administrator/Manage Guild."""
    return {"user": u, "roles": roles or [], "premium_since": None, "permissions": permissions, "pending": False,
            "nick": nick, "mute": False, "joined_at": JOINED, "is_pending": False, "deaf": False, "flags": 0,
            "avatar": None, "communication_disabled_until": None}


def resolved_member(*, permissions: str = "2248473465835073", nick: str | None = None) -> Json:
    """An entry of ``data.resolved.members``: a partial member, no ``user``, ``deaf`` or ``mute``."""
    return {"avatar": None, "communication_disabled_until": None, "flags": 0, "joined_at": JOINED,
            "nick": nick, "pending": False, "permissions": permissions, "premium_since": None, "roles": []}


def resolved(*users: Json, members: bool = True) -> Json:
    out: Json = {"users": {u["id"]: u for u in users}}
    if members:
        out["members"] = {u["id"]: resolved_member() for u in users}
    return out


def opt(name: str, value: Any, kind: int = 3, *, focused: bool = False) -> Json:
    o: Json = {"name": name, "type": kind, "value": value}
    if focused:
        o["focused"] = True
    return o


def user_opt(name: str, user_id: int | str) -> Json:
    return {"name": name, "type": 6, "value": str(user_id)}


def sub(name: str, options: list[Json] | None = None) -> Json:
    return {"name": name, "type": 1, "options": options or []}


def _base(kind: int, invoker: Json, *, dm: bool = False, interaction_id: str | None = None,
          token: str | None = None) -> Json:
    iid = interaction_id or next_id()
    body: Json = {
        "app_permissions": "442368", "application_id": APP_ID, "entitlements": [],
        "id": iid, "locale": "en-US", "token": token or f"tok-{iid}", "type": kind, "version": 1,
    }
    if dm:
        body.update({"user": invoker, "context": 1, "channel_id": CHANNEL,
                     "authorizing_integration_owners": {"1": invoker["id"]},
                     "channel": {"id": CHANNEL, "type": 1, "flags": 0, "recipients": [invoker]}})
    else:
        body.update({"member": invoker, "guild_id": GUILD, "guild_locale": "en-US", "context": 0,
                     "channel_id": CHANNEL, "authorizing_integration_owners": {"0": GUILD},
                     "guild": {"id": GUILD, "locale": "en-US", "features": []},
                     "channel": {"id": CHANNEL, "type": 0, "guild_id": GUILD, "name": "general",
                                 "flags": 0, "permissions": "2248473465835073"}})
    return body


def command(name: str, invoker: Json, options: list[Json] | None = None, *, resolved_data: Json | None = None,
            dm: bool = False, interaction_id: str | None = None) -> Json:
    """A type 2 APPLICATION_COMMAND interaction (chat input command)."""
    body = _base(2, invoker, dm=dm, interaction_id=interaction_id)
    data: Json = {"id": "771825006014889984", "name": name, "type": 1}
    if options:
        data["options"] = options
    if resolved_data:
        data["resolved"] = resolved_data
    body["data"] = data
    return body


def autocomplete(name: str, invoker: Json, options: list[Json]) -> Json:
    """A type 4 APPLICATION_COMMAND_AUTOCOMPLETE interaction: one option has ``focused: true``."""
    body = _base(4, invoker)
    body["data"] = {"id": "771825006014889984", "name": name, "type": 1, "options": options}
    return body


def component(custom_id: str, invoker: Json, *, message_id: str = "1300000000000000099",
              token: str | None = None) -> Json:
    """A type 3 MESSAGE_COMPONENT interaction (a button click) with the message it belongs to."""
    body = _base(3, invoker, token=token)
    body["data"] = {"custom_id": custom_id, "component_type": 2}
    body["message"] = {"id": message_id, "channel_id": CHANNEL, "type": 20, "content": "", "flags": 0,
                       "author": {"id": APP_ID, "username": "Synapse", "discriminator": "0", "bot": True,
                                  "avatar": None},
                       "components": [{"type": 1, "components": [
                           {"type": 2, "style": 2, "label": "button", "custom_id": custom_id}]}],
                       "embeds": [], "timestamp": "2025-03-12T15:30:00.000000+00:00"}
    return body


def ping() -> Json:
    return {"application_id": APP_ID, "id": next_id(), "token": "A_UNIQUE_TOKEN", "type": 1, "version": 1,
            "user": user(53908232506183680)}
