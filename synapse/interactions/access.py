"""Who may run what: admin checks from the interaction payload, and module gates."""

from __future__ import annotations

from synapse.admin import modules
from synapse.admin import settings as guild_settings
from synapse.db.uow import Conn
from synapse.interactions.models import ADMINISTRATOR, MANAGE_GUILD, Interaction


def is_admin(conn: Conn, interaction: Interaction) -> bool:
    """Administrator or Manage Guild in ``member.permissions``, or one of the guild's admin roles."""
    if interaction.guild_id is None:
        return False
    if interaction.invoker.permissions & (ADMINISTRATOR | MANAGE_GUILD):
        return True
    if not interaction.invoker.roles:
        return False
    admin_roles = {int(r) for r in guild_settings.load(conn, interaction.guild_id).admin_role_ids}
    return bool(admin_roles & interaction.invoker.roles)


def module_off(conn: Conn, guild_id: int, module: str | None) -> bool:
    return module is not None and not modules.is_enabled(conn, guild_id, module)
