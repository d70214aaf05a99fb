"""Reactions added and removed (raw events: no message cache needed)."""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Reactions(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, raw: discord.RawReactionActionEvent) -> None:
        self._emit(raw)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, raw: discord.RawReactionActionEvent) -> None:
        self._emit(raw)

    def _emit(self, raw: discord.RawReactionActionEvent) -> None:
        # MESSAGE_REACTION_ADD names the message author; REMOVE does not, so fall back to memory.
        author = raw.message_author_id or self.ctx.authors.author_of(raw.message_id)
        self.ctx.emit(normalise.reaction(raw, author_id=author, now=self.ctx.clock()))
