"""Comparison operators: a registry of one-line predicates (``actual``, ``expected``) -> bool.

An operator the registry does not know is a validation error when a rule is saved
(the model's ``Op`` literal is built from this registry), never a run-time surprise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, get_args

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists"]

_MISSING: Final = object()


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _lt(a: Any, b: Any) -> bool:
    return _num(a) and _num(b) and bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _num(a) and _num(b) and bool(a <= b)


def _contains(a: Any, b: Any) -> bool:
    return isinstance(a, list | tuple | str | set | frozenset) and b in a


OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": lambda a, b: a is not _MISSING and a == b,
    "!=": lambda a, b: a is _MISSING or a != b,
    "<": _lt,
    "<=": _le,
    ">": lambda a, b: _lt(b, a),
    ">=": lambda a, b: _le(b, a),
    "in": lambda a, b: a is not _MISSING and isinstance(b, list) and a in b,
    "contains": _contains,
    "exists": lambda a, b: (a is not _MISSING and a is not None) == bool(b),
}

if set(OPERATORS) != set(get_args(Op)):  # pragma: no cover - a developer error caught at import
    raise RuntimeError("OPERATORS and Op disagree")


def missing() -> object:
    """The sentinel passed as ``actual`` when the event's payload lacks the field."""
    return _MISSING
