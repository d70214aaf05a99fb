"""Rank cards: a member's avatar, name, level, progress bar and rank drawn as a PNG (Pillow).

Pure: plain data in (:class:`CardData`), PNG bytes out; no database, no network, no clock. The
avatar comes in as image bytes (the follow-up worker fetches it from Discord's CDN) or ``None``,
and a bad or missing one becomes a generated initials avatar, so a card always renders.
The font is the one Pillow ships (``ImageFont.load_default(size=…)``, a scalable FreeType font
since Pillow 10.1): no system font is needed. It covers Latin, Greek and Cyrillic; other scripts
and emoji in a name draw as boxes (the embed next to the card shows the name as Discord does).

Pillow is imported lazily: the interactions endpoint never loads it, only the worker that draws.
About 10 ms per card on one core (``bench`` figure in ``docs/api.md``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont

WIDTH, HEIGHT = 934, 282          # the size members know from other levelling bots' cards
AVATAR = 180
MAX_AVATAR_BYTES = 2 * 1024 * 1024
MAX_AVATAR_SIDE = 4096            # larger images are refused before decoding (decompression bombs)
FILENAME = "rank.png"

BACKGROUND = (35, 39, 42)
PANEL = (47, 49, 54)
TEXT = (255, 255, 255)
MUTED = (185, 187, 190)
ACCENT = (88, 101, 242)           # Discord blurple, as the embeds
TRACK = (72, 75, 78)
PALETTE = [(88, 101, 242), (87, 242, 135), (254, 231, 92), (235, 69, 158), (237, 66, 69), (52, 152, 219),
           (155, 89, 182), (230, 126, 34)]


@dataclass(frozen=True)
class CardData:
    display_name: str
    avatar: bytes | None = None   # PNG/JPEG/WebP/GIF bytes, or None for the initials avatar
    level: int | None = None      # None: the primary currency is not levelled (no bar)
    into_level: int = 0
    for_next: int = 0
    rank: int | None = None
    rank_exact: bool = True
    currency_name: str = "XP"
    balance: int = 0


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def initials(name: str) -> str:
    """The first letters of the first two words (``"ada lovelace"`` → ``"AL"``, ``"bob"`` → ``"B"``)."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    return "".join(w[:1] for w in words[:2]).upper()


def _colour(name: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(name.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def _initials_avatar(name: str, size: int) -> Image.Image:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (*_colour(name), 255))
    draw = ImageDraw.Draw(image)
    draw.text((size / 2, size / 2), initials(name), font=_font(size * 2 // 5), fill=TEXT, anchor="mm")
    return image


def _decoded_avatar(data: bytes | None, size: int) -> Image.Image | None:
    """The avatar, square and ``size`` wide, or None when it is missing, too big or not an image."""
    if not data or len(data) > MAX_AVATAR_BYTES:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as raw:
            if raw.width > MAX_AVATAR_SIDE or raw.height > MAX_AVATAR_SIDE or raw.width < 1 or raw.height < 1:
                return None
            raw.seek(0)                          # an animated avatar: its first frame
            image = raw.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    side = min(image.width, image.height)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def _circle(image: Image.Image) -> Image.Image:
    from PIL import Image, ImageDraw

    scale = 4                                    # draw the mask large and shrink it: smooth edges
    mask = Image.new("L", (image.width * scale, image.height * scale), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, mask.width - 1, mask.height - 1), fill=255)
    image.putalpha(mask.resize(image.size, Image.Resampling.LANCZOS))
    return image


def _fit(text: str, size: int, width: int) -> str:
    """``text`` shortened with an ellipsis until it is at most ``width`` pixels wide in ``size``."""
    font = _font(size)
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _number(value: int) -> str:
    """Exact up to 100,000, then compact like other rank cards: 12,345, 123.4K, 4.5M."""
    if abs(value) < 100_000:
        return f"{value:,}"
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(value)  # pragma: no cover (|value| >= 100,000 always matches "K")


def render(card: CardData) -> bytes:
    """The card as PNG bytes (``WIDTH`` × ``HEIGHT``, RGBA)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (WIDTH, HEIGHT), (*BACKGROUND, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((16, 16, WIDTH - 16, HEIGHT - 16), radius=24, fill=PANEL)
    name = card.display_name.strip() or "Member"
    avatar = _decoded_avatar(card.avatar, AVATAR) or _initials_avatar(name, AVATAR)
    top = (HEIGHT - AVATAR) // 2
    image.alpha_composite(_circle(avatar), (48, top))

    left, right = 48 + AVATAR + 40, WIDTH - 56
    # Right-aligned headline: "RANK #12   LEVEL 5" (rank first, as members read it).
    parts: list[tuple[str, str]] = []
    if card.rank is not None:
        parts.append(("RANK", ("#" if card.rank_exact else "~#") + f"{card.rank:,}"))
    if card.level is not None:
        parts.append(("LEVEL", str(card.level)))
    x = right
    for label, value in reversed(parts):
        draw.text((x, 92), value, font=_font(56), fill=ACCENT if label == "LEVEL" else TEXT, anchor="rs")
        x -= int(_font(56).getlength(value)) + 10
        draw.text((x, 92), label, font=_font(24), fill=MUTED, anchor="rs")
        x -= int(_font(24).getlength(label)) + 28
    if card.level is not None and card.for_next > 0:
        progress = f"{_number(card.into_level)} / {_number(card.for_next)} {card.currency_name}"
        share = max(0.0, min(1.0, card.into_level / card.for_next))
    else:
        progress = f"{_number(card.balance)} {card.currency_name}"
        share = 1.0 if card.level is None else 0.0
    progress = _fit(progress, 26, 320)
    draw.text((right, 168), progress, font=_font(26), fill=MUTED, anchor="rs")
    room = right - left - int(_font(26).getlength(progress)) - 24
    draw.text((left, 168), _fit(name, 40, room), font=_font(40), fill=TEXT, anchor="ls")
    bar_top, bar_height = 190, 38
    draw.rounded_rectangle((left, bar_top, right, bar_top + bar_height), radius=bar_height // 2, fill=TRACK)
    filled = int((right - left) * share)
    if filled > 0:             # at least one bar height wide: a rounded fill narrower than that has no middle
        filled = max(filled, bar_height)
        draw.rounded_rectangle((left, bar_top, left + filled, bar_top + bar_height), radius=bar_height // 2,
                               fill=ACCENT)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
