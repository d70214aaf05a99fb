"""Threads created (THREAD_CREATE with ``newly_created``; joining an old thread is not creation)."""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Threads(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.ctx.emit(normalise.thread_created(thread))
