"""Reset on leave, through the queue and the ingest function: a member_leave resets the member's balances
with correction transactions when the guild's setting is on, once however often the message is delivered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from synapse.admin import settings
from synapse.admin.audit import CLI
from synapse.db import ledger_store
from synapse.eventlake.envelope import encode_envelope
from synapse.simulate.community import iso
from tests.pipeline.conftest import GUILD, T0, Stack

USER = 4242
BYSTANDER = 4343


def message(n: int, minutes: float, user: int = USER) -> dict[str, Any]:
    return {"source_system": "discord", "source_event_id": f"message_create:{n}", "event_type": "message_create",
            "guild_id": str(GUILD), "user_id": str(user), "channel_id": "42",
            "occurred_at": iso(T0 + timedelta(minutes=minutes)), "payload": {"length": 60, "words": 10},
            "actor": {"name": f"m{user}", "roles": []}}


def leave(minutes: float, user: int = USER) -> dict[str, Any]:
    at = iso(T0 + timedelta(minutes=minutes))
    return {"source_system": "discord", "source_event_id": f"member_leave:{user}:{at}", "event_type": "member_leave",
            "guild_id": str(GUILD), "user_id": str(user), "channel_id": None, "occurred_at": at,
            "payload": {"is_bot": False}}


def balances(stack: Stack, user: int = USER) -> dict[str, int]:
    with stack.engine.connect() as conn:
        return ledger_store.balances(conn, GUILD, user)


def corrections(stack: Stack, user: int = USER) -> list[Any]:
    with stack.engine.connect() as conn:
        return list(conn.execute(sa.text("""
            SELECT t.*, e.source_event_id FROM transactions t
              LEFT JOIN event_lake e ON e.guild_id = t.guild_id AND e.id = t.event_id
             WHERE t.guild_id = :g AND t.user_id = :u AND t.kind = 'correction' ORDER BY t.id"""),
            {"g": GUILD, "u": user}))


def deliver(stack: Stack, *bodies: str) -> None:
    stack.send(list(bodies))
    stack.worker().drain(timeout=60)


def turn_on(stack: Stack) -> None:
    with stack.engine.begin() as conn:
        settings.update(conn, GUILD, {"reset_on_leave": True}, actor=CLI)


def test_leaving_keeps_balances_while_the_setting_is_off(stack: Stack) -> None:
    """Off by default: a member who leaves keeps what they earned, and no correction is posted."""
    deliver(stack, encode_envelope([message(1, 0), message(2, 2)]), encode_envelope([leave(5)]))
    assert balances(stack).get("xp", 0) > 0
    assert corrections(stack) == []


def test_a_leave_resets_the_member_once_however_often_it_is_delivered(stack: Stack) -> None:
    """With the setting on, the leave posts one correction per nonzero wallet (reason "reset on leave",
    caused by the leave event), audited as Synapse's; delivering the message again changes nothing;
    other members keep their balances; the ledger still verifies."""
    turn_on(stack)
    deliver(stack, encode_envelope([message(1, 0), message(2, 2), message(3, 3, user=BYSTANDER)]))
    earned = balances(stack)
    assert earned.get("xp", 0) > 0
    bystander = balances(stack, BYSTANDER)
    body = encode_envelope([leave(10)])
    deliver(stack, body, body)
    deliver(stack, body)
    assert all(v == 0 for v in balances(stack).values())
    rows = corrections(stack)
    assert sorted((r.currency_key, r.amount) for r in rows) == sorted(
        (k, -v) for k, v in earned.items() if v != 0)
    assert {(r.reason, r.event_type, r.source_event_id, r.actor_id) for r in rows} == {
        ("reset on leave", "member_leave", leave(10)["source_event_id"], None)}
    assert balances(stack, BYSTANDER) == bystander
    with stack.engine.connect() as conn:
        audit = conn.execute(sa.text(
            "SELECT * FROM admin_log WHERE guild_id = :g AND action = 'member.reset_on_leave'"), {"g": GUILD}).all()
        assert ledger_store.verify(conn, GUILD) == []
    assert len(audit) == 1 and audit[0].actor_kind == "system" and audit[0].entity_id == str(USER)
    assert audit[0].before["balances"] == {k: v for k, v in earned.items() if v != 0}


def test_a_member_who_comes_back_and_leaves_again_is_reset_again(stack: Stack) -> None:
    """Each leave is its own event: what a returning member earned is reset by their next leave, and the
    messages and the leave of one envelope are credited first, then reset."""
    turn_on(stack)
    deliver(stack, encode_envelope([message(1, 0), leave(1)]))
    assert all(v == 0 for v in balances(stack).values())
    first = len(corrections(stack))
    assert first >= 1
    deliver(stack, encode_envelope([message(2, 30)]))
    assert balances(stack).get("xp", 0) > 0
    deliver(stack, encode_envelope([leave(40)]))
    assert all(v == 0 for v in balances(stack).values())
    assert len(corrections(stack)) > first
