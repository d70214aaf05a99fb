"""Rules and milestones in PostgreSQL: load, save (versioned), install the defaults.

Every save validates the rule against what the guild has (currencies, regions, tags),
bumps the rule's version, keeps the new definition in ``rule_versions`` and bumps
``guilds.rules_version`` so every worker's ``RuleCache`` refreshes. Audit rows are the
admin service's job (it wraps these calls in its own transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from synapse.errors import NotFound
from synapse.milestones.criteria import MilestoneRecord
from synapse.milestones.defaults import DEFAULT_MILESTONES
from synapse.milestones.model import MilestoneSpec, validate_milestone
from synapse.rules.compile import RuleRecord
from synapse.rules.decisions import LevelUpRoute
from synapse.rules.defaults import AFK_TAG, DEFAULT_RULES, SUPERSEDED_RULES
from synapse.rules.model import RuleSpec, ValidationContext, dump_rule, validate_rule


def validation_context(conn: Connection, guild_id: int) -> ValidationContext:
    def keys(table: str) -> frozenset[str]:
        return frozenset(r.key for r in conn.execute(text(f"SELECT key FROM {table} WHERE guild_id = :g"),
                                                     {"g": guild_id}))
    return ValidationContext(currencies=keys("currencies"), regions=keys("regions"),
                             tags=keys("taxonomy") | {AFK_TAG})


def bump_rules_version(conn: Connection, guild_id: int) -> int:
    row = conn.execute(text("UPDATE guilds SET rules_version = rules_version + 1 WHERE guild_id = :g "
                            "RETURNING rules_version"), {"g": guild_id}).first()
    if row is None:
        raise NotFound(f"no guild {guild_id}", hint="run `synapse guild init` first")
    return int(row.rules_version)


def rules_version(conn: Connection, guild_id: int) -> int:
    row = conn.execute(text("SELECT rules_version FROM guilds WHERE guild_id = :g"), {"g": guild_id}).first()
    return 0 if row is None else int(row.rules_version)


LEVELUP_SETTINGS = """
    (SELECT value FROM settings WHERE guild_id = {g} AND key = 'levelup_mode') AS levelup_mode,
    (SELECT value FROM settings WHERE guild_id = {g} AND key = 'levelup_channel_id') AS levelup_channel_id"""


def levelup_route(conn: Connection, guild_id: int) -> LevelUpRoute:
    """The guild's level-up setting (``synapse.admin.settings``: ``levelup_mode``, ``levelup_channel_id``)."""
    row = conn.execute(text("SELECT" + LEVELUP_SETTINGS.format(g=":g")), {"g": guild_id}).one()
    return LevelUpRoute.of(row.levelup_mode, row.levelup_channel_id)


def load_rules(conn: Connection, guild_id: int) -> list[RuleRecord]:
    """Every rule not deleted (disabled ones included: ``compile_rules`` skips them)."""
    rows = conn.execute(text("""
        SELECT rule_id, version, definition FROM rules
         WHERE guild_id = :g AND deleted_at IS NULL ORDER BY rule_id"""), {"g": guild_id})
    return [RuleRecord(r.rule_id, r.version, RuleSpec.model_validate({**r.definition, "id": r.rule_id}))
            for r in rows]


def get_rule(conn: Connection, guild_id: int, rule_id: int, *, version: int | None = None) -> RuleRecord:
    if version is None:
        row = conn.execute(text("SELECT version, definition FROM rules WHERE guild_id = :g AND rule_id = :r "
                                "AND deleted_at IS NULL"), {"g": guild_id, "r": rule_id}).first()
    else:
        row = conn.execute(text("SELECT version, definition FROM rule_versions WHERE guild_id = :g "
                                "AND rule_id = :r AND version = :v"),
                           {"g": guild_id, "r": rule_id, "v": version}).first()
    if row is None:
        raise NotFound(f"no rule {rule_id}" + (f" version {version}" if version else "") + f" in guild {guild_id}")
    return RuleRecord(rule_id, row.version, RuleSpec.model_validate({**row.definition, "id": rule_id}))


def save_rule(conn: Connection, guild_id: int, data: Mapping[str, Any] | RuleSpec, *, rule_id: int | None = None,
              actor_id: int | None = None) -> RuleRecord:
    """Create (``rule_id`` None) or replace a rule; raises ValidationFailed with every error's path."""
    raw = data.model_dump(mode="json") if isinstance(data, RuleSpec) else dict(data)
    spec = validate_rule(raw, context=validation_context(conn, guild_id))
    definition = dump_rule(spec)
    params = {"g": guild_id, "n": spec.name, "en": spec.enabled, "m": spec.module, "p": spec.priority,
              "t": spec.trigger.event, "d": json.dumps(definition)}
    rule_id = rule_id if rule_id is not None else spec.id
    row: Any
    if rule_id is None:
        row = conn.execute(text("""
            INSERT INTO rules (guild_id, name, enabled, module, priority, trigger_event, version, definition)
            VALUES (:g, :n, :en, :m, :p, :t, 1, CAST(:d AS jsonb)) RETURNING rule_id, version"""), params).one()
    else:
        row = conn.execute(text("""
            UPDATE rules SET name = :n, enabled = :en, module = :m, priority = :p, trigger_event = :t,
                   version = version + 1, definition = CAST(:d AS jsonb), updated_at = now()
             WHERE guild_id = :g AND rule_id = :r AND deleted_at IS NULL RETURNING rule_id, version"""),
            {**params, "r": rule_id}).first()
        if row is None:
            raise NotFound(f"no rule {rule_id} in guild {guild_id}")
    conn.execute(text("""
        INSERT INTO rule_versions (guild_id, rule_id, version, definition, created_by)
        VALUES (:g, :r, :v, CAST(:d AS jsonb), :a)"""),
        {"g": guild_id, "r": row.rule_id, "v": row.version, "d": json.dumps(definition), "a": actor_id})
    bump_rules_version(conn, guild_id)
    return RuleRecord(row.rule_id, row.version, spec.model_copy(update={"id": row.rule_id}))


def delete_rule(conn: Connection, guild_id: int, rule_id: int) -> None:
    """Soft delete: the rule stops firing; its versions and the transactions naming it stay."""
    done = conn.execute(text("UPDATE rules SET deleted_at = now() WHERE guild_id = :g AND rule_id = :r "
                             "AND deleted_at IS NULL"), {"g": guild_id, "r": rule_id}).rowcount
    if not done:
        raise NotFound(f"no rule {rule_id} in guild {guild_id}")
    bump_rules_version(conn, guild_id)


def load_milestones(conn: Connection, guild_id: int) -> list[MilestoneRecord]:
    rows = conn.execute(text("""
        SELECT milestone_id, key, name, description, emoji, criteria, rewards, hidden, announce, enabled
          FROM milestones WHERE guild_id = :g ORDER BY milestone_id"""), {"g": guild_id})
    return [MilestoneRecord(r.milestone_id, MilestoneSpec.model_validate({
        "key": r.key, "name": r.name, "description": r.description, "emoji": r.emoji, "criteria": r.criteria,
        "rewards": r.rewards, "hidden": r.hidden, "announce": r.announce, "enabled": r.enabled})) for r in rows]


def save_milestone(conn: Connection, guild_id: int, data: Mapping[str, Any] | MilestoneSpec) -> MilestoneRecord:
    """Create or replace (by key) a milestone; bumps the rules version so caches refresh."""
    spec = data if isinstance(data, MilestoneSpec) else validate_milestone(dict(data))
    row = conn.execute(text("""
        INSERT INTO milestones (guild_id, key, name, description, emoji, criteria, rewards, hidden, announce, enabled)
        VALUES (:g, :k, :n, :d, :e, CAST(:c AS jsonb), CAST(:r AS jsonb), :h, :a, :en)
        ON CONFLICT (guild_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
            emoji = EXCLUDED.emoji, criteria = EXCLUDED.criteria, rewards = EXCLUDED.rewards,
            hidden = EXCLUDED.hidden, announce = EXCLUDED.announce, enabled = EXCLUDED.enabled
        RETURNING milestone_id"""), _milestone_params(guild_id, spec)).one()
    bump_rules_version(conn, guild_id)
    return MilestoneRecord(row.milestone_id, spec)


def _milestone_params(guild_id: int, spec: MilestoneSpec) -> dict[str, Any]:
    dumped = spec.model_dump(mode="json")
    return {"g": guild_id, "k": spec.key, "n": spec.name, "d": spec.description, "e": spec.emoji,
            "c": json.dumps(dumped["criteria"]), "r": json.dumps(dumped["rewards"]), "h": spec.hidden,
            "a": spec.announce, "en": spec.enabled}


def earned_milestones(conn: Connection, guild_id: int, user_id: int) -> list[tuple[str, Any]]:
    rows = conn.execute(text("""
        SELECT m.key, um.earned_at FROM user_milestones um
          JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
         WHERE um.guild_id = :g AND um.user_id = :u ORDER BY um.earned_at"""), {"g": guild_id, "u": user_id})
    return [(r.key, r.earned_at) for r in rows]


def install_defaults(conn: Connection, guild_id: int, *, rules: Iterable[Mapping[str, Any]] = DEFAULT_RULES,
                     milestones: Iterable[Mapping[str, Any]] = DEFAULT_MILESTONES) -> dict[str, int]:
    """Install the default rule pack and milestones that are missing (by rule name / milestone key).

    A default the operator deleted or edited is left alone: only names never seen are added, and a
    stored default still equal to a superseded definition (``defaults.SUPERSEDED_RULES``) is upgraded
    to today's (a new version, so the old one stays in ``rule_versions``).
    """
    stored = conn.execute(text("SELECT rule_id, name, definition, deleted_at FROM rules WHERE guild_id = :g "
                               "ORDER BY rule_id"), {"g": guild_id}).all()
    have = {r.name for r in stored}
    added_rules = upgraded = 0
    for rule in rules:
        if rule["name"] not in have:
            save_rule(conn, guild_id, rule)
            added_rules += 1
            continue
        old = [dump_rule(validate_rule(dict(o))) for o in SUPERSEDED_RULES.get(rule["name"], ())]
        for row in stored:
            if row.name == rule["name"] and row.deleted_at is None and row.definition in old:
                save_rule(conn, guild_id, rule, rule_id=row.rule_id)
                upgraded += 1
    added_milestones = 0
    for data in milestones:
        spec = validate_milestone(dict(data))
        added_milestones += conn.execute(text("""
            INSERT INTO milestones (guild_id, key, name, description, emoji, criteria, rewards, hidden, announce,
                                    enabled)
            VALUES (:g, :k, :n, :d, :e, CAST(:c AS jsonb), CAST(:r AS jsonb), :h, :a, :en)
            ON CONFLICT (guild_id, key) DO NOTHING"""), _milestone_params(guild_id, spec)).rowcount
    if added_milestones and not added_rules and not upgraded:
        bump_rules_version(conn, guild_id)
    out = {"rules": added_rules, "milestones": added_milestones}
    if upgraded:
        out["upgraded_rules"] = upgraded
    return out
