"""Member management against real PostgreSQL: set balance / level / reset as audited, idempotent
correction transactions; the member ledger with each line's provenance; bad input and access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from synapse.clock import FixedClock
from synapse.db.ledger_store import verify
from synapse.eventlake.envelope import encode_envelope
from synapse.rules.cache import RuleCache
from synapse.services.ingest import handle
from synapse.simulate.community import iso
from tests.api.conftest import ADMIN, GUILD, NOW, OTHER, Api

A = f"/api/guilds/{GUILD}/admin"
M = f"{A}/members"
USER = 7


def corrections(api: Api, user: int = USER) -> list[Any]:
    return api.sql("""SELECT * FROM transactions WHERE guild_id = :g AND user_id = :u AND kind = 'correction'
                      ORDER BY id""", g=GUILD, u=user)


def wallet(api: Api, currency: str, user: int = USER) -> int:
    rows = api.sql("SELECT balance FROM wallets WHERE guild_id = :g AND user_id = :u AND currency_key = :c",
                   g=GUILD, u=user, c=currency)
    return int(rows[0].balance) if rows else 0


def paths(r: Any) -> set[str]:
    return {d["path"] for d in r.json()["error"]["details"]}


def test_set_balance_posts_one_audited_correction_and_a_retry_changes_nothing(api: Api) -> None:
    """Setting a balance posts one correction of the difference with the reason and the admin, writes an
    admin_log row with before/after, and the same request id again returns the first outcome."""
    h = api.auth()
    api.award(USER, 120)
    body = {"currency": "xp", "balance": 50, "reason": "typo in the award", "request_id": "set-1"}
    r = api.client.post(f"{M}/{USER}/balance", json=body, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["repeated"] is False and out["action"] == "member.set_balance"
    assert [(c["currency"], c["before"], c["after"], c["amount"]) for c in out["changes"]] == [("xp", 120, 50, -70)]
    [tx] = corrections(api)
    assert (tx.amount, tx.balance_after, tx.reason, tx.actor_id, tx.id) == (
        -70, 50, "typo in the award", ADMIN, out["changes"][0]["transaction_id"])
    audit = api.admin_log()[-1]
    assert (audit.id, audit.action, audit.entity_type, audit.entity_id) == (
        out["audit_id"], "member.set_balance", "member", str(USER))
    assert audit.before == {"balances": {"xp": 120}} and audit.after["balances"] == {"xp": 50}
    assert audit.after["reason"] == "typo in the award" and audit.actor_id == ADMIN

    again = api.client.post(f"{M}/{USER}/balance", json={**body, "balance": 999}, headers=h)
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert again.json()["changes"] == out["changes"] and again.json()["audit_id"] == out["audit_id"]
    assert len(corrections(api)) == 1 and len(api.admin_log()) == 1 and wallet(api, "xp") == 50

    # Already at the target: audited, nothing posted. A request id of another action is a conflict.
    same = api.client.post(f"{M}/{USER}/balance", json={**body, "request_id": "set-2"}, headers=h)
    assert same.status_code == 200 and same.json()["changes"] == [] and len(corrections(api)) == 1
    clash = api.client.post(f"{M}/{USER}/reset", json={"currency": None, "reason": "x", "request_id": "set-1"},
                            headers=h)
    assert clash.status_code == 409 and wallet(api, "xp") == 50
    r = api.client.post(f"{M}/{USER}/balance", json={**body, "balance": 80, "request_id": "set-3"}, headers=h)
    assert r.json()["changes"][0]["amount"] == 30 and wallet(api, "xp") == 80
    with api.engine.connect() as conn:
        assert verify(conn, GUILD) == []


def test_set_level_sets_the_curve_threshold_and_checks_the_currency(api: Api) -> None:
    """Level L on a levelled currency sets the balance to the curve's least balance at L (level 10 of the
    default MEE6 curve: 4,675 XP); a currency without levels, or a level out of range, is 422 naming it."""
    h = api.auth()
    api.award(USER, 300)
    r = api.client.post(f"{M}/{USER}/level", json={"currency": "xp", "level": 10, "reason": "migrated from MEE6"},
                        headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0] | {"transaction_id": 0} == {
        "currency": "xp", "before": 300, "after": 4675, "amount": 4375, "transaction_id": 0}
    xp = next(w for w in api.client.get(f"{M}/{USER}", headers=h).json()["wallets"] if w["currency"] == "xp")
    assert (xp["balance"], xp["level"], xp["into_level"]) == (4675, 10, 0)
    assert api.admin_log()[-1].after["level"] == 10
    r = api.client.post(f"{M}/{USER}/level", json={"currency": "xp", "level": 0, "reason": "start over"}, headers=h)
    assert r.json()["changes"][0]["after"] == 0 and wallet(api, "xp") == 0

    bad = api.client.post(f"{M}/{USER}/level", json={"currency": "stars", "level": 3, "reason": "x"}, headers=h)
    assert bad.status_code == 422 and paths(bad) == {"currency"} and "not levelled" in bad.text
    for level in (-1, 1001):
        bad = api.client.post(f"{M}/{USER}/level", json={"currency": "xp", "level": level, "reason": "x"}, headers=h)
        assert bad.status_code == 422 and paths(bad) == {"body.level"}
    assert api.client.post(f"{M}/{USER}/level", json={"currency": "nope", "level": 1, "reason": "x"},
                           headers=h).status_code == 404
    assert len(corrections(api)) == 2


def test_reset_one_currency_or_all_through_corrections(api: Api) -> None:
    """A reset brings one currency (or every one) to 0 with a correction per wallet; no row is deleted."""
    h = api.auth()
    api.award(USER, 40, "xp")
    api.award(USER, 9, "stars")
    api.award(USER, 5, "gold")
    r = api.client.post(f"{M}/{USER}/reset", json={"currency": "stars", "reason": "spam stars"}, headers=h)
    assert [(c["currency"], c["amount"]) for c in r.json()["changes"]] == [("stars", -9)]
    r = api.client.post(f"{M}/{USER}/reset", json={"currency": None, "reason": "left for good"}, headers=h)
    assert sorted((c["currency"], c["amount"]) for c in r.json()["changes"]) == [("gold", -5), ("xp", -40)]
    assert [wallet(api, c) for c in ("xp", "stars", "gold")] == [0, 0, 0]
    kinds = api.sql("SELECT kind, count(*) AS n FROM transactions WHERE guild_id = :g AND user_id = :u "
                    "GROUP BY kind ORDER BY kind", g=GUILD, u=USER)
    assert [(k.kind, k.n) for k in kinds] == [("admin_award", 3), ("correction", 3)]
    assert [a.action for a in api.admin_log()] == ["member.reset", "member.reset"]
    assert api.admin_log()[-1].before == {"balances": {"gold": 5, "xp": 40}}
    with api.engine.connect() as conn:
        assert verify(conn, GUILD) == []


def test_negative_results_are_refused_where_the_currency_forbids_them(api: Api) -> None:
    """A negative balance is 422 on a no-negative currency (nothing written) and allowed on one that allows it."""
    h = api.auth()
    api.award(USER, 10)
    r = api.client.post(f"{M}/{USER}/balance", json={"currency": "xp", "balance": -5, "reason": "x"}, headers=h)
    assert r.status_code == 422 and paths(r) == {"balance"} and "does not allow negative" in r.text
    assert corrections(api) == [] and api.admin_log() == [] and wallet(api, "xp") == 10
    assert api.client.post(f"{A}/currencies", json={"key": "debt", "name": "Debt", "allow_negative": True},
                           headers=h).status_code == 201
    r = api.client.post(f"{M}/{USER}/balance", json={"currency": "debt", "balance": -25, "reason": "fine"}, headers=h)
    assert r.status_code == 200 and wallet(api, "debt") == -25
    r = api.client.post(f"{M}/{USER}/reset", json={"currency": "debt", "reason": "paid"}, headers=h)
    assert r.json()["changes"][0]["amount"] == 25 and wallet(api, "debt") == 0


def test_bad_input_names_the_field_and_non_admins_are_refused(api: Api) -> None:
    """Missing or blank reasons, bad ids, unknown fields and out-of-range amounts are 422 with paths;
    a session without this guild is 403, none is 401; nothing is written by any of them."""
    h = api.auth()
    url = f"{M}/{USER}/balance"
    ok = {"currency": "xp", "balance": 5, "reason": "r"}
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"currency": "xp", "balance": 5}, {"body.reason"}),
        ({**ok, "reason": "   "}, {"reason"}),
        ({**ok, "balance": 10**13}, {"body.balance"}),
        ({**ok, "currency": "Not A Key"}, {"body.currency"}),
        ({**ok, "extra": 1}, {"body.extra"}),
        ({**ok, "request_id": "has spaces"}, {"body.request_id"}),
    ]
    r = api.client.post(f"{M}/{USER}/reset", json={"reason": "forgot the currency"}, headers=h)
    assert r.status_code == 422 and paths(r) == {"body.currency"}
    for body, where in cases:
        r = api.client.post(url, json=body, headers=h)
        assert r.status_code == 422 and paths(r) == where, (body, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    assert paths(api.client.post(f"{M}/0/balance", json=ok, headers=h)) == {"user_id"}
    assert api.client.post(f"{M}/abc/balance", json=ok, headers=h).status_code == 422
    assert api.client.post(url, json=ok, headers=api.auth(guilds=(OTHER,))).status_code == 403
    assert api.client.post(url, json=ok).status_code == 401
    assert api.client.get(f"{M}/{USER}/transactions", headers=api.auth(user_id=9, guilds=(OTHER,))).status_code == 403
    assert api.client.get(f"{M}/{USER}/transactions", params={"cursor": "garbage"}, headers=h).status_code == 422
    assert corrections(api) == [] and api.admin_log() == []


def _ingest(api: Api, events: list[dict[str, Any]]) -> None:
    handle(encode_envelope(events), api.engine, clock=FixedClock(NOW), rules=RuleCache())


def _message(n: int, minutes: int) -> dict[str, Any]:
    return {"source_system": "discord", "source_event_id": f"message_create:{n}", "event_type": "message_create",
            "guild_id": str(GUILD), "user_id": str(USER), "channel_id": "42",
            "occurred_at": iso(NOW - timedelta(hours=2) + timedelta(minutes=minutes)),
            "payload": {"length": 40}, "actor": {"name": "ada", "roles": []}}


def test_member_ledger_shows_every_lines_provenance_and_pages(api: Api) -> None:
    """The member ledger names, per line, the rule at the version that paid it and the event, the admin
    and reason of a correction, and the credit a clawback took back; pages follow one another."""
    h = api.auth()
    rule = {"name": "Message XP", "module": "economy", "priority": 100, "trigger": {"event": "message_create"},
            "effects": [{"type": "credit", "currency": "xp", "amount": 10}]}
    rid = api.client.post(f"{A}/rules", json=rule, headers=h).json()["rule_id"]
    back = {"name": "Deleted message XP back", "module": "economy", "priority": 100,
            "trigger": {"event": "message_delete"}, "effects": [{"type": "clawback", "currencies": ["xp"]}]}
    assert api.client.post(f"{A}/rules", json=back, headers=h).status_code == 201
    _ingest(api, [_message(1, 0)])
    assert api.client.put(f"{A}/rules/{rid}", json={**rule, "name": "Chat XP", "effects": [
        {"type": "credit", "currency": "xp", "amount": 15}]}, headers=h).status_code == 200
    _ingest(api, [_message(2, 5)])
    _ingest(api, [{**_message(2, 6), "source_event_id": "message_delete:2", "event_type": "message_delete",
                   "payload": {"message_id": "2"}}])
    api.member(ADMIN, "the-admin")
    r = api.client.post(f"{M}/{USER}/balance", json={"currency": "xp", "balance": 100, "reason": "welcome gift"},
                        headers=h)
    assert r.status_code == 200, r.text

    lines = api.client.get(f"{M}/{USER}/transactions", headers=h).json()["items"]
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in lines] == [
        ("correction", 90, 100), ("clawback", -15, 10), ("rule", 15, 25), ("rule", 10, 10)]
    fix, claw, second, first = lines
    assert (fix["actor_id"], fix["actor_name"], fix["reason"], fix["rule_id"]) == (
        str(ADMIN), "the-admin", "welcome gift", None)
    assert (first["rule_name"], first["rule_version"], first["event_type"]) == ("Message XP", 1, "message_create")
    assert (second["rule_name"], second["rule_version"]) == ("Chat XP", 2)
    assert first["event_id"] is not None and first["event_id"] != second["event_id"]
    assert claw["clawback_of"] == second["id"] and claw["event_type"] == "message_delete"
    assert claw["rule_name"] == "Deleted message XP back"

    page = api.client.get(f"{M}/{USER}/transactions", params={"limit": 3}, headers=h).json()
    rest = api.client.get(f"{M}/{USER}/transactions", params={"limit": 3, "cursor": page["next_cursor"]},
                          headers=h).json()
    assert [t["id"] for t in page["items"] + rest["items"]] == [t["id"] for t in lines]
    assert rest["next_cursor"] is None
    only = api.client.get(f"{M}/{USER}/transactions", params={"currency": "stars"}, headers=h).json()
    assert only["items"] == []
    # The guild-wide transactions list carries the same provenance fields.
    tx = api.client.get(f"{A}/transactions", params={"user_id": str(USER), "kind": "rule"}, headers=h).json()
    assert {(t["rule_version"], t["event_type"]) for t in tx["items"]} == {(1, "message_create"),
                                                                          (2, "message_create")}


def test_member_search_and_detail(api: Api) -> None:
    """Members are found by a piece of their name or their exact id (also without a cache row, from wallets);
    the detail lists every currency, 0 where there is no wallet; an unseen member is not 'known'."""
    h = api.auth()
    api.member(USER, "Ada Lovelace")
    api.member(8, "Grace_Hopper")
    api.award(9, 4, "stars")
    hits = api.client.get(M, params={"q": "love"}, headers=h).json()
    assert [(m["user_id"], m["display_name"]) for m in hits] == [(str(USER), "Ada Lovelace")]
    assert [m["user_id"] for m in api.client.get(M, params={"q": "_"}, headers=h).json()] == ["8"]
    by_id = api.client.get(M, params={"q": "9"}, headers=h).json()
    assert by_id[0]["user_id"] == "9" and by_id[0]["balances"] == {"stars": 4}
    detail = api.client.get(f"{M}/9", headers=h).json()
    assert detail["known"] is True and [w["currency"] for w in detail["wallets"]] == ["xp", "stars", "gold"]
    assert [w["balance"] for w in detail["wallets"]] == [0, 4, 0]
    assert api.client.get(f"{M}/123456", headers=h).json()["known"] is False
    assert api.client.get(M, headers=api.auth(guilds=(OTHER,))).status_code == 403


def test_a_level_set_by_hand_goes_through_the_engine_as_earned_xp_would(api: Api) -> None:
    """Set level 3 from level 0: the lake holds the level_up 0→3 that earning that XP in one posting would write."""
    h = api.auth()
    r = api.client.post(f"{M}/{USER}/level", json={"currency": "xp", "level": 3, "reason": "migrated"}, headers=h)
    assert r.status_code == 200, r.text
    ups = api.sql("""SELECT (payload->>'old_level')::int AS old, (payload->>'new_level')::int AS new FROM event_lake
                      WHERE guild_id = :g AND user_id = :u AND event_type = 'level_up' ORDER BY id""", g=GUILD, u=USER)
    assert [(u.old, u.new) for u in ups] == [(0, 3)]
    with api.engine.connect() as conn:
        assert verify(conn) == []
