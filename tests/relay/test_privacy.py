"""Message text never leaves the relay: not in an envelope, a log record, or a spool byte."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from pathlib import Path

from relay.features import fingerprint
from relay.pipeline import Pipeline
from relay.sender import QueueTransport
from relay.spool import LOG
from relay.telemetry import configure_logging
from synapse.queues import azurite_connection_string, queue_client
from tests.relay import payloads as p
from tests.relay.harness import KEY, Harness
from tests.support.services import free_port

SECRETS = [
    "Quixotic-zebra-7c1f whispers the launch code ```py\nsecret_function_9b2e()\n``` https://leak.example/x",
    "Plain sentence with the word hyperborean-4410 in it",
    "Ægir-ünïcode-🔥-f00d also secret",
]


def fragments(text: str) -> set[str]:
    """The text and every distinctive piece of it (words of 8+ characters), raw and lower-cased."""
    words = {w.strip("`()") for w in text.split() if len(w.strip("`()")) >= 8}
    return {text, text.casefold(), *words, *(w.casefold() for w in words)}


def leaks(blob: bytes) -> list[str]:
    found = []
    for secret in SECRETS:
        for piece in fragments(secret):
            for encoding in (piece.encode("utf-8"), json.dumps(piece)[1:-1].encode("ascii")):
                if encoding in blob:
                    found.append(piece)
    return found


def test_no_message_text_in_envelopes_logs_or_spool(tmp_path: Path) -> None:
    """Secret texts through parsers, cogs, buffer, a failing queue and the spool: none of it anywhere."""
    logs = io.StringIO()
    configure_logging("DEBUG", stream=logs)  # the most verbose the relay can be configured

    async def go() -> tuple[list[dict], Pipeline]:
        dead = azurite_connection_string(port=free_port())
        pipeline = Pipeline(QueueTransport(queue_client("nowhere", connection=dead), timeout=0.5), tmp_path,
                            linger=0.01, backoff=0.01, attempts=2)
        seen: list[dict] = []

        def sink(event: dict) -> None:
            seen.append(event)
            pipeline.put(event)

        harness = Harness(sink)
        await harness.start()
        pipeline.start()
        frames = [p.guild_create()]
        for n, secret in enumerate(SECRETS):
            frames.append(p.message_create(secret, mid=str(334385199974967100 + n)))
        frames.append(p.message_create(SECRETS[0], mid="334385199974967200"))  # a repeat
        frames += [p.reaction_add(), p.message_delete()]
        await harness.feed(frames)
        # What discord.py's gateway would log for each raw frame (at DEBUG) must never be emitted.
        for frame in frames:
            logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", None, frame)
        await pipeline.stop(grace=5)
        return seen, pipeline

    try:
        events, pipeline = asyncio.run(go())
    finally:
        logging.getLogger().handlers.clear()

    assert leaks(json.dumps({"x": SECRETS[2]}).encode())  # the detector does detect (escaped JSON too)
    messages = [e for e in events if e["event_type"] == "message_create"]
    assert len(messages) == 4 and pipeline.stats.events_spooled == len(events)
    assert leaks(json.dumps(events, ensure_ascii=False).encode()) == []
    assert leaks(json.dumps(events).encode()) == []
    spool_bytes = (tmp_path / LOG).read_bytes()
    assert spool_bytes and leaks(spool_bytes) == []
    log_text = logs.getvalue()
    assert "batch spooled" in log_text  # the logs were captured, and they are about batches, not text
    assert leaks(log_text.encode()) == []
    # The repeat is detectable without the text: same keyed fingerprint, different message.
    assert messages[0]["payload"]["fingerprint"] == messages[3]["payload"]["fingerprint"]


def test_fingerprints_cannot_be_checked_without_the_key() -> None:
    """A fingerprint is an HMAC keyed per relay and per guild, not a plain hash anyone can recompute."""
    text = "hello world"
    ours = fingerprint(text, key=KEY, guild_id=1)
    assert ours is not None
    assert ours not in hashlib.sha256(text.encode()).hexdigest()
    assert ours != fingerprint(text, key=b"another key", guild_id=1)
    assert ours != fingerprint(text, key=KEY, guild_id=2)
    assert ours == fingerprint("  HELLO   world ", key=KEY, guild_id=1)  # case and spacing ignored
