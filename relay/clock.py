"""Time as the relay stamps it: UTC, millisecond precision, ISO 8601 with ``Z``.

Gateway events such as VOICE_STATE_UPDATE carry no timestamp, so the relay
stamps them on receipt, and the stamp is part of their ``source_event_id``.
The clock is injected (the dry-run replays a capture at the times recorded in
it, tests pin it) instead of being read deep inside the normalisers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2025-01-15T14:30:00.123Z``: one spelling everywhere, because ids embed it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class ManualClock:
    """A clock that reads a settable time (dry-run captures with timestamps, tests)."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment if self.moment is not None else system_clock()
