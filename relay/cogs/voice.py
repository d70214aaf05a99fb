"""Voice joins, leaves and moves; a snapshot of who is in voice whenever a guild becomes available.

The snapshot matters because the relay can miss leaves while it is down: after
every (re)connect the pipeline learns who is actually in voice and can close
sessions that ended unseen. discord.py tracks voice states per guild from
GUILD_CREATE and VOICE_STATE_UPDATE without any member cache.
"""

from __future__ import annotations

import discord
from discord.ext import commands

from relay import normalise
from relay.context import RelayContext


class Voice(commands.Cog):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_voice_state_update(self, member: discord.Member, before: discord.VoiceState,
                                    after: discord.VoiceState) -> None:
        self.ctx.emit(normalise.voice_change(member, before, after, now=self.ctx.clock()))

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self._snapshot(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self._snapshot(guild)

    def _snapshot(self, guild: discord.Guild) -> None:
        for event in normalise.voice_snapshots(guild, now=self.ctx.clock()):
            self.ctx.emit(event)
