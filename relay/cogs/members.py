"""Members joining and leaving (leaves through the raw event: members are not cached)."""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Members(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.ctx.emit(normalise.member_joined(member, now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_raw_member_remove(self, raw: discord.RawMemberRemoveEvent) -> None:
        self.ctx.emit(normalise.member_left(guild_id=raw.guild_id, user=raw.user, now=self.ctx.clock()))
