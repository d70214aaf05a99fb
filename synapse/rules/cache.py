"""A per-worker cache of compiled rules, refreshed when a guild's rules version moves.

No LISTEN/NOTIFY (serverless workers come and go): the caller reads a cheap
fingerprint (``guilds.rules_version``, the disabled modules, …) once per message and
passes it in; the loader runs only when the fingerprint differs from the cached one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    fingerprint: Hashable
    value: T


class RuleCache(Generic[T]):
    """Holds one compiled value per guild (thread-safe; a worker may run several invocations)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry[T]] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, guild_id: int, fingerprint: Hashable, load: Callable[[], T]) -> T:
        entry = self._entries.get(guild_id)
        if entry is not None and entry.fingerprint == fingerprint:
            return entry.value
        value = load()
        with self._lock:
            self._entries[guild_id] = _Entry(fingerprint, value)
            self.loads += 1
        return value

    def invalidate(self, guild_id: int | None = None) -> None:
        with self._lock:
            if guild_id is None:
                self._entries.clear()
            else:
                self._entries.pop(guild_id, None)
