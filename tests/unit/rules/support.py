"""Helpers for rules tests: currencies, a rule set from JSON, a fresh in-memory state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synapse.ledger.model import Currency
from synapse.milestones.criteria import MilestoneRecord, compile_milestones
from synapse.milestones.defaults import default_milestones
from synapse.processing.loop import Context
from synapse.processing.state import MemoryState
from synapse.rules.compile import RuleRecord, RuleSet, compile_rules
from synapse.rules.defaults import default_rules
from synapse.rules.model import validate_rule

G = 1


def currencies(guild_id: int = G) -> dict[str, Currency]:
    return {"xp": Currency(guild_id, "xp", "XP", levelled=True), "stars": Currency(guild_id, "stars", "Stars"),
            "gold": Currency(guild_id, "gold", "Gold")}


def ruleset(*rules: dict[str, Any], max_depth: int = 3) -> RuleSet:
    return compile_rules([RuleRecord(i + 1, 1, validate_rule(r)) for i, r in enumerate(rules)], max_depth=max_depth)


def default_context(guild_id: int = G, *, rules: Sequence[Any] | None = None) -> Context:
    cur = currencies(guild_id)
    specs = list(rules) if rules is not None else default_rules()
    records = [RuleRecord(i + 1, 1, s) for i, s in enumerate(specs)]
    ms = compile_milestones([MilestoneRecord(i + 1, s) for i, s in enumerate(default_milestones())],
                            curves={k: c.curve for k, c in cur.items()})
    return Context(compile_rules(records), cur, ms)


def state(guild_id: int = G, **kw: Any) -> MemoryState:
    return MemoryState(guild_id, currencies=currencies(guild_id), **kw)
