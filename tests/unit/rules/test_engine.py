"""Pure evaluation: conditions, effects, stacking, determinism, what matched and what did not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synapse.errors import ValidationFailed
from synapse.eventlake.events import Event
from synapse.rules.engine import evaluate
from synapse.rules.facts import Channel, Member
from synapse.rules.model import rules_schema, validate_rule, validate_rules
from synapse.rules.simulate import message, reaction, voice_tick
from tests.unit.rules.support import G, ruleset, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)   # a Wednesday
XP = {"type": "credit", "currency": "xp", "amount": 10}


def _rule(conditions: list[dict[str, object]] | None = None, effects: list[dict[str, object]] | None = None,
          event: str = "message_create", **extra: object) -> dict[str, object]:
    return {"name": "r", "trigger": {"event": event}, "conditions": conditions or [], "effects": effects or [XP],
            **extra}


def _amounts(rules: dict[str, object], event: Event, **kw: object) -> list[int]:
    return [p.amount for p in evaluate(ruleset(rules), event, state(**kw)).postings]  # type: ignore[arg-type]


def test_the_design_example_rule_validates() -> None:
    """The example rule of DESIGN.md §4 is valid JSON for the model."""
    validate_rule({"name": "Message XP", "enabled": True, "module": "economy", "priority": 100,
                   "trigger": {"event": "message_create"},
                   "conditions": [{"type": "zone", "regions": ["study-halls"], "exclude_channels": ["999"]},
                                  {"type": "payload", "field": "length", "op": ">=", "value": 20},
                                  {"type": "cooldown", "seconds": 60},
                                  {"type": "cap", "currency": "xp", "amount": 500, "window": "day"},
                                  {"type": "roles", "none_of": ["123"]}],
                   "effects": [{"type": "credit", "currency": "xp", "amount": {"random": [15, 25]},
                                "multipliers": [{"when": {"field": "has_code_block", "op": "==", "value": True},
                                                 "times": 1.5}, {"region": "study-halls", "times": 2}]},
                               {"type": "check_milestones"}]})


def test_validation_reports_every_error_with_its_path() -> None:
    """Bad operator, unknown field, bad window, unknown placeholder: all reported at once."""
    with pytest.raises(ValidationFailed) as info:
        validate_rules([_rule([{"type": "payload", "field": "length", "op": "~=", "value": 1},
                               {"type": "all", "conditions": [{"type": "cap", "currency": "xp", "amount": 5,
                                                               "window": "year"}]}]),
                        _rule([{"type": "payload", "field": "colour", "op": "==", "value": 1}],
                              [{"type": "announce", "template": "hi {nobody}"}])])
    paths = {e.path for e in info.value.errors}
    assert {"[0].conditions[0].op", "[0].conditions[1].conditions[0].window", "[1].conditions[0].field",
            "[1].effects[0].template"} <= paths


def test_unknown_trigger_event_is_refused_but_other_sources_may_bring_new_types() -> None:
    """A typo in a Discord event type fails; a GitHub event type is allowed."""
    with pytest.raises(ValidationFailed):
        validate_rule(_rule(event="mesage_create"))
    validate_rule({**_rule(event="push"), "trigger": {"event": "push", "source": "github"}})


def test_schema_is_exported() -> None:
    """The JSON Schema names every condition and effect type."""
    text = str(rules_schema())
    for name in ("cooldown", "cap", "repeat_guard", "level_roles", "clawback", "stacking"):
        assert name in text


def test_same_event_same_decisions() -> None:
    """Random amounts are seeded by the event: evaluating twice gives the same result, other events differ."""
    rules = ruleset(_rule(effects=[{"type": "credit", "currency": "xp", "amount": {"random": [15, 25]}}]))
    first = evaluate(rules, message(G, 1, 1, T0), state()).postings
    again = evaluate(rules, message(G, 1, 1, T0), state()).postings
    assert first == again
    draws = {evaluate(rules, message(G, 1, i, T0), state()).postings[0].amount for i in range(200)}
    assert draws == set(range(15, 26))


def test_unmatched_rules_say_which_condition_failed() -> None:
    """The evaluation lists the failing condition's path and reason."""
    ev = evaluate(ruleset(_rule([{"type": "not_bot"}, {"type": "payload", "field": "length", "op": ">=",
                                                       "value": 50}])), message(G, 1, 1, T0, length=10), state())
    assert ev.postings == [] and ev.matched == []
    assert ev.unmatched[0].failed is not None and ev.unmatched[0].failed.startswith("conditions[1]: payload length")


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("==", 40, True), ("!=", 40, False), ("<", 41, True), ("<=", 39, False), (">", 39, True), (">=", 41, False),
    ("in", [40, 41], True), ("exists", True, True)])
def test_payload_operators(op: str, value: object, expected: bool) -> None:
    """Each operator compares the payload field with the value."""
    rules = _rule([{"type": "payload", "field": "length", "op": op, "value": value}])
    assert bool(_amounts(rules, message(G, 1, 1, T0, length=40))) is expected


def test_zone_regions_channels_and_excludes() -> None:
    """In a listed region passes; an excluded channel inside the region fails; elsewhere fails."""
    channels = {501: Channel(frozenset({"study"})), 502: Channel(frozenset({"study"})), 503: Channel()}
    rules = _rule([{"type": "zone", "regions": ["study"], "exclude_channels": ["502"]}])
    got = {ch: bool(_amounts(rules, message(G, 1, 1, T0, channel_id=ch), channels=channels)) for ch in channels}
    assert got == {501: True, 502: False, 503: False}


def test_tags_roles_age_and_composition() -> None:
    """Tags, role filters, membership age and all/any/not composition."""
    channels = {501: Channel(tags=frozenset({"help"}))}
    members = {1: Member(joined_at=T0 - timedelta(days=3))}
    assert _amounts(_rule([{"type": "tags", "any_of": ["help"]}]), message(G, 1, 1, T0), channels=channels)
    assert not _amounts(_rule([{"type": "tags", "none_of": ["help"]}]), message(G, 1, 1, T0), channels=channels)
    assert _amounts(_rule([{"type": "roles", "any_of": ["7"]}]), message(G, 1, 1, T0, roles=(7,)))
    assert not _amounts(_rule([{"type": "roles", "none_of": ["7"]}]), message(G, 1, 1, T0, roles=(7,)))
    assert _amounts(_rule([{"type": "age", "of": "membership", "min_days": 2}]), message(G, 1, 1, T0),
                    members=members)
    assert not _amounts(_rule([{"type": "age", "of": "membership", "min_days": 5}]), message(G, 1, 1, T0),
                        members=members)
    composed = _rule([{"type": "any", "conditions": [
        {"type": "payload", "field": "length", "op": ">", "value": 100},
        {"type": "not", "condition": {"type": "roles", "any_of": ["7"]}}]}])
    assert _amounts(composed, message(G, 1, 1, T0, length=10))
    assert not _amounts(composed, message(G, 1, 1, T0, length=10, roles=(7,)))


def test_a_role_history_gives_each_event_the_roles_of_its_time() -> None:
    """Roles in force at the event's time (none before the first row); no history: the cache's; the actor's first."""
    veteran = _rule([{"type": "roles", "any_of": ["7"]}])
    members = {1: Member(roles=frozenset({7})), 2: Member(roles=frozenset({7})), 3: Member()}
    history = {1: [(T0, frozenset({7})), (T0 + timedelta(hours=2), frozenset())], 3: [(None, frozenset({7}))]}
    held = {(uid, hours): bool(_amounts(veteran, message(G, uid, 1, T0 + timedelta(hours=hours)), members=members,
                                        role_history=history))
            for uid in (1, 2, 3) for hours in (-1, 1, 3)}
    assert held == {(1, -1): False, (1, 1): True, (1, 3): False, (2, -1): True, (2, 1): True, (2, 3): True,
                    (3, -1): True, (3, 1): True, (3, 3): True}
    assert _amounts(veteran, message(G, 1, 1, T0 + timedelta(hours=3), roles=(7,)), members=members,
                    role_history=history)


def test_time_window_with_a_time_zone() -> None:
    """12:00 UTC is 21:00 in Tokyo: inside an evening window there, outside a morning one."""
    evening = _rule([{"type": "time_window", "tz": "Asia/Tokyo", "start": "20:00", "end": "23:00"}])
    morning = _rule([{"type": "time_window", "tz": "Asia/Tokyo", "start": "08:00", "end": "12:00"}])
    weekend = _rule([{"type": "time_window", "days": ["sat", "sun"]}])
    assert _amounts(evening, message(G, 1, 1, T0))
    assert not _amounts(morning, message(G, 1, 1, T0))
    assert not _amounts(weekend, message(G, 1, 1, T0))


@pytest.mark.parametrize(("mode", "expected"), [("multiply", 30), ("add", 25), ("max", 20)])
def test_multiplier_stacking_modes(mode: str, expected: int) -> None:
    """×1.5 and ×2 on 10: multiply → 30, add → 25, max → 20."""
    rules = _rule(effects=[{"type": "credit", "currency": "xp", "amount": 10, "multipliers": [
        {"when": {"field": "length", "op": ">=", "value": 10}, "times": 1.5}, {"role": "7", "times": 2},
        {"region": "nowhere", "times": 9}]}], stacking=mode)
    assert _amounts(rules, message(G, 1, 1, T0, length=40, roles=(7,))) == [expected]


def test_channel_multiplier_applies_in_that_channel_only() -> None:
    """×2 in channel 501: 20 there, 10 in 502; a second selector next to channel is refused."""
    rules = _rule(effects=[{"type": "credit", "currency": "xp", "amount": 10,
                            "multipliers": [{"channel": "501", "times": 2}]}])
    assert _amounts(rules, message(G, 1, 1, T0, channel_id=501)) == [20]
    assert _amounts(rules, message(G, 1, 1, T0, channel_id=502)) == [10]
    with pytest.raises(ValidationFailed, match="at most one selector, got role, channel"):
        validate_rule(_rule(effects=[{"type": "credit", "currency": "xp", "amount": 10,
                                      "multipliers": [{"channel": "501", "role": "7", "times": 2}]}]))


def test_voice_per_minute_and_company_guards() -> None:
    """5 XP per minute; nothing alone or deafened (the default pack's voice rule)."""
    rules = _rule([{"type": "payload", "field": "members_in_channel", "op": ">=", "value": 2},
                   {"type": "payload", "field": "self_deaf", "op": "!=", "value": True}],
                  [{"type": "credit", "currency": "xp", "amount": {"per_minute": 5}}], event="voice_tick")
    assert _amounts(rules, voice_tick(G, 1, T0)) == [5]
    assert _amounts(rules, voice_tick(G, 1, T0, members_in_channel=1)) == []
    assert _amounts(rules, voice_tick(G, 1, T0, self_deaf=True)) == []


def test_reaction_guards_and_recipient() -> None:
    """Stars go to the message author, never for a self-reaction."""
    rules = _rule([{"type": "not_self_reaction"}],
                  [{"type": "credit", "currency": "stars", "amount": 1, "to": "message_author"}], event="reaction_add")
    ev = evaluate(ruleset(rules), reaction(G, 2, 9, 1, T0), state())
    assert [(p.user_id, p.amount) for p in ev.postings] == [(1, 1)]
    assert evaluate(ruleset(rules), reaction(G, 1, 9, 1, T0), state()).postings == []


def test_repeat_guard_refuses_the_same_fingerprint() -> None:
    """A member repeating a message within 10 minutes earns nothing for the repeat."""
    rules = ruleset(_rule([{"type": "repeat_guard", "within_seconds": 600}]))
    st = state()
    first = message(G, 1, 1, T0, fingerprint="same")
    st.observe(first)
    assert evaluate(rules, first, st).postings
    second = message(G, 1, 2, T0 + timedelta(minutes=2), fingerprint="same")
    st.observe(second)
    assert evaluate(rules, second, st).postings == []


def test_debit_never_takes_a_wallet_below_zero() -> None:
    """A debit of 50 with 20 in the wallet debits 20 (partial) or nothing (partial false)."""
    st = state(balances={(1, "gold"): 20})
    partial = _rule(effects=[{"type": "debit", "currency": "gold", "amount": 50}])
    strict = _rule(effects=[{"type": "debit", "currency": "gold", "amount": 50, "partial": False}])
    assert [p.amount for p in evaluate(ruleset(partial), message(G, 1, 1, T0), st).postings] == [-20]
    assert evaluate(ruleset(strict), message(G, 1, 1, T0), st).postings == []


def test_level_roles_stack_or_replace() -> None:
    """Reaching level 10 from 4: stack adds 5 and 10; replace adds 10 and removes 5."""
    up = Event("synapse", "level_up:xp:1:10:1", "level_up", G, 1, 501, T0,
               {"currency": "xp", "old_level": 4, "new_level": 10, "balance": 5000})
    roles = {"5": "55", "10": "1010", "20": "2020"}
    for mode, expected in (("stack", {(55, "add"), (1010, "add")}), ("replace", {(1010, "add"), (55, "remove")})):
        rules = ruleset(_rule(effects=[{"type": "level_roles", "roles": roles, "mode": mode}], event="level_up"))
        assert {(r.role_id, r.action) for r in evaluate(rules, up, state()).role_changes} == expected


def test_disabled_rules_and_depth_limit() -> None:
    """A disabled rule never fires; past max_depth a derived event triggers nothing."""
    assert evaluate(ruleset(_rule(enabled=False)), message(G, 1, 1, T0), state()).results == []
    up = Event("synapse", "level_up:xp:1:1:1", "level_up", G, 1, 501, T0, {"currency": "xp", "new_level": 1})
    rules = ruleset(_rule(effects=[XP], event="level_up"), max_depth=2)
    assert evaluate(rules, up, state(), depth=2).postings
    assert evaluate(rules, up, state(), depth=3).postings == []
