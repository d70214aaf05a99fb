"""Embeds for announcements, built so that no user-supplied text can ping or format its way out.

- ``escape_markdown`` for names and other user-supplied values placed into a template;
- ``neutralise_mentions`` for whole texts: ``@everyone``/``@here`` and role mentions become inert;
- ``safe_allowed_mentions(user_ids)``: Discord parses no mention at all except the listed members
  (never everyone/here, never roles), whatever the text says;
- ``sanitise_embed`` truncates to Discord's embed limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from string import Formatter
from typing import Any

BLURPLE = 0x5865F2
GOLD = 0xF1C40F

# Discord's embed limits (Create Message, "Embed Limits").
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
FIELDS_MAX = 25
CONTENT_MAX = 2000

_MARKDOWN = re.compile(r"([\\*_`~|>#\[\]()-])")
_MASS = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ROLE = re.compile(r"<@&(\d+)>")
ZWSP = "\u200b"


def escape_markdown(text: str) -> str:
    """Make ``text`` render literally: markdown characters are backslash-escaped, mentions defused."""
    return neutralise_mentions(_MARKDOWN.sub(r"\\\1", text))


def neutralise_mentions(text: str) -> str:
    """``@everyone``/``@here`` and ``<@&role>`` cannot ping: a zero-width space breaks them."""
    text = _MASS.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _ROLE.sub(lambda m: f"<@{ZWSP}&{m.group(1)}>", text)


def safe_allowed_mentions(user_ids: Iterable[int | str] = ()) -> dict[str, Any]:
    """Only the listed members may be pinged; never everyone, here or roles."""
    users = list(dict.fromkeys(str(u) for u in user_ids if str(u).isdigit()))[:100]
    return {"parse": [], "users": users, "roles": [], "replied_user": False}


def narrow_allowed_mentions(requested: Mapping[str, Any] | None, user_ids: Iterable[int | str]) -> dict[str, Any]:
    """``requested`` intersected with what is safe: users only, and only those in ``user_ids``."""
    allowed = set(safe_allowed_mentions(user_ids)["users"])
    if requested is None:
        return safe_allowed_mentions(allowed)
    wanted = [str(u) for u in requested.get("users", [])]
    if "users" in requested.get("parse", []):
        wanted = list(allowed)
    return safe_allowed_mentions(u for u in wanted if u in allowed)


def mention(user_id: int | str) -> str:
    return f"<@{int(user_id)}>"


RAW_PLACEHOLDERS = frozenset({"mention", "emoji"})


def render_template(template: str, **values: Any) -> str:
    """Fill ``{name}`` placeholders; values are markdown-escaped except ``mention`` and ``emoji``
    (built by us or set by an admin; still mention-neutralised with the whole text).

    Unknown placeholders are left as they are, so an admin's typo shows instead of crashing.
    """
    safe: dict[str, str] = {}
    for key, value in values.items():
        safe[key] = str(value) if key in RAW_PLACEHOLDERS else escape_markdown(str(value))
    out: list[str] = []
    for literal, name, spec, conversion in Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name in safe:
            out.append(safe[name])
        else:
            out.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return neutralise_mentions("".join(out))


def _cut(text: Any, limit: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def sanitise_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``embed`` within Discord's limits, with mass and role mentions defused."""
    out: dict[str, Any] = {}
    if embed.get("title"):
        out["title"] = neutralise_mentions(_cut(embed["title"], TITLE_MAX))
    if embed.get("description"):
        out["description"] = neutralise_mentions(_cut(embed["description"], DESCRIPTION_MAX))
    color = embed.get("color")
    if isinstance(color, int) and not isinstance(color, bool) and 0 <= color <= 0xFFFFFF:
        out["color"] = color
    fields = embed.get("fields")
    if isinstance(fields, list):
        out["fields"] = [{"name": neutralise_mentions(_cut(f.get("name"), FIELD_NAME_MAX)) or ZWSP,
                          "value": neutralise_mentions(_cut(f.get("value"), FIELD_VALUE_MAX)) or ZWSP,
                          "inline": bool(f.get("inline", False))}
                         for f in fields[:FIELDS_MAX] if isinstance(f, Mapping)]
    footer = embed.get("footer")
    if isinstance(footer, Mapping) and footer.get("text"):
        out["footer"] = {"text": neutralise_mentions(_cut(footer["text"], FOOTER_MAX))}
    for key in ("url", "timestamp"):
        if isinstance(embed.get(key), str):
            out[key] = embed[key]
    thumb = embed.get("thumbnail")
    if isinstance(thumb, Mapping) and isinstance(thumb.get("url"), str):
        out["thumbnail"] = {"url": thumb["url"]}
    return out


def level_up_embed(*, user_id: int | str, display_name: str, level: int, currency: str,
                   template: str = "{mention} reached **level {level}** in {currency}!",
                   color: int = BLURPLE) -> dict[str, Any]:
    """The level-up embed. ``display_name`` and ``currency`` are user-supplied: escaped."""
    description = render_template(template, mention=mention(user_id), name=display_name, level=level,
                                  currency=currency)
    return sanitise_embed({"title": f"Level {int(level)}!", "description": description, "color": color})


def milestone_embed(*, user_id: int | str, display_name: str, milestone: str, emoji: str = "🏅",
                    template: str = "{mention} earned **{milestone}** {emoji}",
                    color: int = GOLD) -> dict[str, Any]:
    """The milestone embed for the announcements channel."""
    description = render_template(template, mention=mention(user_id), name=display_name,
                                  milestone=milestone, emoji=emoji)
    return sanitise_embed({"title": "Milestone earned", "description": description, "color": color})


__all__ = [
    "escape_markdown",
    "level_up_embed",
    "mention",
    "milestone_embed",
    "narrow_allowed_mentions",
    "neutralise_mentions",
    "render_template",
    "safe_allowed_mentions",
    "sanitise_embed",
]
