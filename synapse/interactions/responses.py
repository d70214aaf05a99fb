"""Interaction responses in Discord's exact shapes (``{"type": …, "data": …}``).

Every message says ``allowed_mentions: {"parse": []}``: a reply may *show*
``<@user>`` but never pings anyone, and never @everyone, @here or a role.
"""

from __future__ import annotations

from typing import Any

from synapse.interactions.models import EPHEMERAL, ResponseType

Json = dict[str, Any]

NO_PINGS: Json = {"parse": []}

COLOUR = 0x5865F2       # Discord blurple
ERROR_COLOUR = 0xED4245

BUTTON = 2
ACTION_ROW = 1
PRIMARY, SECONDARY, SUCCESS, DANGER = 1, 2, 3, 4


def message_data(content: str = "", *, embeds: list[Json] | None = None, components: list[Json] | None = None,
                 ephemeral: bool = False) -> Json:
    data: Json = {"content": content, "allowed_mentions": NO_PINGS}
    if embeds is not None:
        data["embeds"] = embeds
    if components is not None:
        data["components"] = components
    if ephemeral:
        data["flags"] = EPHEMERAL
    return data


def pong() -> Json:
    return {"type": ResponseType.PONG.value}


def message(content: str = "", *, embeds: list[Json] | None = None, components: list[Json] | None = None,
            ephemeral: bool = False) -> Json:
    return {"type": ResponseType.CHANNEL_MESSAGE_WITH_SOURCE.value,
            "data": message_data(content, embeds=embeds, components=components, ephemeral=ephemeral)}


def update(content: str = "", *, embeds: list[Json] | None = None, components: list[Json] | None = None) -> Json:
    """Edit the message a component belongs to (type 7)."""
    return {"type": ResponseType.UPDATE_MESSAGE.value,
            "data": message_data(content, embeds=embeds, components=components)}


def deferred(*, ephemeral: bool = False) -> Json:
    """"Thinking…" now; the follow-up webhook finishes it within 15 minutes (type 5)."""
    response: Json = {"type": ResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE.value}
    if ephemeral:
        response["data"] = {"flags": EPHEMERAL}
    return response


def deferred_update() -> Json:
    """Acknowledge a component now; edit its message later (type 6)."""
    return {"type": ResponseType.DEFERRED_UPDATE_MESSAGE.value}


def choices(items: list[tuple[str, str]]) -> Json:
    """Autocomplete suggestions (type 8): at most 25 ``(name, value)`` pairs."""
    return {"type": ResponseType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT.value,
            "data": {"choices": [{"name": name[:100], "value": value[:100]} for name, value in items[:25]]}}


def error(text: str) -> Json:
    """An ephemeral explanation of why a command did nothing."""
    return message(text, ephemeral=True)


def embed(title: str, *, description: str = "", fields: list[Json] | None = None, colour: int = COLOUR,
          footer: str | None = None, thumbnail: str | None = None) -> Json:
    out: Json = {"type": "rich", "title": title[:256], "color": colour}
    if description:
        out["description"] = description[:4096]
    if fields:
        out["fields"] = [{"name": f["name"][:256], "value": (f["value"] or "\u200b")[:1024],
                          "inline": bool(f.get("inline", False))} for f in fields[:25]]
    if footer:
        out["footer"] = {"text": footer[:2048]}
    if thumbnail:
        out["thumbnail"] = {"url": thumbnail}
    return out


def button(label: str, custom_id: str, *, style: int = SECONDARY, disabled: bool = False) -> Json:
    return {"type": BUTTON, "style": style, "label": label[:80], "custom_id": custom_id[:100],
            "disabled": disabled}


def row(*components: Json) -> Json:
    return {"type": ACTION_ROW, "components": list(components)}
