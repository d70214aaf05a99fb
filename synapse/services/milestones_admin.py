"""Admin milestone mutations by hand: define a milestone, grant one to a member. Audited.

A minimal, framework-free service (``Connection`` in, plain data out) used by the
``/create-milestone`` and ``/grant-milestone`` slash commands. Definitions are
validated by ``synapse.milestones.model`` (the Rules engineer's model), so a
milestone created here is one the engine can evaluate, and creating one bumps
``guilds.rules_version`` (``rules_store.bump_rules_version``) so every worker's
rule cache picks it up. Create-only on purpose (``rules_store.save_milestone``
replaces by key; a slash command must not overwrite a milestone by accident). A grant is idempotent:
``user_milestones`` has one row per member and milestone, and granting twice
reports ``already=True`` and writes nothing (no second audit row either).

**Retroactive grant.** A milestone created today would otherwise only be earned by members
who act again. ``retro_preview`` checks the milestone's criteria against history for every
member who has not earned it (with the live engine's own facts: the loader's ``Snapshot``) and returns who
qualifies, plus a ``preview_token`` (hash of the milestone version and the member list).
``retro_apply`` takes that token, recomputes, refuses (409) if the set changed since the admin
reviewed it, and grants the batch in one transaction with one audit row listing the members.
Retroactive grants are recorded with ``source='retro'`` and go through the engine as earning the
milestone does (``services.rules_runner.grant_by_hand``): rewards paid, role rewards given,
``milestone_earned`` events and what they trigger; ``announce=False`` keeps them quiet.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin import milestones
from synapse.admin.audit import Actor, record
from synapse.db import rules_store
from synapse.db.ledger_store import load_currencies
from synapse.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from synapse.milestones.criteria import compile_milestones
from synapse.milestones.model import MilestoneSpec, validate_milestone
from synapse.services.rules_runner import grant_by_hand


@dataclass(frozen=True)
class MilestoneRef:
    milestone_id: int
    key: str
    name: str
    emoji: str


@dataclass(frozen=True)
class Grant:
    milestone: MilestoneRef
    user_id: int
    already: bool
    earned_at: datetime


def create_milestone(conn: Connection, guild_id: int, data: dict[str, Any], *, actor: Actor) -> MilestoneRef:
    """Validate and insert a milestone definition; :class:`Conflict` if the key is taken."""
    spec: MilestoneSpec = validate_milestone(data, currencies=frozenset(load_currencies(conn, guild_id)))
    values = spec.model_dump(mode="json")
    row = conn.execute(text("""
        INSERT INTO milestones (guild_id, key, name, description, emoji, criteria, rewards, hidden, announce,
                                enabled)
        VALUES (:g, :key, :name, :description, :emoji, CAST(:criteria AS jsonb), CAST(:rewards AS jsonb),
                :hidden, :announce, :enabled)
        ON CONFLICT (guild_id, key) DO NOTHING
        RETURNING milestone_id"""), {
        **values, "g": guild_id, "criteria": json.dumps(values["criteria"]),
        "rewards": json.dumps(values["rewards"])}).first()
    if row is None:
        raise Conflict(f"a milestone with key {spec.key!r} already exists")
    rules_store.bump_rules_version(conn, guild_id)  # workers' rule caches (milestones included) refresh
    record(conn, guild_id=guild_id, actor=actor, action="milestone.create", entity_type="milestone",
           entity_id=spec.key, after={**values, "milestone_id": row.milestone_id})
    return MilestoneRef(int(row.milestone_id), spec.key, spec.name, spec.emoji)


def find_milestone(conn: Connection, guild_id: int, key: str) -> MilestoneRef:
    row = conn.execute(text("SELECT milestone_id, key, name, emoji FROM milestones WHERE guild_id = :g AND key = :k"),
                       {"g": guild_id, "k": key}).first()
    if row is None:
        raise NotFound(f"no milestone {key!r} in this server")
    return MilestoneRef(int(row.milestone_id), row.key, row.name, row.emoji)


def search_milestones(conn: Connection, guild_id: int, prefix: str, *, limit: int = 25) -> list[MilestoneRef]:
    """Milestones whose key or name contains ``prefix`` (autocomplete)."""
    pattern = "%" + prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(text("""
        SELECT milestone_id, key, name, emoji FROM milestones
         WHERE guild_id = :g AND (key ILIKE :p OR name ILIKE :p)
         ORDER BY key LIMIT :n"""), {"g": guild_id, "p": pattern, "n": limit})
    return [MilestoneRef(int(r.milestone_id), r.key, r.name, r.emoji) for r in rows]


def grant_milestone(conn: Connection, guild_id: int, user_id: int, key: str, *, actor: Actor,
                    at: datetime, announce: bool = True) -> Grant:
    """Give a member a milestone by hand; a second grant changes nothing and says so.

    Through the engine, as earning it does (``rules_runner.grant_by_hand``): currency rewards paid
    (and the level-ups they cause), role rewards, a ``milestone_earned`` event and what the rules
    do with it; ``announce=False`` writes no announcement rows.
    """
    milestone = find_milestone(conn, guild_id, key)
    [spec] = [r for r in rules_store.load_milestones(conn, guild_id) if r.milestone_id == milestone.milestone_id]
    done = grant_by_hand(conn, guild_id, [user_id], spec, source="admin", key=f"milestone_grant:{key}:{user_id}",
                         at=at, granted_by=actor.id, announce=announce)
    if not done.tally.milestones:
        earned_at = conn.execute(text("""
            SELECT earned_at FROM user_milestones WHERE guild_id = :g AND user_id = :u AND milestone_id = :m"""),
            {"g": guild_id, "u": user_id, "m": milestone.milestone_id}).scalar_one()
        return Grant(milestone, user_id, True, earned_at)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.grant", entity_type="member",
           entity_id=user_id, after={"milestone": milestone.key, "milestone_id": milestone.milestone_id})
    return Grant(milestone, user_id, False, at)


# -- retroactive grants: who already qualifies (preview), then exactly that list (apply) -----------------

MAX_RETRO_CANDIDATES = 200_000


def _qualifying(conn: Connection, guild_id: int, key: str, at: datetime) -> tuple[dict[str, Any], list[int]]:
    from synapse.processing.loop import Context
    from synapse.rules.compile import compile_rules
    from synapse.services.rules_runner import facts_of

    m = milestones.get(conn, guild_id, key)
    records = [r for r in rules_store.load_milestones(conn, guild_id) if r.spec.key == key]
    currencies = load_currencies(conn, guild_id)
    compiled = compile_milestones(records, curves={k: c.curve for k, c in currencies.items()})
    if not compiled:
        raise ValidationFailed("milestone is disabled", [ErrorDetail("enabled", "enable it before granting it")])
    check = compiled[0].check
    candidates = [int(r.user_id) for r in conn.execute(text("""
        SELECT u.user_id FROM (
            SELECT user_id FROM member_cache WHERE guild_id = :g AND NOT is_bot
            UNION SELECT DISTINCT user_id FROM wallets WHERE guild_id = :g) u
         WHERE NOT EXISTS (SELECT 1 FROM user_milestones um WHERE um.guild_id = :g AND um.user_id = u.user_id
                              AND um.milestone_id = :m)
         ORDER BY u.user_id LIMIT :n"""), {"g": guild_id, "m": m["milestone_id"], "n": MAX_RETRO_CANDIDATES})]
    # The facts these candidates' criteria ask about, read in one round trip (the engine's loader).
    facts = facts_of(conn, Context(compile_rules(()), currencies, compiled), guild_id, candidates, at)
    return m, [uid for uid in candidates if check(facts, uid, at)]


def _token(m: dict[str, Any], users: list[int]) -> str:
    digest = hashlib.sha256(json.dumps([m["milestone_id"], m["criteria"], users]).encode()).hexdigest()
    return digest[:32]


def _names(conn: Connection, guild_id: int, users: list[int]) -> dict[int, str | None]:
    return {int(r.user_id): r.display_name for r in conn.execute(text(
        "SELECT user_id, display_name FROM member_cache WHERE guild_id = :g AND user_id = ANY(:u)"),
        {"g": guild_id, "u": users})}


def retro_preview(conn: Connection, guild_id: int, key: str, *, at: datetime, sample: int = 200) -> dict[str, Any]:
    m, users = _qualifying(conn, guild_id, key, at)
    names = _names(conn, guild_id, users[:sample])
    return {"milestone": key, "qualifying": len(users), "preview_token": _token(m, users),
            "members": [{"user_id": str(u), "display_name": names.get(u)} for u in users[:sample]]}


def retro_apply(conn: Connection, guild_id: int, key: str, *, preview_token: str, actor: Actor,
                at: datetime, announce: bool = True) -> dict[str, Any]:
    """Grant the milestone to everyone the preview listed, through the engine (rewards paid, roles given,
    ``milestone_earned`` events and what they trigger; ``announce=False``: no announcements)."""
    m, users = _qualifying(conn, guild_id, key, at)
    if _token(m, users) != preview_token:
        raise Conflict("who qualifies changed since the preview", hint="preview again and review the new list")
    [milestone] = [r for r in rules_store.load_milestones(conn, guild_id) if r.spec.key == key]
    done = grant_by_hand(conn, guild_id, users, milestone, source="retro", key=f"retro:{key}:{preview_token}",
                         at=at, granted_by=actor.id, announce=announce)
    granted = len(done.tally.milestones)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.retro_grant", entity_type="milestone",
           entity_id=key, after={"granted": granted, "user_ids": [str(u) for u in users]})
    return {"milestone": key, "granted": granted}
