"""Cutting encoded events into envelopes that fit one queue message.

Each event is JSON-encoded once, when it enters the buffer (``encode_event``);
an envelope is then assembled from those pieces without re-encoding, in exactly
the shape :func:`synapse.eventlake.envelope.encode_envelope` produces (a test
checks they decode to the same value). Events are encoded with ASCII escapes so
a piece's ``len`` is its byte size and size accounting costs nothing.

The size that matters is the *encoded* one: the queue stores the base64 of the
body (the Functions trigger's encoding), 4 bytes for every 3, and refuses more
than 64 KiB. So the raw JSON budget is 3/4 of that, minus a margin.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from synapse.eventlake.envelope import MAX_EVENTS, MAX_MESSAGE_BYTES, VERSION

HEAD: Final = f'{{"v":{VERSION},"events":['
TAIL: Final = "]}"
# base64 turns n bytes into 4*ceil(n/3): this many raw bytes always fit, with 1 KiB to spare.
MAX_RAW_BYTES: Final = (MAX_MESSAGE_BYTES // 4) * 3 - 1024


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def encode_event(event: dict[str, Any]) -> str:
    return _ENCODER.encode(event)


def base64_size(raw_bytes: int) -> int:
    return 4 * ((raw_bytes + 2) // 3)


@dataclass(frozen=True, slots=True)
class Batch:
    """One envelope ready to send: its JSON text and how many events it holds."""

    text: str
    count: int


def envelope_text(pieces: list[str]) -> str:
    return HEAD + ",".join(pieces) + TAIL


class Batcher:
    """Pending encoded events, cut into batches by count and by size (time is the buffer's job)."""

    def __init__(self, *, max_events: int = MAX_EVENTS, max_raw_bytes: int = MAX_RAW_BYTES) -> None:
        self.max_events = min(max_events, MAX_EVENTS)
        self.max_raw_bytes = max_raw_bytes
        self._pieces: deque[str] = deque()
        self._bytes = 0  # size of the envelope the pending pieces would make

    def __len__(self) -> int:
        return len(self._pieces)

    def add(self, piece: str) -> None:
        if len(HEAD) + len(piece) + len(TAIL) > self.max_raw_bytes:
            raise ValueError(f"one event is larger than a queue message ({len(piece)} bytes)")
        self._pieces.append(piece)
        self._bytes += len(piece) + 1

    def full(self) -> bool:
        """True when the pending events already make at least one complete batch."""
        too_big = len(HEAD) + self._bytes + len(TAIL) > self.max_raw_bytes
        return len(self._pieces) >= self.max_events or too_big

    def cut(self) -> Batch | None:
        """The longest prefix of pending events that fits one message (None when empty)."""
        if not self._pieces:
            return None
        taken: list[str] = []
        size = len(HEAD) + len(TAIL) - 1
        while self._pieces and len(taken) < self.max_events:
            piece = self._pieces[0]
            if size + len(piece) + 1 > self.max_raw_bytes:
                break
            taken.append(self._pieces.popleft())
            size += len(piece) + 1
            self._bytes -= len(piece) + 1
        return Batch(envelope_text(taken), len(taken))

    def drain(self) -> list[Batch]:
        batches = []
        while (batch := self.cut()) is not None:
            batches.append(batch)
        return batches
