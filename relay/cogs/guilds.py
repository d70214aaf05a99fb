"""The guilds the bot is in: a ``guild_join`` when it joins one or finds one available at start-up.

The event is keyed by the guild alone (``guild_join:{guild_id}``), so the lake keeps the first
one ever and drops the rest: Synapse sets up a guild it has never seen (services/onboarding.py)
without the relay remembering anything.
"""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Guilds(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.ctx.emit(normalise.guild_joined(guild, now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.ctx.emit(normalise.guild_joined(guild, now=self.ctx.clock()))
