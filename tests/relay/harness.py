"""Run raw gateway frames through discord.py's own parsers into the relay's cogs, in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import discord

from relay.client import RelayBot, add_cogs
from relay.clock import ManualClock
from relay.context import RelayContext

KEY = b"test-fingerprint-key"
BOT_USER = {"id": "80351110224678999", "username": "synapse", "discriminator": "0", "avatar": None, "bot": True}


class Harness:
    """A RelayBot that never connects; ``feed`` parses frames exactly as the gateway would."""

    def __init__(self, sink: Any = None, *, clock: ManualClock | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.clock = clock or ManualClock()
        self.ctx = RelayContext(sink=sink or self.events.append, fingerprint_key=KEY, clock=self.clock)
        self.bot: RelayBot | None = None

    async def start(self) -> None:
        self.bot = RelayBot(self.ctx)
        await self.bot._async_setup_hook()
        await add_cogs(self.bot, self.ctx)
        state = self.bot._connection
        state.user = discord.ClientUser(state=state, data=BOT_USER)  # type: ignore[arg-type]

    async def feed(self, frames: Iterable[dict[str, Any]], *, at: datetime | None = None) -> None:
        assert self.bot is not None
        parsers = self.bot._connection.parsers
        for frame in frames:
            if at is not None:
                self.clock.moment = at
            parsers[frame["t"]](frame["d"])
            for _ in range(4):
                await asyncio.sleep(0)


def run_frames(frames: list[dict[str, Any]], *, at: datetime | None = None) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        harness = Harness()
        await harness.start()
        await harness.feed(frames, at=at)
        return harness.events

    return asyncio.run(go())
