"""What every cog needs, passed in rather than reached for (tests and the dry-run build their own),
and the one door events go through on their way to the buffer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from relay.clock import Clock, system_clock
from relay.recent import RecentAuthors
from relay.telemetry import Stats
from synapse.eventlake.envelope import EventModel

log = logging.getLogger("relay.events")

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
        """Hand one event to the buffer, if it satisfies the envelope contract.

        Checked here, one event at a time, because ingest validates whole envelopes:
        one malformed event would send its 499 batch-mates to the poison queue.
        """
        if event is None:
            self.stats.events_skipped += 1
            return
        problems = contract_problems(event)
        if problems:
            self.stats.events_invalid += 1
            log.error("event dropped: it breaks the envelope contract",
                      extra={"event_type": event.get("event_type"), "problems": problems})
            return
        self.sink(event)


def contract_problems(event: dict[str, Any]) -> list[str]:
    """Where ``event`` breaks the envelope's event model (paths and error kinds only, never values)."""
    try:
        EventModel.model_validate(event)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['type']}"
                for err in exc.errors(include_url=False, include_input=False, include_context=False)]
    return []
