"""A small, bounded memory of who wrote recent messages (ids only, never text).

Why: MESSAGE_DELETE and MESSAGE_REACTION_REMOVE carry no author, and the relay
keeps no message cache (a cache would hold message text). Remembering
``message_id → author_id`` for the last N messages lets deletes and reaction
removals name the author when it is still known; older ones fall back to null
and the pipeline resolves them from the lake by ``message_id``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

DEFAULT_CAPACITY: Final = 20_000  # ~2 MB of ints: bounded however big the guild


class RecentAuthors:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = max(1, capacity)
        self._authors: OrderedDict[int, int] = OrderedDict()

    def remember(self, message_id: int, author_id: int) -> None:
        self._authors[message_id] = author_id
        if len(self._authors) > self._capacity:
            self._authors.popitem(last=False)

    def author_of(self, message_id: int) -> int | None:
        return self._authors.get(message_id)

    def __len__(self) -> int:
        return len(self._authors)
