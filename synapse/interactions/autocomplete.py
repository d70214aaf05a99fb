"""Autocomplete for ``currency`` and ``milestone`` options, whatever the command."""

from __future__ import annotations

from synapse.db.uow import Conn
from synapse.interactions import responses as r
from synapse.interactions.models import Interaction
from synapse.services.milestones_admin import search_milestones
from synapse.services.profile import visible_currencies


def suggest(conn: Conn, interaction: Interaction) -> r.Json:
    typed = (interaction.option_str(interaction.focused or "") or "").strip().lower()
    if interaction.guild_id is None:
        return r.choices([])
    if interaction.focused == "currency":
        items = [(f"{c.symbol} {c.name} ({c.key})".strip(), c.key)
                 for c in visible_currencies(conn, interaction.guild_id)
                 if typed in c.key or typed in c.name.lower()]
        return r.choices(items)
    if interaction.focused == "milestone":
        return r.choices([(f"{m.emoji} {m.name} ({m.key})".strip(), m.key)
                          for m in search_milestones(conn, interaction.guild_id, typed)])
    return r.choices([])
