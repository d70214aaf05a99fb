"""A monotonic clock and sleeper for tests: ``sleep`` records the wait and moves time, never blocks.

    t = FakeTime()
    rest = DiscordRest(..., sleep=t.sleep, monotonic=t.monotonic)
    fake = FakeDiscord(clock=t.monotonic)      # share the clock with the fake server
    ...
    assert t.sleeps == [1.5]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(round(seconds, 3))
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
