"""The discord.py client: exact intents, no member chunking, no message cache, six cogs.

Memory stays flat however large the guilds are: members are not chunked at
start-up (``chunk_guilds_at_startup=False``) nor cached as they act
(``MemberCacheFlags.none()``), and messages are not cached (``max_messages=None``),
which also means no message text is held after its features are computed.
Listeners prefer raw events (``on_raw_*``) so nothing depends on a cache.
"""

from __future__ import annotations

from typing import Any

import discord
from discord.ext import commands

from relay.context import RelayContext


def relay_intents() -> discord.Intents:
    """GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS, GUILD_VOICE_STATES,
    MESSAGE_CONTENT; never GUILD_PRESENCES (decision D02-10)."""
    return discord.Intents(guilds=True, members=True, guild_messages=True, guild_reactions=True,
                           voice_states=True, message_content=True)


class RelayBot(commands.Bot):
    def __init__(self, ctx: RelayContext, **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        super().__init__(
            command_prefix=commands.when_mentioned, help_command=None, intents=relay_intents(),
            chunk_guilds_at_startup=False, member_cache_flags=discord.MemberCacheFlags.none(),
            max_messages=None, enable_debug_events=False, **options,
        )
        self.ctx = ctx

    async def setup_hook(self) -> None:
        await add_cogs(self, self.ctx)

    async def on_message(self, message: discord.Message, /) -> None:
        """The relay has no commands: do not parse messages as commands (the cogs listen)."""

    # Gateway session state, for /healthz.
    async def on_connect(self) -> None:
        self.ctx.gateway.set(True)

    async def on_resumed(self) -> None:
        self.ctx.gateway.set(True)

    async def on_disconnect(self) -> None:
        self.ctx.gateway.set(False)


async def add_cogs(bot: commands.Bot, ctx: RelayContext) -> None:
    from relay.cogs.guilds import Guilds
    from relay.cogs.members import Members
    from relay.cogs.reactions import Reactions
    from relay.cogs.social import Social
    from relay.cogs.threads import Threads
    from relay.cogs.voice import Voice

    for cog in (Social(ctx), Reactions(ctx), Voice(ctx), Threads(ctx), Members(ctx), Guilds(ctx)):
        await bot.add_cog(cog)
