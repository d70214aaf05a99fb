"""Who one message's events can touch (pure): the members to lock before anything is read or written.

One definition for the lock taken by ingest and the members the planner reads: the actor, the
author of a reacted-to message, the member replied to (ids as the payload carries them: digits,
below 2**63).
"""

from __future__ import annotations

from collections.abc import Iterable

from synapse.eventlake.events import Event

RECIPIENT_FIELDS = ("message_author_id", "reply_to_user_id")


def members_of(events: Iterable[Event]) -> set[tuple[int, int]]:
    """Every (guild, member) an event's rules may credit or debit."""
    out: set[tuple[int, int]] = set()
    for e in events:
        if e.user_id is not None:
            out.add((e.guild_id, e.user_id))
        payload = e.payload
        for key in RECIPIENT_FIELDS:
            value = payload.get(key)
            if isinstance(value, str | int) and str(value).isdigit() and int(value) < 2**63:
                out.add((e.guild_id, int(value)))
    return out
