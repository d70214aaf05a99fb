"""Move poison messages back to their queue once what broke them is fixed (a long outage, a bug).

Messages move byte for byte (the wire text, base64 included) and get a fresh dequeue count.
Replaying is safe: ingest is idempotent, so a message that was in fact processed credits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requeued:
    queue: str
    moved: int


def requeue_poison(connection: str, queue: str, *, limit: int = 10_000) -> Requeued:
    from azure.core.exceptions import ResourceNotFoundError

    from synapse.queues import ensure_queue
    from synapse.runner.queue_worker import raw_client

    source = raw_client(connection, f"{queue}-poison")
    target = raw_client(connection, queue)
    ensure_queue(target)
    moved = 0
    while moved < limit:
        try:
            batch = list(source.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
        except ResourceNotFoundError:  # no poison queue: nothing ever failed
            break
        if not batch:
            break
        for message in batch:
            target.send_message(message.content)
            source.delete_message(message)
            moved += 1
    return Requeued(queue, moved)
