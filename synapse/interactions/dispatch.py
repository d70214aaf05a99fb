"""From a parsed interaction to a response: gates (server only, module on, admin), then the handler.

Every command runs in one database transaction. Expected failures
(``SynapseError``) become ephemeral explanations; anything unexpected is logged
and answered with an ephemeral apology, so Discord never sees a 500 from us.
A job returned by a handler is queued only after the transaction commits.
"""

from __future__ import annotations

import logging

from synapse import errors as e
from synapse.db.uow import Conn, unit_of_work
from synapse.interactions import responses as r
from synapse.interactions.access import is_admin, module_off
from synapse.interactions.commands import Command, by_component_prefix, registry
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction, InteractionType

log = logging.getLogger(__name__)


def _command_for(interaction: Interaction) -> tuple[Command | None, bool]:
    """The command an interaction is for, and whether it is a component click."""
    if interaction.type is InteractionType.MESSAGE_COMPONENT:
        prefix = (interaction.custom_id or "").split(":", 1)[0]
        return by_component_prefix().get(prefix), True
    return registry().get(interaction.command), False


def dispatch(ctx: Context, interaction: Interaction) -> r.Json:
    if interaction.type is InteractionType.PING:
        return r.pong()
    command, is_component = _command_for(interaction)
    autocomplete = interaction.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
    if command is None:
        return r.choices([]) if autocomplete else r.error("Synapse does not know this command.")
    try:
        reply = _run(ctx, command, interaction, autocomplete=autocomplete, is_component=is_component)
    except e.StorageError:
        log.error("interaction failed: storage unavailable", extra={"command": command.name})
        return r.error("Synapse cannot reach its database right now; try again in a minute.")
    except e.SynapseError as exc:
        return r.choices([]) if autocomplete else r.error(_explain(exc))
    except Exception:
        log.exception("interaction failed", extra={"command": command.name, "interaction_id": interaction.id})
        return r.choices([]) if autocomplete else r.error("Something went wrong; the team has been told.")
    if reply.job is not None:
        try:
            ctx.enqueue(reply.job)
        except Exception:
            log.exception("could not queue follow-up", extra={"command": command.name})
            return r.error("Synapse could not start this right now; try again in a minute.")
    return reply.body


def _run(ctx: Context, command: Command, interaction: Interaction, *, autocomplete: bool,
         is_component: bool) -> Reply:
    # One transaction for writes; pure reads get an autocommit connection (no BEGIN/COMMIT round trips).
    # A lost database, here or inside the handler, comes out as StorageError.
    with unit_of_work(ctx.engine, read_only=command.read_only or autocomplete) as conn:
        if interaction.guild_id is None:
            raise e.ValidationFailed("Synapse commands work in a server, not in DMs")
        _onboard(ctx, conn, interaction.guild_id, read_only=command.read_only or autocomplete)
        if module_off(conn, interaction.guild_id, command.module):
            raise e.NotFound(f"The {command.module} module is off in this server.")
        if autocomplete:
            from synapse.interactions.autocomplete import suggest

            return Reply(suggest(conn, interaction))
        if command.admin and not is_admin(conn, interaction):
            raise e.Forbidden("Only server admins (Administrator or Manage Server, or a Synapse admin role) "
                              "can use this command.")
        if is_component:
            if command.on_component is None:
                raise e.ValidationFailed("this button is no longer handled")
            return command.on_component(ctx, conn, interaction)
        return command.run(ctx, conn, interaction)


def _onboard(ctx: Context, conn: Conn, guild_id: int, *, read_only: bool) -> None:
    """A guild's first command sets it up (services/onboarding.py): in this transaction, or, when the
    command only reads (an autocommit connection), in one of its own."""
    from synapse.services import onboarding

    if read_only:
        if not onboarding.known(conn, guild_id):
            onboarding.ensure_committed(ctx.engine, guild_id, door="interaction")
    else:
        onboarding.ensure(conn, guild_id, door="interaction")


def _explain(exc: e.SynapseError) -> str:
    if isinstance(exc, e.InsufficientBalance):
        return (f"Refused: that would take the balance below zero ({exc.balance:,} {exc.amount:+,}), "
                f"and {exc.currency} does not allow negative balances.")
    if isinstance(exc, e.ValidationFailed) and exc.errors:
        return "Invalid input: " + "; ".join(f"{d.path}: {d.message}" for d in exc.errors[:5])
    text = exc.message
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
