"""The default rule pack a new guild gets (``synapse guild init``; its milestones: ``milestones.defaults``).

Message XP follows what members know from MEE6: 15–25 XP per message, at most once a
minute, on the same level curve (``ledger.curves.MEE6``). Stars reward the author of a
message others react to; voice earns XP per minute with company and ears open.
``synapse.db.rules_store.install_defaults`` installs them idempotently (by rule name and
milestone key), so an operator's edits and deletions survive a re-run.
"""

from __future__ import annotations

from typing import Any, Final

from synapse.rules.model import RuleSpec

MESSAGE_MIN_LENGTH: Final = 5
STARS_DAILY_CAP: Final = 25
VOICE_XP_PER_MINUTE: Final = 5
# A built-in taxonomy tag on the guild's AFK channel (Discord's afk_channel_id, from the guild
# directory): always a known tag, so rules may name it without an admin creating it.
AFK_TAG: Final = "afk"
# The level-up and milestone texts: the defaults of the settings ``levelup_template`` and
# ``milestone_template``, which the default announce rules take their text from (``template_setting``).
LEVELUP_TEMPLATE: Final = "GG {member}, you just advanced to level {level}!"
MILESTONE_TEMPLATE: Final = "{member} earned **{milestone_name}**!"

DEFAULT_RULES: Final[list[dict[str, Any]]] = [
    {"name": "Message XP", "module": "economy", "priority": 100,
     "description": "15–25 XP per message, once a minute (like MEE6), for messages of a few characters.",
     "trigger": {"event": "message_create"},
     "conditions": [{"type": "not_bot"},
                    {"type": "payload", "field": "length", "op": ">=", "value": MESSAGE_MIN_LENGTH},
                    {"type": "cooldown", "seconds": 60}],
     "effects": [{"type": "credit", "currency": "xp", "amount": {"random": [15, 25]}}]},
    {"name": "Deleted message XP back", "module": "economy", "priority": 100,
     "description": "A message deleted within 10 minutes gives its XP back (no post-and-delete farming).",
     "trigger": {"event": "message_delete"},
     "effects": [{"type": "clawback", "within_minutes": 10, "currencies": ["xp"]}]},
    {"name": "Reaction Stars", "module": "economy", "priority": 100,
     "description": "A star to the author of a message someone else reacts to; one per reactor per message.",
     "trigger": {"event": "reaction_add"},
     "conditions": [{"type": "not_bot"}, {"type": "not_self_reaction"}, {"type": "once_per_reactor"},
                    {"type": "cap", "currency": "stars", "amount": STARS_DAILY_CAP, "window": "day"}],
     "effects": [{"type": "credit", "currency": "stars", "amount": 1, "to": "message_author"}]},
    {"name": "Reaction removed", "module": "economy", "priority": 100,
     "description": "Removing the reaction takes its star back.",
     "trigger": {"event": "reaction_remove"},
     "effects": [{"type": "clawback", "currencies": ["stars"]}]},
    {"name": "Voice XP", "module": "economy", "priority": 100,
     "description": "XP per minute in voice, not alone in the channel, not self-deafened, not in the AFK channel.",
     "trigger": {"event": "voice_tick"},
     "conditions": [{"type": "not_bot"}, {"type": "tags", "none_of": [AFK_TAG]},
                    {"type": "payload", "field": "members_in_channel", "op": ">=", "value": 2},
                    {"type": "payload", "field": "self_deaf", "op": "!=", "value": True}],
     "effects": [{"type": "credit", "currency": "xp",
                  "amount": {"per_minute": VOICE_XP_PER_MINUTE, "field": "minutes"}}]},
    {"name": "Thread bonus", "module": "economy", "priority": 100,
     "description": "Starting a thread earns a bonus, at most every 5 minutes.",
     "trigger": {"event": "thread_create"},
     "conditions": [{"type": "not_bot"}, {"type": "cooldown", "seconds": 300}],
     "effects": [{"type": "credit", "currency": "xp", "amount": 50},
                 {"type": "credit", "currency": "gold", "amount": 5}]},
    {"name": "Welcome gift", "module": "economy", "priority": 100,
     "trigger": {"event": "member_join"},
     "conditions": [{"type": "payload", "field": "is_bot", "op": "!=", "value": True}],
     "effects": [{"type": "credit", "currency": "gold", "amount": 100}]},
    {"name": "Welcome message", "module": "announcements", "priority": 50,
     "trigger": {"event": "member_join"},
     "conditions": [{"type": "payload", "field": "is_bot", "op": "!=", "value": True}],
     "effects": [{"type": "announce", "target": "announcements", "title": "Welcome!",
                  "template": "Welcome to the server, {mention}!"}]},
    {"name": "Level-up message", "module": "announcements", "priority": 50,
     "trigger": {"event": "level_up"},
     "conditions": [{"type": "payload", "field": "currency", "op": "==", "value": "xp"}],
     "effects": [{"type": "announce", "target": "levelup", "reason": "level_up", "title": "Level up!",
                  "template": LEVELUP_TEMPLATE, "template_setting": "levelup_template", "color": 0xF1C40F}]},
    {"name": "Milestone message", "module": "announcements", "priority": 50,
     "trigger": {"event": "milestone_earned"},
     "conditions": [{"type": "payload", "field": "announce", "op": "==", "value": True}],
     "effects": [{"type": "announce", "target": "announcements", "reason": "milestone",
                  "title": "Milestone: {milestone_name}", "template": MILESTONE_TEMPLATE,
                  "template_setting": "milestone_template", "color": 0x2ECC71}]},
    *({"name": f"Milestones on {event}", "module": "milestones", "priority": 10,
       "description": "Check milestones when this happens.",
       "trigger": {"event": event}, "effects": [{"type": "check_milestones"}]}
      for event in ("message_create", "thread_create", "voice_tick", "level_up")),
]



def _level_up_v2() -> dict[str, Any]:
    """The second default level-up rule: a literal text, so ``levelup_template`` was ignored."""
    [rule] = [r for r in DEFAULT_RULES if r["name"] == "Level-up message"]
    effect = {k: v for k, v in rule["effects"][0].items() if k != "template_setting"}
    return {**rule, "effects": [{**effect, "template": "GG {mention}, you just advanced to level {level}!"}]}


def _level_up_v1() -> dict[str, Any]:
    """The first default level-up rule: it named the message's channel, so ``levelup_mode`` was ignored."""
    rule = _level_up_v2()
    return {**rule, "effects": [{**rule["effects"][0], "target": "channel"}]}


def _milestone_v1() -> dict[str, Any]:
    """The first default milestone rule: a literal text, so ``milestone_template`` was ignored."""
    [rule] = [r for r in DEFAULT_RULES if r["name"] == "Milestone message"]
    effect = {k: v for k, v in rule["effects"][0].items() if k != "template_setting"}
    return {**rule, "effects": [{**effect, "template": "{mention} earned **{milestone_name}**!"}]}


# Earlier definitions of default rules. ``install_defaults`` replaces a stored rule that still equals
# one of them (never edited by the operator) with today's default; edited rules are left alone.
def _voice_xp_v1() -> dict[str, Any]:
    """The first default voice XP rule: it paid in the guild's AFK channel too."""
    [rule] = [r for r in DEFAULT_RULES if r["name"] == "Voice XP"]
    return {**rule, "description": "XP per minute in voice, not alone in the channel and not self-deafened.",
            "conditions": [c for c in rule["conditions"] if c.get("type") != "tags"]}


SUPERSEDED_RULES: Final[dict[str, list[dict[str, Any]]]] = {
    "Level-up message": [_level_up_v1(), _level_up_v2()], "Milestone message": [_milestone_v1()],
    "Voice XP": [_voice_xp_v1()]}


def default_rules() -> list[RuleSpec]:
    return [RuleSpec.model_validate(r) for r in DEFAULT_RULES]
