"""``python -m relay --dry-run``: a gateway capture in, the envelopes the relay would send out.

Input: raw gateway dispatch frames, one JSON object per line
(``{"op": 0, "s": 42, "t": "MESSAGE_CREATE", "d": {...}}``), as captured from
Discord. An optional ``"received_at"`` (ISO 8601) on a frame replays it at that
time, so events that Discord does not timestamp (voice, reactions, leaves) get
the same ids on every replay. Output: one envelope JSON per line on stdout;
logs (JSON) and a summary on stderr. Nothing connects anywhere.

Frames go through discord.py's own parsers (``ConnectionState.parsers``) and
the same cogs, buffer and batcher as production; only the transport differs.
Guild-scoped frames need their guild in the cache, i.e. a GUILD_CREATE earlier
in the capture, as on a real connection; frames for unknown guilds are counted
and reported (discord.py discards most of them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import datetime
from typing import Any, TextIO

import discord

from relay.buffer import EventBuffer
from relay.client import RelayBot, add_cogs
from relay.clock import ManualClock
from relay.context import RelayContext
from relay.telemetry import Stats

log = logging.getLogger("relay.dryrun")

# Frames whose guild discord.py must already know, or it discards the frame.
_NEEDS_GUILD = frozenset({"VOICE_STATE_UPDATE", "THREAD_CREATE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE"})
_PLACEHOLDER_USER = {"id": "0", "username": "relay-dry-run", "discriminator": "0", "avatar": None,
                     "bot": True}


class StdoutTransport:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def send(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _moment(frame: dict[str, Any]) -> datetime | None:
    raw = frame.get("received_at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


async def _settle() -> None:
    """Let the listener tasks discord.py scheduled for the last frame run to completion."""
    for _ in range(4):
        await asyncio.sleep(0)


async def replay(source: TextIO, out: TextIO, *, fingerprint_key: bytes) -> dict[str, int]:
    stats = Stats()
    clock = ManualClock()
    transport = StdoutTransport(out)

    async def deliver(batch: Any) -> None:
        await transport.send(batch.text)
        stats.events_out += batch.count
        stats.batches_out += 1

    buffer = EventBuffer(deliver, stats)
    ctx = RelayContext(sink=buffer.put, fingerprint_key=fingerprint_key, clock=clock, stats=stats)
    bot = RelayBot(ctx, guild_ready_timeout=0.05)
    await bot._async_setup_hook()
    await add_cogs(bot, ctx)
    state = bot._connection
    counts = {"frames": 0, "dispatched": 0, "ignored": 0, "unknown_guild": 0, "errors": 0}
    runner = asyncio.create_task(buffer.run())
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, source.readline)
        if not line:
            break
        if not line.strip():
            continue
        counts["frames"] += 1
        try:
            frame = json.loads(line)
        except json.JSONDecodeError:
            counts["errors"] += 1
            log.warning("line is not JSON", extra={"frame": counts["frames"]})
            continue
        event = frame.get("t") if isinstance(frame, dict) else None
        parser = state.parsers.get(event) if isinstance(event, str) and frame.get("op") == 0 else None
        if parser is None or not isinstance(frame.get("d"), dict):
            counts["ignored"] += 1
            continue
        data = frame["d"]
        guild_id = discord.utils._get_as_snowflake(data, "guild_id")
        if event in _NEEDS_GUILD and state._get_guild(guild_id) is None:
            counts["unknown_guild"] += 1
            log.warning("frame for a guild not in the capture (no GUILD_CREATE before it)",
                        extra={"t": event, "guild_id": data.get("guild_id"), "frame": counts["frames"]})
            continue
        if state.user is None and event != "READY":
            state.user = discord.ClientUser(state=state, data=_PLACEHOLDER_USER)  # type: ignore[arg-type]
        clock.moment = _moment(frame)
        try:
            parser(data)
        except Exception as exc:  # a malformed frame must not stop the replay; log the kind, not the data
            counts["errors"] += 1
            log.warning("frame could not be parsed", extra={"t": event, "error": type(exc).__name__,
                                                             "frame": counts["frames"]})
            continue
        counts["dispatched"] += 1
        await _settle()
    if state._ready_task is not None:
        await state._ready_task
        await _settle()
    buffer.close()
    await runner
    summary = {**counts, "events": stats.events_in, "skipped": stats.events_skipped,
               "envelopes": stats.batches_out}
    log.info("dry run finished", extra=summary)
    return summary


def main(*, fingerprint_key: bytes) -> int:
    summary = asyncio.run(replay(sys.stdin, sys.stdout, fingerprint_key=fingerprint_key))
    return 1 if summary["errors"] else 0
