"""Typed idempotency and dedupe keys: each renders the string already stored and parses back to itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from synapse.eventlake.events import Event
from synapse.ledger import keys
from synapse.processing.state import MemoryState
from synapse.rules.compile import RuleRecord, compile_rules
from synapse.rules.engine import evaluate
from synapse.rules.model import RuleSpec

SAMPLES: list[tuple[object, str]] = [
    (keys.RuleCredit(7, 123, 0), "rule:7:123:0"),
    (keys.RuleCreditBySource(7, "discord", "message_create:9:x", 1), "rule:7:k:discord:message_create:9:x:1"),
    (keys.OncePerReactor(7, "555", 42, 0), "rule:7:once:555:42:0"),
    (keys.OncePerReactor(7, None, None, 2), "rule:7:once:None:None:2"),
    (keys.MilestoneReward(3, 42, 1), "milestone:3:42:1"),
    (keys.Clawback("rule:7:123:0"), "clawback:rule:7:123:0"),
    (keys.Award("dashboard:1:req-9"), "award:dashboard:1:req-9"),
    (keys.Import("ab12", "xp", 42), "import:ab12:xp:42"),
    (keys.SeasonReset(3, "xp", 42), "season_reset:3:xp:42"),
    (keys.LevelUpEvent("xp", 42, 13, 991), "level_up:xp:42:13:991"),
    (keys.MilestoneEarnedEvent("level-5", 42), "milestone_earned:level-5:42"),
    (keys.Announcement(7, "synapse", "level_up:xp:42:13:991", 0), "announce:7:synapse:level_up:xp:42:13:991:0"),
    (keys.RoleChange("remove", 7, "synapse", "level_up:xp:42:13:991", 500),
     "role_remove:7:synapse:level_up:xp:42:13:991:500"),
    (keys.MilestoneRole("level-5", 42, 900), "milestone_role:level-5:42:900"),
]


@pytest.mark.parametrize(("key", "text"), SAMPLES, ids=[t for _, t in SAMPLES])
def test_a_key_renders_the_stored_string_and_parses_back(key: object, text: str) -> None:
    """render() gives the stored format; parse() of it gives the same key (free-text parts may hold colons)."""
    assert key.render() == text  # type: ignore[attr-defined]
    assert type(key).parse(text) == key  # type: ignore[attr-defined]


def test_a_string_of_another_kind_is_refused_with_what_is_wrong() -> None:
    """parse() of a key of another type, or with a non-number where a number belongs, names the problem."""
    with pytest.raises(keys.MalformedKey, match="not a milestone key"):
        keys.MilestoneReward.parse("award:1")
    with pytest.raises(keys.MalformedKey, match="is not a number"):
        keys.RuleCredit.parse("rule:7:abc:0")
    with pytest.raises(keys.MalformedKey, match="not a once-per-reactor key"):
        keys.OncePerReactor.parse("rule:7:k:discord:1:0")


def test_the_compiled_hot_path_renders_the_typed_rule_credit_key() -> None:
    """A credit's key, built from the prefix computed at compile time, is RuleCredit(...).render()."""
    spec = RuleSpec.model_validate({"name": "xp", "trigger": {"event": "message_create"},
                                    "effects": [{"type": "credit", "currency": "xp", "amount": 5}]})
    rules = compile_rules([RuleRecord(11, 1, spec)])
    event = Event("discord", "message_create:1", "message_create", 1, 42, 5, datetime(2025, 1, 1, tzinfo=UTC),
                  {}, None, 9876)
    [posting] = evaluate(rules, event, MemoryState(1)).postings
    assert posting.idempotency_key == keys.RuleCredit(11, 9876, 0).render()


@pytest.mark.parametrize("message_id", ["555", 555, "a:b", "", 1.5, True, [1], "MISSING", None])
def test_the_compiled_once_per_reactor_keys_are_the_typed_keys(message_id: object) -> None:
    """The once-per-reactor keys built from the compiled prefix are OncePerReactor(...).render() of each effect."""
    spec = RuleSpec.model_validate({
        "name": "stars", "trigger": {"event": "reaction_add"}, "conditions": [{"type": "once_per_reactor"}],
        "effects": [{"type": "credit", "currency": "stars", "amount": 1, "to": "message_author"},
                    {"type": "credit", "currency": "gold", "amount": 2, "to": "message_author"}]})
    rules = compile_rules([RuleRecord(7, 1, spec)])
    payload = {"message_author_id": "77"} | ({} if message_id == "MISSING" else {"message_id": message_id})
    event = Event("discord", "reaction_add:1", "reaction_add", 1, 42, 5, datetime(2025, 1, 1, tzinfo=UTC),
                  payload, None, 9876)
    message = None if message_id in ("MISSING", None) else str(message_id)
    postings = evaluate(rules, event, MemoryState(1)).postings
    assert [p.idempotency_key for p in postings] == [keys.OncePerReactor(7, message, 42, i).render() for i in (0, 1)]
    state = MemoryState(1)
    state.seed_posted([keys.OncePerReactor(7, message, 42, 1).render()])   # one of them already paid
    [result] = evaluate(rules, event, state).results
    assert result.failed == "conditions[0]: reactor already credited for this message"
