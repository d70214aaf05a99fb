"""Hostile input: the rule validator turns any JSON into a RuleSpec or a ValidationFailed with paths.

Random JSON (of any shape) and mutations of the default pack's rules (a value replaced anywhere in
the tree by any JSON value, a key dropped, a key added) are validated: the only exception allowed
out is :class:`ValidationFailed`, and it names at least one problem, each with a JSON path that
starts at the document (``$``, ``name``, ``conditions[2].op``, ``[3].effects[0]`` …).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse.errors import ValidationFailed
from synapse.rules.defaults import default_rules
from synapse.rules.model import ValidationContext, dump_rule, validate_rule, validate_rules
from tests.hardening import checks

pytestmark = [pytest.mark.hostile]

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

KEYWORDS = ["type", "name", "trigger", "event", "conditions", "effects", "currency", "amount", "random",
            "op", "field", "value", "seconds", "window", "regions", "multipliers", "times", "when",
            "template", "title", "to", "condition", "tz", "start", "end", "per_minute", "credit", "cap",
            "zone", "payload", "cooldown", "announce", "all", "any", "not", "{user}", "{level}", "{0}",
            "{user.__class__}", "{", "}", "message_create", "xp", "stars", "", "\x00", "€", "💥"]
scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(KEYWORDS))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12) | st.sampled_from(KEYWORDS), children, max_size=6),
    max_leaves=40,
)
PACK = [dump_rule(r) for r in default_rules()]
CONTEXT = ValidationContext(currencies=frozenset({"xp", "stars", "gold"}), regions=frozenset({"study-halls"}),
                            tags=frozenset({"help"}))
# Keys come from the input (any text, even empty), so a path is checked for its shape at the start.
PATH = re.compile(r'^(\$|\[\d+\]|\["|[^.\[\]])', re.S)  # ["…"]: a key that is not a plain name


def _check(data: Any, *, many: bool = False) -> None:
    for context in (None, CONTEXT):
        try:
            (validate_rules if many else validate_rule)(data, context=context)
        except ValidationFailed as exc:
            assert exc.errors, f"a rejection names no problem: {exc}"
            for e in exc.errors:
                shaped = PATH.match(e.path) or e.path.startswith(".")  # "." + an empty key from the input
                assert isinstance(e.path, str) and shaped, f"not a JSON path: {e.path!r}"
                assert isinstance(e.message, str) and e.message
            assert all(isinstance(d, dict) and set(d) == {"path", "message"} for d in exc.details())


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


@SETTINGS
@given(json_values)
def test_random_json_is_a_rule_or_a_validation_failure_with_paths(data: Any) -> None:
    """Any JSON document: one rule or a list of rules, validated or rejected with paths; no other exception."""
    _check(data)
    _check(data, many=True)


@SETTINGS
@given(st.sampled_from(PACK), st.data())
def test_mutated_default_rules_are_validated_or_rejected_with_paths(rule: dict[str, Any], data: st.DataObject) -> None:
    """A default rule with one value anywhere replaced, removed or joined by a stray key."""
    doc = copy.deepcopy(rule)
    path = data.draw(st.sampled_from(checks.json_paths(doc)))
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace" or not path:
        doc = _replace(doc, path, data.draw(json_values))
    elif action == "drop":
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
    else:
        target = doc
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            target[data.draw(st.sampled_from(KEYWORDS))] = data.draw(json_values)
    _check(doc)
    _check({"rules": [doc, rule, doc]}, many=True)


def test_a_deep_nesting_bomb_is_rejected_not_a_recursion_error() -> None:
    """Conditions nested a thousand levels deep fail validation instead of overflowing the stack."""
    cond: dict[str, Any] = {"type": "payload", "field": "length", "op": ">=", "value": 1}
    for _ in range(1000):
        cond = {"type": "not", "condition": cond}
    rule = {"name": "deep", "trigger": {"event": "message_create"}, "conditions": [cond],
            "effects": [{"type": "credit", "currency": "xp", "amount": 1}]}
    try:
        validate_rule(rule)
    except ValidationFailed as exc:
        assert exc.errors
    # Accepting it is fine too, as long as nothing but ValidationFailed escapes.
