"""Slash command handlers, one module per command; this registry maps names and button ids to them.

A handler is ``run(ctx, conn, interaction) -> Reply``: it decodes options, calls
one service inside the dispatcher's transaction, and encodes the answer.
Errors are raised as ``SynapseError``s; the dispatcher turns them into
ephemeral replies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from synapse.db.uow import Conn
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction

Handler = Callable[[Context, Conn, Interaction], Reply]


@dataclass(frozen=True)
class Command:
    name: str
    run: Handler
    module: str | None = None         # the module that must be on (None: always available)
    admin: bool = False
    component_prefix: str | None = None
    on_component: Handler | None = None
    read_only: bool = False           # reads only: runs without BEGIN/COMMIT (two round trips fewer)


@cache
def registry() -> dict[str, Command]:
    from synapse.interactions.commands import (
        award,
        create_milestone,
        grant_milestone,
        leaderboard,
        milestones,
        privacy,
        profile,
    )

    commands = [profile.COMMAND, profile.RANK, leaderboard.COMMAND, milestones.COMMAND, award.COMMAND,
                create_milestone.COMMAND, grant_milestone.COMMAND, privacy.COMMAND]
    return {c.name: c for c in commands}


@cache
def by_component_prefix() -> dict[str, Command]:
    return {c.component_prefix: c for c in registry().values() if c.component_prefix}
