"""Message text → features, so the text itself can be dropped at once.

Privacy (DESIGN.md §2): MESSAGE_CONTENT is used only here. The text comes in,
numbers and a keyed fingerprint go out; nothing in this module keeps, logs or
returns the text. The fingerprint is an HMAC (not a plain hash) so that nobody
without the key can confirm a guess of what a member wrote, and it is keyed per
guild too, so the same sentence in two guilds cannot be linked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from synapse.eventlake.payloads import TextFeatures

FINGERPRINT_HEX: Final = 32  # 128 bits: plenty for repeat detection, short on the wire

_CODE_BLOCK = re.compile(r"```(?:[^\n`]*\n)?(.*?)```", re.DOTALL)
_LINK = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """What counts as "the same message" for repeat detection: case and spacing ignored."""
    return _SPACE.sub(" ", text).strip().casefold()


def fingerprint(text: str, *, key: bytes, guild_id: int) -> str | None:
    """A keyed fingerprint of the normalised text, or None when there is no text."""
    norm = normalise_text(text)
    if not norm:
        return None
    mac = hmac.new(key, f"{guild_id}\x00{norm}".encode(), hashlib.sha256)
    return mac.hexdigest()[:FINGERPRINT_HEX]


def text_features(text: str, *, key: bytes, guild_id: int) -> TextFeatures:
    """Length, words, code blocks (and their lines), links and the fingerprint of ``text``."""
    blocks = _CODE_BLOCK.findall(text)
    code_lines = sum(len([line for line in block.split("\n") if line.strip()]) for block in blocks)
    return {
        "length": len(text),
        "words": len(text.split()),
        "has_code_block": bool(blocks),
        "code_block_lines": code_lines,
        "links": len(_LINK.findall(text)),
        "fingerprint": fingerprint(text, key=key, guild_id=guild_id),
    }
