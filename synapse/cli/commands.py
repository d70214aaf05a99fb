"""``synapse register-commands [--guild G]``: install the slash command definitions on Discord.

Bulk overwrite (``PUT /applications/{app}/commands``, or the guild-scoped route
with ``--guild``: guild commands update at once, which suits development;
global ones are for production). Prints what changed against what Discord had.
"""

from __future__ import annotations

from typing import Any

import typer

from synapse.cli.common import out


def _differs(ours: Any, theirs: Any) -> bool:
    """Whether Discord's copy differs from ours in any field we set (Discord adds ids and defaults)."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return True
        for key, value in ours.items():
            if key not in theirs or theirs[key] is None:
                if value not in (False, [], None, ""):
                    return True
            elif _differs(value, theirs[key]):
                return True
        return False
    if isinstance(ours, list):
        return not isinstance(theirs, list) or len(ours) != len(theirs) or any(
            _differs(a, b) for a, b in zip(ours, theirs, strict=True))
    return bool(ours != theirs)


def plan(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Names of commands added, changed, removed and unchanged by overwriting ``theirs`` with ``ours``."""
    existing = {c.get("name"): c for c in theirs}
    names = {c["name"] for c in ours}
    report: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "unchanged": []}
    for command in ours:
        old = existing.get(command["name"])
        key = "added" if old is None else ("changed" if _differs(command, old) else "unchanged")
        report[key].append(command["name"])
    report["removed"] = sorted(str(n) for n in existing if n not in names)
    return report


def register_commands(
    guild: str | None = typer.Option(None, "--guild", help="Register in this guild only (instant; development)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing"),
) -> None:
    """Install Synapse's slash commands (bulk overwrite), printing what changed."""
    from synapse.bootstrap import container
    from synapse.discord.rest import DiscordRest, Route
    from synapse.errors import ConfigError
    from synapse.interactions.definitions import commands

    if guild is not None and (not guild.isdigit() or len(guild) > 20):
        raise typer.BadParameter(f"{guild!r} is not a guild id (a snowflake: digits only)")
    settings = container().settings
    if not settings.has_discord_credentials:
        raise ConfigError("DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID are needed to register commands",
                          hint="set them in the environment or local.settings.json")
    ours = commands()
    scope = f"guild {guild}" if guild else "global"
    with DiscordRest.from_settings(settings) as rest:
        if guild:
            route = Route.of("GET", "/applications/{application_id}/guilds/{guild_id}/commands",
                             application_id=settings.discord_application_id, guild_id=guild)
        else:
            route = Route.of("GET", "/applications/{application_id}/commands",
                             application_id=settings.discord_application_id)
        theirs = rest.request(route) or []
        report = plan(ours, theirs)
        for label in ("added", "changed", "removed", "unchanged"):
            for name in report[label]:
                out.print(f"{label:<9} /{name}", soft_wrap=True)
        if dry_run:
            out.print(f"dry run: nothing sent ({scope})")
            return
        stored = rest.bulk_overwrite_commands(ours, guild_id=guild)
    out.print(f"registered {len(stored)} commands ({scope})")
