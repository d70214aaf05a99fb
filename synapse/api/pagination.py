"""Opaque keyset cursors: base64url JSON that clients pass back unchanged.

A cursor names the last row of the previous page (keyset pagination), so pages
stay fast deep into a list and stable while rows are added. A cursor that does
not decode is bad input (422), never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from synapse.errors import ErrorDetail, ValidationFailed

MAX_CURSOR_CHARS = 512


def encode(kind: str, **fields: Any) -> str:
    raw = json.dumps({"k": kind, **fields}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, kind: str, *, fields: dict[str, type]) -> dict[str, Any] | None:
    """The fields of ``cursor`` (None for the first page); each is checked against its type."""
    if cursor is None or cursor == "":
        return None
    bad = ValidationFailed("invalid cursor", [ErrorDetail("cursor", "not a cursor this endpoint returned")])
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise bad
    out: dict[str, Any] = {}
    for name, typ in fields.items():
        value = data.get(name)
        if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
            raise bad
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise bad
        out[name] = value
    return out
