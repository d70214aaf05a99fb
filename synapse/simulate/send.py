"""Where simulated envelopes go: the events queue (exactly as the relay sends), or a file for replay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from synapse.config import Settings


def to_queue(texts: Iterable[str], settings: Settings, *, queue: str | None = None) -> int:
    """Send envelope texts to the events queue with the relay's client settings; return how many."""
    from synapse.queues import ensure_queue, queue_client

    client = queue_client(queue or settings.events_queue, connection=settings.storage_connection,
                          service_uri=settings.storage_queue_service_uri,
                          client_id=settings.managed_identity_client_id)
    ensure_queue(client)
    sent = 0
    for text in texts:
        client.send_message(text)
        sent += 1
    return sent


def to_file(texts: Iterable[str], path: Path) -> int:
    """One envelope per line (JSON Lines), each line exactly one queue message body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        for text in texts:
            fh.write(text + "\n")
            written += 1
    return written


def from_file(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line.rstrip("\n")
