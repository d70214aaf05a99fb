"""What every cog needs, passed in rather than reached for (tests and the dry-run build their own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relay.clock import Clock, system_clock
from relay.recent import RecentAuthors
from relay.telemetry import Stats

Sink = Callable[[dict[str, Any]], None]


@dataclass
class GatewayStatus:
    """Whether the gateway session is up, and since when it is not (for /healthz)."""

    connected: bool = False
    changed_at: float = field(default_factory=time.monotonic)

    def set(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.changed_at = time.monotonic()

    def down_for(self) -> float:
        return 0.0 if self.connected else time.monotonic() - self.changed_at


@dataclass
class RelayContext:
    sink: Sink
    fingerprint_key: bytes
    clock: Clock = system_clock
    stats: Stats = field(default_factory=Stats)
    authors: RecentAuthors = field(default_factory=RecentAuthors)
    gateway: GatewayStatus = field(default_factory=GatewayStatus)

    def emit(self, event: dict[str, Any] | None) -> None:
        if event is None:
            self.stats.events_skipped += 1
        else:
            self.sink(event)
