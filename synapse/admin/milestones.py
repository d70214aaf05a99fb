"""Milestone admin beyond create/grant (``synapse.services.milestones_admin``): list, update, and
the retroactive grant. Audited.

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
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import rules_store
from synapse.db.ledger_store import load_currencies
from synapse.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from synapse.milestones.criteria import compile_milestones
from synapse.milestones.model import validate_milestone

MAX_RETRO_CANDIDATES = 200_000


def _row(r: Any, earned: int = 0) -> dict[str, Any]:
    return {"milestone_id": int(r.milestone_id), "key": r.key, "name": r.name, "description": r.description,
            "emoji": r.emoji, "criteria": r.criteria, "rewards": r.rewards, "hidden": r.hidden,
            "announce": r.announce, "enabled": r.enabled, "earned_count": earned}


def list_all(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT m.*, (SELECT COUNT(*) FROM user_milestones um
                      WHERE um.guild_id = m.guild_id AND um.milestone_id = m.milestone_id) AS earned
          FROM milestones m WHERE m.guild_id = :g ORDER BY m.milestone_id"""), {"g": guild_id})
    return [_row(r, int(r.earned)) for r in rows]


def get(conn: Connection, guild_id: int, key: str) -> dict[str, Any]:
    r = conn.execute(text("SELECT * FROM milestones WHERE guild_id = :g AND key = :k"),
                     {"g": guild_id, "k": key}).first()
    if r is None:
        raise NotFound(f"no milestone {key!r} in this server")
    return _row(r)


def _spec_dict(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("key", "name", "description", "emoji", "criteria", "rewards", "hidden", "announce",
                              "enabled")}


def update(conn: Connection, guild_id: int, key: str, changes: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    before = get(conn, guild_id, key)
    if "key" in changes and changes["key"] != key:
        raise ValidationFailed("invalid change", [ErrorDetail("key", "a milestone's key cannot change")])
    spec = validate_milestone({**_spec_dict(before), **changes}, currencies=frozenset(load_currencies(conn, guild_id)))
    rules_store.save_milestone(conn, guild_id, spec)
    after = get(conn, guild_id, key)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.update", entity_type="milestone",
           entity_id=key, before=_spec_dict(before), after=_spec_dict(after))
    return after


def delete(conn: Connection, guild_id: int, key: str, *, actor: Actor) -> None:
    """Delete a milestone definition and its earn records (members lose the badge; the ledger is untouched)."""
    before = get(conn, guild_id, key)
    earned = conn.execute(text("DELETE FROM user_milestones WHERE guild_id = :g AND milestone_id = :m"),
                          {"g": guild_id, "m": before["milestone_id"]}).rowcount
    conn.execute(text("DELETE FROM milestones WHERE guild_id = :g AND milestone_id = :m"),
                 {"g": guild_id, "m": before["milestone_id"]})
    rules_store.bump_rules_version(conn, guild_id)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.delete", entity_type="milestone",
           entity_id=key, before={**_spec_dict(before), "earned_count": earned})


def _qualifying(conn: Connection, guild_id: int, key: str, at: datetime) -> tuple[dict[str, Any], list[int]]:
    from synapse.processing.loop import Context
    from synapse.rules.compile import compile_rules
    from synapse.services.rules_runner import facts_of

    m = get(conn, guild_id, key)
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
    from synapse.services.rules_runner import grant_by_hand

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
