"""Structured logs: one JSON object per line, with the extra fields callers pass."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO", *, json_output: bool = True) -> None:
    root = logging.getLogger()
    if getattr(root, "_synapse_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "httpx", "alembic.runtime"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._synapse_configured = True  # type: ignore[attr-defined]
