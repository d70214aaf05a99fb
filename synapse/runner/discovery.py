"""What the Functions app declares: queue triggers, timers, and the host's queue settings."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from synapse.config import PROJECT_ROOT


@dataclass(frozen=True)
class QueueFunction:
    name: str
    queue: str
    connection: str
    arg_name: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: str
    run_on_startup: bool
    arg_name: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class QueueSettings:
    """``extensions.queues`` of host.json, with the host's defaults for anything left out."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: timedelta = timedelta(0)
    max_polling_interval: timedelta = timedelta(minutes=1)
    message_encoding: str = "base64"
    function_timeout: timedelta = timedelta(minutes=5)


def _timespan(value: str) -> timedelta:
    """``hh:mm:ss`` (host.json TimeSpan) → timedelta."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?", value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan (hh:mm:ss): {value!r}")
    days, h, m, s, frac = match.groups()
    return timedelta(days=int(days or 0), hours=int(h), minutes=int(m), seconds=int(s),
                     microseconds=int((frac or "0").ljust(6, "0")[:6]))


def host_settings(path: Path | None = None) -> QueueSettings:
    data = json.loads((path or PROJECT_ROOT / "host.json").read_text())
    q = data.get("extensions", {}).get("queues", {})
    defaults = QueueSettings()
    return QueueSettings(
        batch_size=int(q.get("batchSize", defaults.batch_size)),
        new_batch_threshold=int(q.get("newBatchThreshold", defaults.new_batch_threshold)),
        max_dequeue_count=int(q.get("maxDequeueCount", defaults.max_dequeue_count)),
        visibility_timeout=_timespan(q["visibilityTimeout"]) if "visibilityTimeout" in q
        else defaults.visibility_timeout,
        max_polling_interval=_timespan(q["maxPollingInterval"]) if "maxPollingInterval" in q
        else defaults.max_polling_interval,
        message_encoding=str(q.get("messageEncoding", defaults.message_encoding)).lower(),
        function_timeout=_timespan(data["functionTimeout"]) if "functionTimeout" in data
        else defaults.function_timeout,
    )


def _resolve(value: str) -> str:
    """Binding expressions ``%NAME%`` read app settings (environment variables), as the host does."""
    return re.sub(r"%([^%]+)%", lambda m: os.environ.get(m.group(1), m.group(0)), value)


def load_app(module: str = "function_app") -> Any:
    import importlib

    return importlib.import_module(module).app


_FUNCTIONS: dict[int, list[Any]] = {}


def functions_of(app: Any) -> list[Any]:
    """``app.get_functions()``, once per app: the SDK refuses to index the same app twice."""
    key = id(app)
    if key not in _FUNCTIONS:
        _FUNCTIONS[key] = list(app.get_functions())
    return _FUNCTIONS[key]


def discover(app: Any) -> tuple[list[QueueFunction], list[TimerFunction]]:
    """The queue-triggered and timer-triggered functions the app declares."""
    queues: list[QueueFunction] = []
    timers: list[TimerFunction] = []
    for f in functions_of(app):
        for b in f.get_bindings_dict()["bindings"]:
            kind = str(b.get("type"))
            if kind == "queueTrigger":
                queues.append(QueueFunction(f.get_function_name(), _resolve(b["queueName"]),
                                            b.get("connection", "AzureWebJobsStorage"), b["name"],
                                            f.get_user_function()))
            elif kind == "timerTrigger":
                timers.append(TimerFunction(f.get_function_name(), _resolve(b["schedule"]),
                                            bool(b.get("runOnStartup", False)), b["name"], f.get_user_function()))
    return queues, timers
