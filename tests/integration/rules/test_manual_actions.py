"""Manual actions go through the engine as earned credit does: an ``/award`` that crosses levels emits the
``level_up`` events, level roles and announcements earning the same XP emits; granting a milestone by hand
pays its rewards; ``announce=False`` keeps an action quiet but still applies its roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM, Actor
from synapse.db import lake_store, ledger_store, rules_store
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message
from synapse.services.awards import award
from synapse.services.guild_init import init_guild
from synapse.services.milestones_admin import create_milestone, grant_milestone
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 4545
ADMIN = Actor.user(77, request_id="test")
LEVEL_ROLES = {"name": "Level roles", "module": "leveling", "trigger": {"event": "level_up"},
               "effects": [{"type": "level_roles", "currency": "xp", "roles": {"5": "500", "10": "1000"}}]}
JACKPOT = {"name": "Jackpot", "module": "leveling", "trigger": {"event": "message_create"},
           "conditions": [{"type": "payload", "field": "length", "op": "==", "value": 4242}],
           "effects": [{"type": "credit", "currency": "xp", "amount": 10000}]}


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
        rules_store.save_rule(conn, GUILD, LEVEL_ROLES)
        rules_store.save_rule(conn, GUILD, JACKPOT)
    return GUILD


def _what_it_caused(engine: sa.Engine, user_id: int) -> dict[str, Any]:
    """The member's level-ups, role rows and level-up announcements, as the engine wrote them."""
    with engine.connect() as conn:
        q = lambda sql: [tuple(r) for r in conn.execute(sa.text(sql), {"g": GUILD, "u": str(user_id)})]  # noqa: E731
        balance = ledger_store.balances(conn, GUILD, user_id).get("xp", 0)
        curve = ledger_store.get_currency(conn, GUILD, "xp").curve
        return {
            "level": curve.level_for(balance),
            "level_ups": q("""SELECT (payload ->> 'old_level')::int, (payload ->> 'new_level')::int FROM event_lake
                               WHERE guild_id = :g AND event_type = 'level_up' AND user_id = CAST(:u AS bigint)"""),
            "roles": sorted(q("""SELECT kind, payload ->> 'role_id' FROM outbox
                                  WHERE guild_id = :g AND kind LIKE 'role_%' AND payload ->> 'user_id' = :u""")),
            "announcements": sorted(q("""SELECT payload ->> 'reason' FROM outbox
                                          WHERE guild_id = :g AND kind = 'announce' AND payload ->> 'user_id' = :u""")),
            "milestones": sorted(q("""SELECT m.key FROM user_milestones um
                                         JOIN milestones m USING (guild_id, milestone_id)
                                       WHERE um.guild_id = :g AND um.user_id = CAST(:u AS bigint)""")),
            "outbox": q("SELECT count(*) FROM outbox WHERE guild_id = :g AND payload ->> 'user_id' = :u")[0][0],
        }


def test_an_award_across_levels_does_what_earning_the_same_xp_does(engine: sa.Engine, guild: int) -> None:
    """10,000 XP by /award from level 0: level_up event, level roles 5 and 10, the level-up announcement."""
    with engine.begin() as conn:
        done = award(conn, GUILD, user_id=1, currency="xp", amount=10_000, reason="event winner", actor=ADMIN,
                     request_id="i-1", at=T0)
    with engine.begin() as conn:   # member 2 earns it: one jackpot message
        process(conn, lake_store.append(conn, [message(GUILD, 2, 1, T0, length=4242)]), rules=RuleCache())
    awarded, earned = _what_it_caused(engine, 1), _what_it_caused(engine, 2)
    assert awarded["level"] >= 10 and earned["level"] == awarded["level"]
    assert awarded["level_ups"] == [(0, awarded["level"])] == earned["level_ups"]
    assert awarded["roles"] == [("role_add", "1000"), ("role_add", "500")] == earned["roles"]
    # The message itself earns "first-message" besides: the level milestones are the XP's, either way.
    assert awarded["milestones"] == [("level-10",), ("level-5",)]
    assert earned["milestones"] == [("first-message",), *awarded["milestones"]]
    assert awarded["announcements"] == [("level_up",), ("milestone",), ("milestone",)]
    assert earned["announcements"] == [*awarded["announcements"], ("milestone",)]
    assert done.level_ups == 1 and len(done.outbox_ids) == awarded["outbox"] and not done.repeated
    with engine.begin() as conn:   # the same request again: nothing new, nothing queued
        again = award(conn, GUILD, user_id=1, currency="xp", amount=10_000, reason="event winner", actor=ADMIN,
                      request_id="i-1", at=T0)
        assert ledger_store.verify(conn, GUILD) == []
    assert again.repeated and _what_it_caused(engine, 1) == awarded


def test_an_award_asked_not_to_announce_still_applies_level_roles(engine: sa.Engine, guild: int) -> None:
    """``announce=False``: the level_up event and the role rows, no announcement row."""
    with engine.begin() as conn:
        award(conn, GUILD, user_id=3, currency="xp", amount=10_000, reason="migration", actor=ADMIN,
              request_id="i-2", at=T0, announce=False)
    caused = _what_it_caused(engine, 3)
    assert caused["level_ups"] == [(0, caused["level"])]
    assert caused["roles"] == [("role_add", "1000"), ("role_add", "500")]
    assert caused["announcements"] == [] and caused["milestones"]


def test_granting_a_milestone_by_hand_pays_its_rewards_once(engine: sa.Engine, guild: int) -> None:
    """A milestone paying 50 gold and a role, granted by hand: gold paid, role queued, milestone_earned written;
    a second grant changes nothing."""
    with engine.begin() as conn:
        create_milestone(conn, GUILD, {"key": "helper", "name": "Helper", "criteria": {
            "type": "balance", "currency": "gold", "at_least": 10**6},
            "rewards": [{"type": "currency", "currency": "gold", "amount": 50}, {"type": "role", "role_id": "900"}]},
            actor=ADMIN)
        first = grant_milestone(conn, GUILD, 5, "helper", actor=ADMIN, at=T0)
    with engine.begin() as conn:
        second = grant_milestone(conn, GUILD, 5, "helper", actor=ADMIN, at=T0)
        assert ledger_store.balances(conn, GUILD, 5).get("gold") == 50
        assert ledger_store.verify(conn, GUILD) == []
        earned = conn.execute(sa.text("""SELECT count(*) FROM event_lake WHERE guild_id = :g AND user_id = 5
                                          AND event_type = 'milestone_earned'"""), {"g": GUILD}).scalar_one()
        source = conn.execute(sa.text("SELECT source, granted_by FROM user_milestones WHERE guild_id = :g "
                                      "AND user_id = 5"), {"g": GUILD}).one()
    assert not first.already and second.already and earned == 1
    assert tuple(source) == ("admin", 77)
    assert ("role_add", "900") in _what_it_caused(engine, 5)["roles"]
