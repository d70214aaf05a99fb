"""Channel, role and guild changes for the guild directory (the GUILDS intent delivers them;
GUILD_MEMBERS the bot's own member updates)."""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import directory
from relay.context import RelayContext


class Directory(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self.ctx.emit(directory.channel_changed(channel, "create", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel,
                                      after: discord.abc.GuildChannel) -> None:
        self.ctx.emit(directory.channel_changed(after, "update", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self.ctx.emit(directory.channel_changed(channel, "delete", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_role_create(self, role: discord.Role) -> None:
        self.ctx.emit(directory.role_changed(role, "create", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        self.ctx.emit(directory.role_changed(after, "update", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        self.ctx.emit(directory.role_changed(role, "delete", now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        if before.afk_channel != after.afk_channel:
            self.ctx.emit(directory.guild_changed(after, now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        me = after.guild.me
        if me is not None and after.id == me.id:
            self.ctx.emit(directory.bot_roles_changed(after, now=self.ctx.clock()))
