"""``evaluate(rules, event, facts) -> Evaluation``: pure, deterministic, no I/O.

Every rule the event triggers is reported, matched or not (with the first failing
condition's JSON path and why). Effects of matched rules become decisions; nothing is
performed here. The same event and facts always give the same decisions.
"""

from __future__ import annotations

from synapse.eventlake.events import Event
from synapse.rules.compile import CompiledRule, RuleRecord, RuleSet, Scope, compile_rules
from synapse.rules.decisions import Evaluation, RuleResult
from synapse.rules.facts import Facts


def evaluate(rules: RuleSet, event: Event, facts: Facts, *, depth: int = 0, explain: bool = True) -> Evaluation:
    """The decisions of every rule ``event`` triggers. Past ``rules.max_depth`` a derived event triggers nothing.

    ``explain=False`` leaves ``results`` empty (the hot loop of backtests does not read them).
    """
    if not explain:
        return decide(rules, event, facts, depth) or Evaluation()
    ev = Evaluation()
    candidates = rules.by_event.get(event.event_type)
    if not candidates or depth > rules.max_depth:
        return ev
    scope = Scope(event, facts)
    results = ev.results
    source, uid = event.source_system, event.user_id
    for rule in candidates:
        if rule.source is not None and rule.source != source:
            continue
        failed = _first_failure(rule, scope)
        results.append(RuleResult(rule.rule_id, rule.name, failed is None, failed))
        if failed is not None:
            continue
        for effect in rule.effects:
            effect(scope, ev)
        if rule.has_cooldown and uid is not None:
            ev.fires.append((rule.rule_id, uid))
    return ev


def decide(rules: RuleSet, event: Event, facts: Facts, depth: int = 0) -> Evaluation | None:
    """``evaluate`` without explanations, for the hot loops (runner, backtests): ``None`` when no rule matched.

    Same decisions as ``evaluate``; conditions run inline (no per-rule call, no path strings), and an
    event no rule matches (a capped reaction, a message within its cooldown) builds no ``Evaluation``.
    """
    candidates = rules.by_event.get(event.event_type)
    if not candidates or depth > rules.max_depth:
        return None
    ev = None
    scope = Scope(event, facts)
    caps = scope.caps
    source = event.source_system
    for rule in candidates:
        if rule.source is not None and rule.source != source:
            continue
        if caps:
            caps.clear()
        held = True
        for check in rule.checks:
            if check(scope) is not None:
                held = False
                break
        if not held:
            continue
        if ev is None:
            ev = Evaluation()
        for effect in rule.effects:
            effect(scope, ev)
        if rule.has_cooldown and event.user_id is not None:
            ev.fires.append((rule.rule_id, event.user_id))
    return ev


def _first_failure(rule: CompiledRule, scope: Scope) -> str | None:
    scope.caps.clear()
    for path, cond in rule.conds:
        why = cond(scope)
        if why is not None:
            return f"{path}: {why}"
    return None


__all__ = ["Evaluation", "RuleRecord", "RuleSet", "compile_rules", "decide", "evaluate"]
