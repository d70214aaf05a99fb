"""The ``synapse-announce`` message: which outbox rows to send, after the transaction that wrote them committed.

Body (JSON, base64 on the wire like every queue message): ``{"v": 1, "outbox_ids": [12, 13]}``.
The rows themselves hold everything to send; the message only says "look at these".
If enqueueing fails after commit the rows stay ``pending`` in the outbox, so nothing is lost:
the announce side can always sweep pending rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from synapse.config import Settings
from synapse.errors import EnvelopeError, ErrorDetail

log = logging.getLogger(__name__)

VERSION: Final = 1
MAX_IDS_PER_MESSAGE: Final = 1000  # ~10 KiB of JSON, far below the 64 KiB queue limit


def encode(outbox_ids: Sequence[int]) -> str:
    return json.dumps({"v": VERSION, "outbox_ids": [int(i) for i in outbox_ids]}, separators=(",", ":"))


def decode(body: bytes | str) -> list[int]:
    """Outbox ids from an announce message; :class:`EnvelopeError` if it is not one."""
    try:
        data: Any = json.loads(body.decode("utf-8") if isinstance(body, bytes | bytearray) else body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("announce message is not JSON", [ErrorDetail("$", str(exc))]) from None
    ids = data.get("outbox_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise EnvelopeError("not an announce message", [ErrorDetail("outbox_ids", "must be a list of integers")])
    return ids


def enqueue(settings: Settings, outbox_ids: Sequence[int]) -> int:
    """Send outbox ids to the announce queue; return how many messages were sent (never raises)."""
    if not outbox_ids:
        return 0
    from azure.core.exceptions import ResourceNotFoundError

    from synapse.queues import ensure_queue, queue_client

    sent = 0
    try:
        client = queue_client(settings.announce_queue, connection=settings.storage_connection,
                              service_uri=settings.storage_queue_service_uri,
                              client_id=settings.managed_identity_client_id)
        for start in range(0, len(outbox_ids), MAX_IDS_PER_MESSAGE):
            text = encode(outbox_ids[start:start + MAX_IDS_PER_MESSAGE])
            try:
                client.send_message(text)
            except ResourceNotFoundError:  # a fresh storage account: create the queue once, then send
                ensure_queue(client)
                client.send_message(text)
            sent += 1
    except Exception as exc:  # the rows are committed and stay pending: log and carry on
        log.warning("announce enqueue failed; outbox rows stay pending",
                    extra={"outbox_ids": list(outbox_ids)[:50], "error": str(exc).splitlines()[0]})
    return sent
