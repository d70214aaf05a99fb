"""Messages and deletes."""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Social(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        event = normalise.message_created(message, key=self.ctx.fingerprint_key)
        if event is not None:
            self.ctx.authors.remember(message.id, message.author.id)
        self.ctx.emit(event)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, raw: discord.RawMessageDeleteEvent) -> None:
        self._deleted(raw.guild_id, raw.channel_id, raw.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, raw: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in sorted(raw.message_ids):
            self._deleted(raw.guild_id, raw.channel_id, message_id)

    def _deleted(self, guild_id: int | None, channel_id: int, message_id: int) -> None:
        if guild_id is None:
            self.ctx.emit(None)
            return
        self.ctx.emit(normalise.message_deleted(
            guild_id=guild_id, channel_id=channel_id, message_id=message_id,
            author_id=self.ctx.authors.author_of(message_id), now=self.ctx.clock()))
