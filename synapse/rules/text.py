"""Member-supplied text made inert before it is placed into an announcement template (pure).

A display name such as ``**x** @everyone [a](http://e)`` must show literally: once substituted
into the admin's template it can no longer be told apart from the template's own markdown, so
the value is escaped *before* substitution, and only the value (the admin's template text keeps
its formatting). The announce sender neutralises mentions in the whole text again and restricts
``allowed_mentions`` to the member concerned; this is the part only the writer can do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

ZWSP: Final = "\u200b"

# Discord markdown: bold/italic/underline/strike/spoiler/code/quote/heading, link brackets,
# and the backslash itself (so an escape in the value cannot cancel ours).
_MARKDOWN: Final = re.compile(r"([\\*_~`|>#\[\]])")
_MASS: Final = re.compile(r"@(everyone|here)", re.IGNORECASE)
# Role, user and channel mentions (<@&1>, <@1>, <@!1>, <#1>): in a value they would render as
# someone else's mention; a zero-width space after the ``<`` keeps them as plain text.
_MENTION: Final = re.compile(r"<(@[!&]?|#)(\d+)>")


def neutralise_mentions(text: str) -> str:
    """``@everyone``/``@here`` and ``<@&role>``/``<@user>``/``<#channel>`` can no longer ping or link."""
    text = _MASS.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _MENTION.sub(lambda m: f"<{m.group(1)}{ZWSP}{m.group(2)}>", text)


# Any character either step above would change: text without one is already inert.
_SPECIAL: Final = re.compile(r"[\\*_~`|>#\[\]@<]")


def escape(value: Any) -> str:
    """``value`` as text that renders literally in Discord markdown and pings nobody."""
    text = value if isinstance(value, str) else str(value)
    if not _SPECIAL.search(text):   # most names and values (one scan instead of three substitutions)
        return text
    # Mentions first: once ``>`` is escaped the mention patterns would no longer match.
    return _MARKDOWN.sub(r"\\\1", neutralise_mentions(text))


def escape_values(values: Mapping[str, Any], *, raw: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every value escaped, except the keys in ``raw`` (text we built ourselves, e.g. ``<@id>``).

    Numbers stay numbers (nothing in them to escape), so a template may still format them (``{level:>3}``).
    """
    return {k: v if k in raw or (isinstance(v, int | float) and not isinstance(v, bool)) else escape(v)
            for k, v in values.items()}
