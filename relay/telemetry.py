"""Counters and structured (JSON, one object per line) logs.

Logs carry ids, counts and timings only. The ``discord`` library logs whole
gateway payloads (message text included) at DEBUG, so its loggers are held at
INFO or above whatever level the relay itself runs at.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@dataclass
class Stats:
    """What the relay has done since start-up (logged periodically and served by /healthz)."""

    events_in: int = 0
    events_skipped: int = 0
    events_invalid: int = 0
    events_out: int = 0
    batches_out: int = 0
    send_failures: int = 0
    batches_spooled: int = 0
    events_spooled: int = 0
    batches_replayed: int = 0
    buffer_overflows: int = 0
    last_send_ms: float = 0.0
    max_send_ms: float = 0.0
    total_send_ms: float = 0.0

    def sent(self, events: int, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.events_out += events
        self.batches_out += 1
        self.last_send_ms = round(elapsed, 2)
        self.max_send_ms = round(max(self.max_send_ms, elapsed), 2)
        self.total_send_ms += elapsed

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        total = data.pop("total_send_ms")
        data["avg_send_ms"] = round(total / self.batches_out, 2) if self.batches_out else 0.0
        return data


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}``: what Container Apps log analytics can query."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Never DEBUG: discord.gateway logs every raw dispatch, message content included.
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # The Azure SDK logs every HTTP request at INFO: one line per batch is noise, not signal.
    logging.getLogger("azure").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # The relay never joins voice, so discord.py's warning about its voice library is noise.
    logging.getLogger("discord.client").addFilter(lambda record: "davey" not in record.getMessage())
