"""The guild's level role table compiled as a level_up rule (pure): stack/replace against the member's roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from synapse.eventlake.events import Event
from synapse.rules.compile import LEVEL_ROLES_RULE, LevelRoleTable, compile_rules, wanted_roles
from synapse.rules.engine import evaluate
from synapse.rules.facts import Member
from tests.unit.rules.support import G, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
LADDER = ((1, 11), (5, 55), (10, 1010))


def _up(new: int, currency: str = "xp") -> Event:
    return Event("synapse", f"level_up:{currency}:1:{new}:1", "level_up", G, 1, None, T0,
                 {"currency": currency, "old_level": new - 1, "new_level": new, "balance": 0})


def _changes(mode: str, new: int, roles: frozenset[int] | None, currency: str = "xp") -> set[tuple[int, str]]:
    rules = compile_rules([], level_roles=LevelRoleTable({"xp": LADDER}, mode))
    members = {} if roles is None else {1: Member(roles=roles)}
    ev = evaluate(rules, _up(new, currency), state(members=members))
    assert all(rc.rule_id == LEVEL_ROLES_RULE for rc in ev.role_changes)
    return {(rc.role_id, rc.action) for rc in ev.role_changes}


def test_wanted_roles_under_both_modes() -> None:
    """Stack: every role at or below the level; replace: the highest, the lower ones to remove."""
    assert wanted_roles(LADDER, 7, "stack") == (frozenset({11, 55}), frozenset())
    assert wanted_roles(LADDER, 7, "replace") == (frozenset({55}), frozenset({11}))
    assert wanted_roles(LADDER, 0, "replace") == (frozenset(), frozenset())


@pytest.mark.parametrize(("mode", "new", "roles", "expected"), [
    ("stack", 5, frozenset({11}), {(55, "add")}),                          # holds Bronze: only the new one
    ("stack", 5, None, {(11, "add"), (55, "add")}),                         # unknown member: all it earns
    ("replace", 5, frozenset({11}), {(55, "add"), (11, "remove")}),
    ("replace", 5, frozenset({55}), set()),                                 # already right: nothing
    ("replace", 10, None, {(1010, "add"), (11, "remove"), (55, "remove")}),
    ("stack", 3, frozenset(), {(11, "add")}),                               # a level between two rows
])
def test_level_up_changes(mode: str, new: int, roles: frozenset[int] | None, expected: set[tuple[int, str]]) -> None:
    """The role changes of one level_up, against what member_cache says the member holds."""
    assert _changes(mode, new, roles) == expected


def test_other_currencies_and_an_empty_table_do_nothing() -> None:
    """A level_up of a currency without rows changes no role; an empty table adds no rule at all."""
    assert _changes("stack", 5, None, currency="stars") == set()
    assert "level_up" not in compile_rules([], level_roles=LevelRoleTable({})).by_event
