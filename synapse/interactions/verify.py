"""Discord's request signature: Ed25519 over ``X-Signature-Timestamp`` + the raw body, and its age.

Discord sends deliberately bad signatures to endpoints at random and removes
endpoints that accept them, so every request is checked, PING included. The
Ed25519 check itself is ``discord_interactions.verify_key`` (Discord's own
reference package, on top of PyNaCl); this module adds what it leaves out: it
never raises on malformed headers, refuses a wrong-length key or signature before
calling it, and refuses a timestamp outside the replay window. Importing it costs
only PyNaCl (``discord_interactions`` imports nothing else): this runs on a cold
start, inside Discord's 3 s window.
"""

from __future__ import annotations

from discord_interactions import verify_key

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"

# A signed request older (or newer) than this, by the receiving clock, is refused as a
# replay. Discord signs at send time and gives the endpoint 3 s to answer; 5 minutes
# leaves room for clock skew, as Slack's and Stripe's webhook checks do.
MAX_AGE_SECONDS = 300


def _hex(value: str, size: int) -> bool:
    if len(value) != 2 * size:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def is_fresh(timestamp: str, now: float, *, max_age: float = MAX_AGE_SECONDS) -> bool:
    """True when ``timestamp`` (Unix seconds, as Discord sends it) is within ``max_age`` of ``now``."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(now - int(timestamp)) <= max_age


def is_valid(*, public_key_hex: str, signature_hex: str | None, timestamp: str | None, body: bytes,
             now: float | None = None) -> bool:
    """True only for a well-formed signature by ``public_key_hex`` of ``timestamp + body``, and
    (when ``now`` is given, as the endpoint always does) a timestamp inside the replay window.

    Never raises: a missing header, bad hex, a wrong length, a wrong key or a stale timestamp are
    all ``False``.
    """
    if not signature_hex or not timestamp:
        return False
    if not _hex(public_key_hex, 32) or not _hex(signature_hex, 64):
        return False
    if now is not None and not is_fresh(timestamp, now):
        return False
    return bool(verify_key(body, signature_hex, timestamp, public_key_hex))
