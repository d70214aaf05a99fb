"""Fire timer-triggered functions on their NCRONTAB schedules (UTC, like the host's default)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from synapse.runner.discovery import TimerFunction
from synapse.runner.schedule import Schedule

log = logging.getLogger(__name__)


class TimerWorker:
    """One timer function on a background thread; a run still going when the next is due is skipped."""

    def __init__(self, function: TimerFunction) -> None:
        self.function = function
        self.schedule = Schedule.parse(function.schedule)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"timer-{self.function.name}", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def fire(self, *, past_due: bool = False) -> None:
        from azure.functions.timer import TimerRequest

        request = TimerRequest(past_due=past_due)
        try:
            result: Any = self.function.fn(**{self.function.arg_name: request})
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
            self.runs += 1
        except Exception as exc:  # a failed run is logged; the next one comes on schedule
            log.error("timer function failed", extra={"function": self.function.name,
                                                      "error": f"{type(exc).__name__}: {exc}"[:500]})

    def _loop(self) -> None:
        if self.function.run_on_startup:
            self.fire()
        while not self._stop.is_set():
            now = datetime.now(UTC)
            due = self.schedule.next_after(now)
            if self._stop.wait((due - now).total_seconds()):
                return
            late = (datetime.now(UTC) - due).total_seconds() > 60
            self.fire(past_due=late)


async def _await(result: Any) -> None:
    await result
