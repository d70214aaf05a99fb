"""Ed25519 check of Discord's request signature (``X-Signature-Ed25519`` over timestamp + raw body).

Discord sends deliberately bad signatures to endpoints at random and removes
endpoints that accept them, so every request is checked, PING included. Only
PyNaCl is imported here: this runs on a cold start, inside Discord's 3 s window.
"""

from __future__ import annotations

from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"


@lru_cache(maxsize=4)
def _key(public_key_hex: str) -> VerifyKey | None:
    try:
        raw = bytes.fromhex(public_key_hex)
    except ValueError:
        return None
    if len(raw) != 32:
        return None
    return VerifyKey(raw)


def is_valid(*, public_key_hex: str, signature_hex: str | None, timestamp: str | None, body: bytes) -> bool:
    """True only for a well-formed signature by ``public_key_hex`` of ``timestamp + body``.

    Never raises: a missing header, bad hex, a wrong length or a wrong key are all ``False``.
    """
    if not signature_hex or not timestamp:
        return False
    key = _key(public_key_hex)
    if key is None:
        return False
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(timestamp.encode() + body, signature)
    except BadSignatureError:
        return False
    return True
