"""Pure pieces of the API: cursors, JSON diffs, import parsing, JWT round trip (no database)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse.api import pagination
from synapse.api.admin_rules import json_diff
from synapse.api.deps import decode_token, issue_token
from synapse.errors import Unauthorized, ValidationFailed
from synapse.services import imports
from tests.api.conftest import make_settings


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_cursor_string_is_a_cursor_or_a_validation_error(raw: str) -> None:
    """Garbage cursors never raise anything but ValidationFailed (→ 422)."""
    with contextlib.suppress(ValidationFailed):
        pagination.decode(raw, "lb", fields={"b": int, "u": int, "r": int})


@given(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**63 - 1), st.integers(0, 10**9))
def test_cursor_round_trip(b: int, u: int, r: int) -> None:
    """What encode writes, decode reads back unchanged; another endpoint's cursor is refused."""
    c = pagination.encode("lb", b=b, u=u, r=r)
    assert pagination.decode(c, "lb", fields={"b": int, "u": int, "r": int}) == {"b": b, "u": u, "r": r}
    with pytest.raises(ValidationFailed):
        pagination.decode(c, "audit", fields={"id": int})


def test_json_diff_paths() -> None:
    """Leaf differences carry JSON paths; lists of different lengths differ as a whole."""
    a = {"name": "x", "conditions": [{"op": ">="}, {"v": 1}], "effects": [1]}
    b = {"name": "x", "conditions": [{"op": ">"}, {"v": 1}], "effects": [1, 2], "new": True}
    assert json_diff(a, b) == [
        {"path": "conditions[0].op", "before": ">=", "after": ">"},
        {"path": "effects", "before": [1], "after": [1, 2]},
        {"path": "new", "before": None, "after": True}]


def test_import_parsing_formats() -> None:
    """MEE6 pages, page lists and bare player lists parse alike; CSV with or without header; dupes kept once."""
    page = '{"players": [{"id": "1", "xp": 10, "username": "a"}, {"id": "1", "xp": 99}]}'
    for content in (page, f"[{page}]", '[{"id": "1", "xp": 10, "username": "a"}]'):
        parsed = imports.parse(content, "mee6")
        assert [(r.user_id, r.amount) for r in parsed.rows] == [(1, 10)]
    assert [(r.user_id, r.amount) for r in imports.parse("2,30\n3,40\n", "csv").rows] == [(2, 30), (3, 40)]
    csv = imports.parse("Name,Member_ID,Points\nbo,4,5\n", "csv")
    assert [(r.user_id, r.amount, r.username) for r in csv.rows] == [(4, 5, "bo")]
    with pytest.raises(ValidationFailed):
        imports.parse(b"\xff\xfe", "csv")
    with pytest.raises(ValidationFailed):
        imports.parse('{"players": [{"id": "1", "xp": -5}]}', "mee6")


def test_jwt_round_trip_and_expiry() -> None:
    """A session decodes with its guilds until exp, by the injected clock; then it is refused."""
    cfg = make_settings()
    now = datetime(2025, 1, 1, tzinfo=UTC)
    token = issue_token(cfg, user_id=5, username="ada", avatar=None, guilds=[9, 8], issued_at=now)
    s = decode_token(cfg, token, at=now + timedelta(minutes=59))
    assert s.user_id == 5 and s.guilds == frozenset({8, 9})
    with pytest.raises(Unauthorized):
        decode_token(cfg, token, at=now + timedelta(hours=1))
