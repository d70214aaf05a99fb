"""Admin endpoints against real PostgreSQL: each mutation's effect, its audit row, and its errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from synapse.db.ledger_store import verify
from tests.api.conftest import ADMIN, GUILD, NOW, Api

G = f"/api/guilds/{GUILD}"
A = f"{G}/admin"


def last_audit(api: Api) -> Any:
    rows = api.admin_log()
    assert rows, "no audit row"
    return rows[-1]


def test_settings_and_modules(api: Api) -> None:
    """Settings and module changes apply, are audited with before/after, and bad input is 422 with paths."""
    h = api.auth()
    r = api.client.patch(f"{A}/settings", json={"timezone": "Europe/Paris", "public_activity": False}, headers=h)
    assert r.status_code == 200 and r.json()["timezone"] == "Europe/Paris"
    row = last_audit(api)
    assert row.action == "settings.update" and row.actor_id == ADMIN and row.after["timezone"] == "Europe/Paris"
    assert row.before["timezone"] == "UTC"
    r = api.client.patch(f"{A}/settings", json={"timezone": "Mars/Olympus", "nope": 1}, headers=h)
    assert r.status_code == 422 and {d["path"] for d in r.json()["error"]["details"]} == {"nope"}
    r = api.client.patch(f"{A}/settings", json={"timezone": "Mars/Olympus"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "timezone"
    assert api.client.get(f"{G}/overview").status_code == 403  # public_activity off
    r = api.client.put(f"{A}/modules/seasons", json={"enabled": True}, headers=h)
    assert r.status_code == 200 and r.json()["modules"]["seasons"] is True
    assert last_audit(api).action == "module.set"
    assert api.client.get(f"{A}/modules", headers=h).json()["modules"]["seasons"] is True
    assert api.client.put(f"{A}/modules/bogus", json={"enabled": True}, headers=h).status_code == 422


def test_currencies(api: Api) -> None:
    """Create, update, conflict on duplicate key, 404 on unknown, key immutable; all audited."""
    h = api.auth()
    r = api.client.post(f"{A}/currencies", json={"key": "gems", "name": "Gems", "symbol": "💎", "seasonal": True},
                        headers=h)
    assert r.status_code == 201 and r.json()["seasonal"] is True
    assert last_audit(api).action == "currency.create"
    assert api.client.post(f"{A}/currencies", json={"key": "gems", "name": "Gems"}, headers=h).status_code == 409
    assert api.client.post(f"{A}/currencies", json={"key": "Bad Key", "name": "x"}, headers=h).status_code == 422
    r = api.client.patch(f"{A}/currencies/gems", json={"name": "Jewels"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Jewels"
    assert last_audit(api).before["name"] == "Gems"
    assert api.client.patch(f"{A}/currencies/nope", json={"name": "x"}, headers=h).status_code == 404
    assert api.client.patch(f"{A}/currencies/gems", json={"key": "other"}, headers=h).status_code == 422
    assert "gems" in [c["key"] for c in api.client.get(f"{A}/currencies", headers=h).json()]


def test_regions_and_taxonomy(api: Api) -> None:
    """Channel groups: create/update/delete, conflicts, bad channel ids; rules version bumps; audited."""
    h = api.auth()
    version = api.sql("SELECT rules_version FROM guilds WHERE guild_id = :g", g=GUILD)[0][0]
    for path in ("regions", "taxonomy"):
        r = api.client.post(f"{A}/{path}", json={"key": "study", "name": "Study", "channel_ids": ["12", "11"]},
                            headers=h)
        assert r.status_code == 201 and r.json()["channel_ids"] == ["11", "12"]
        assert api.client.post(f"{A}/{path}", json={"key": "study", "name": "S"}, headers=h).status_code == 409
        r = api.client.post(f"{A}/{path}", json={"key": "x", "name": "X", "channel_ids": ["abc"]}, headers=h)
        assert r.status_code == 422
        r = api.client.patch(f"{A}/{path}/study", json={"channel_ids": ["13"]}, headers=h)
        assert r.status_code == 200 and r.json()["channel_ids"] == ["13"]
        assert api.client.delete(f"{A}/{path}/study", headers=h).status_code == 204
        assert api.client.delete(f"{A}/{path}/study", headers=h).status_code == 404
        assert api.client.get(f"{A}/{path}", headers=h).json() == []
    actions = [r.action for r in api.admin_log()]
    assert actions == ["region.create", "region.update", "region.delete", "tag.create", "tag.update", "tag.delete"]
    assert api.sql("SELECT rules_version FROM guilds WHERE guild_id = :g", g=GUILD)[0][0] == version + 6


def test_awards_transactions_and_idempotency(api: Api) -> None:
    """An award posts once per request id, a debit below zero is 409, and every award is audited."""
    h = api.auth()
    body = {"user_id": "7", "currency": "xp", "amount": 120, "reason": "event winner", "request_id": "req-1"}
    r = api.client.post(f"{A}/awards", json=body, headers=h)
    assert r.status_code == 200 and r.json()["balance_after"] == 120 and r.json()["repeated"] is False
    again = api.client.post(f"{A}/awards", json=body, headers=h)
    assert again.json()["repeated"] is True and again.json()["transaction_id"] == r.json()["transaction_id"]
    r = api.client.post(f"{A}/awards", json={**body, "amount": -500, "request_id": "req-2"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_balance"
    r = api.client.post(f"{A}/awards", json={**body, "amount": -20, "request_id": "req-3", "reason": "typo"},
                        headers=h)
    assert r.json()["balance_after"] == 100
    assert api.client.post(f"{A}/awards", json={**body, "currency": "nope", "request_id": "r4"},
                           headers=h).status_code == 404
    assert api.client.post(f"{A}/awards", json={**body, "amount": 0}, headers=h).status_code == 422
    assert [r.action for r in api.admin_log()] == ["ledger.award", "ledger.award"]
    page = api.client.get(f"{A}/transactions", params={"user_id": "7", "limit": 1}, headers=h).json()
    assert page["items"][0]["amount"] == -20 and page["items"][0]["actor_id"] == str(ADMIN)
    rest = api.client.get(f"{A}/transactions", params={"user_id": "7", "cursor": page["next_cursor"]},
                          headers=h).json()
    assert [t["amount"] for t in rest["items"]] == [120] and rest["next_cursor"] is None


def test_season_roll_snapshots_resets_and_keeps_ledger_verified(api: Api) -> None:
    """A roll snapshots ranks, resets seasonal currencies with season_reset transactions, opens the next
    season; the past season stays browsable and the ledger verifies."""
    h = api.auth()
    assert api.client.post(f"{A}/seasons", json={"name": "S1"}, headers=h).status_code == 404  # module off
    api.client.put(f"{A}/modules/seasons", json={"enabled": True}, headers=h)
    api.client.post(f"{A}/currencies", json={"key": "gems", "name": "Gems", "seasonal": True}, headers=h)
    r = api.client.post(f"{A}/seasons", json={"name": "Spring"}, headers=h)
    assert r.status_code == 201 and r.json()["season_id"] == 1
    assert api.client.post(f"{A}/seasons", json={"name": "Again"}, headers=h).status_code == 409
    for uid, gems, xp in [(1, 50, 300), (2, 80, 100), (3, 10, 0)]:
        api.award(uid, gems, "gems")
        if xp:
            api.award(uid, xp, "xp")
    api.sql("""INSERT INTO webhooks (guild_id, url, secret, events) VALUES (:g, 'https://hook.example/x', 's',
               ARRAY['season.closed'])""", g=GUILD)
    api.clock.advance(days=30)
    h = api.auth()  # the first session expired meanwhile
    r = api.client.post(f"{A}/seasons/roll", json={"expected_season_id": 1, "next_name": "Summer"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"closed_season_id": 1, "opened_season_id": 2, "snapshot_rows": 5,
                        "reset_wallets": {"gems": 3}, "reset_total": {"gems": 140}}
    again = api.client.post(f"{A}/seasons/roll", json={"expected_season_id": 1, "next_name": "X"}, headers=h)
    assert again.status_code == 409  # a double click does not roll twice
    assert api.sql("SELECT balance FROM wallets WHERE currency_key = 'gems' ORDER BY user_id") == [(0,), (0,), (0,)]
    assert api.sql("SELECT SUM(balance) FROM wallets WHERE currency_key = 'xp'")[0][0] == 400
    resets = api.sql("SELECT amount, season_id FROM transactions WHERE kind = 'season_reset' ORDER BY user_id")
    assert resets == [(-50, 1), (-80, 1), (-10, 1)]
    with api.engine.connect() as conn:
        assert verify(conn) == []
    past = api.client.get(f"{G}/leaderboard/gems", params={"season": 1}).json()
    assert [(e["user_id"], e["balance"], e["rank"]) for e in past["items"]] == [("2", 80, 1), ("1", 50, 2),
                                                                                ("3", 10, 3)]
    assert past["season_status"] == "closed"
    assert api.client.get(f"{G}/leaderboard/gems").json()["items"] == []
    seasons = api.client.get(f"{G}/seasons").json()
    assert [(s["season_id"], s["status"]) for s in seasons] == [(2, "active"), (1, "closed")]
    assert [r.action for r in api.admin_log()][-2:] == ["season.start", "season.roll"]
    hook = api.sql("SELECT kind, payload FROM outbox WHERE kind = 'webhook'")
    assert len(hook) == 1 and hook[0].payload["event"] == "season.closed"
    assert hook[0].payload["body"]["data"]["top"]["gems"][0] == {"user_id": "2", "balance": 80, "rank": 1}


MEE6 = {"page": 0, "players": [
    {"id": "101", "username": "ada", "xp": 4675, "level": 10, "message_count": 300, "detailed_xp": [0, 0, 4675]},
    {"id": "102", "username": "bob", "xp": 100, "level": 1, "message_count": 9},
    {"id": "oops", "username": "bad", "xp": 5},
]}


def test_import_mee6_preview_apply_idempotent(api: Api) -> None:
    """Preview shows levels after the import; apply posts import transactions once per file; audited."""
    h = api.auth()
    api.award(102, 50)
    body = {"format": "mee6", "currency": "xp", "content": json.dumps(MEE6), "filename": "mee6.json"}
    p = api.client.post(f"{A}/imports/preview", json=body, headers=h)
    assert p.status_code == 200, p.text
    prev = p.json()
    assert prev["members"] == 2 and prev["total"] == 4775 and prev["already_imported"] is False
    assert [(r["user_id"], r["level_after"]) for r in prev["rows"]] == [("101", 10), ("102", 1)]
    assert prev["rows"][1]["balance_before"] == 50 and prev["problems"][0]["path"] == "[0].players[2].id"
    assert api.admin_log() == []  # a preview writes nothing
    r = api.client.post(f"{A}/imports", json=body, headers=h)
    assert r.status_code == 200 and r.json()["posted"] == 2 and r.json()["already_imported"] is False
    again = api.client.post(f"{A}/imports", json=body, headers=h)
    assert again.json()["already_imported"] is True and again.json()["posted"] == 0
    txs = api.sql("SELECT user_id, amount, kind, meta->>'source' FROM transactions WHERE kind = 'import' "
                  "ORDER BY user_id")
    assert txs == [(101, 4675, "import", "mee6"), (102, 100, "import", "mee6")]
    assert api.sql("SELECT display_name FROM member_cache WHERE user_id = 101")[0][0] == "ada"
    assert [a.action for a in api.admin_log()] == ["import.apply"]
    assert api.client.get(f"{A}/imports", headers=h).json()[0]["members"] == 2
    csv_body = {"format": "csv", "currency": "xp", "content": "user_id,xp\n201,500\n202,abc\n"}
    prev = api.client.post(f"{A}/imports/preview", json=csv_body, headers=h).json()
    assert prev["members"] == 1 and prev["problems"][0]["path"] == "line 3"
    for bad in [{"format": "mee6", "content": "{not json"}, {"format": "csv", "content": "a,b\n1,2\n"},
                {"format": "mee6", "content": "[]"}, {"format": "xls", "content": "x"}]:
        assert api.client.post(f"{A}/imports/preview", json=bad, headers=h).status_code == 422, bad
    with api.engine.connect() as conn:
        assert verify(conn) == []


def test_audit_log_filters_and_pages(api: Api) -> None:
    """The audit log filters by actor, entity and time, newest first, with cursors."""
    api.client.put(f"{A}/modules/seasons", json={"enabled": True}, headers=api.auth(user_id=1))
    api.clock.advance(hours=1)
    api.client.put(f"{A}/modules/seasons", json={"enabled": False}, headers=api.auth(user_id=2))
    api.client.post(f"{A}/regions", json={"key": "r", "name": "R"}, headers=api.auth(user_id=2))
    h = api.auth()
    items = api.client.get(f"{A}/audit", params={"actor_id": "2"}, headers=h).json()["items"]
    assert [i["action"] for i in items] == ["region.create", "module.set"]
    items = api.client.get(f"{A}/audit", params={"entity_type": "module"}, headers=h).json()["items"]
    assert [i["after"]["enabled"] for i in items] == [False, True]
    page = api.client.get(f"{A}/audit", params={"limit": 1, "action": "module.set"}, headers=h).json()
    nxt = api.client.get(f"{A}/audit", params={"limit": 1, "action": "module.set", "cursor": page["next_cursor"]},
                         headers=h).json()
    assert nxt["items"][0]["actor_id"] == "1"
    assert api.client.get(f"{A}/audit", params={"since": "2025-01-01T00:00:00"}, headers=h).status_code == 422
    assert api.client.get(f"{A}/audit", params={"cursor": "x"}, headers=h).status_code == 422


def test_member_export_and_erasure(api: Api) -> None:
    """Export returns the member's data; erasure removes it and keeps the ledger consistent; both audited."""
    h = api.auth()
    api.member(9, "eve")
    api.award(9, 300)
    api.award(10, 100)
    api.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, occurred_at)
               VALUES (:g, 'discord', 'm:1', 'message_create', 9, :t)""", g=GUILD, t=NOW)
    api.sql("""INSERT INTO member_role_history (guild_id, user_id, since, roles)
               VALUES (:g, 9, :t, '{7}'), (:g, 9, '-infinity', '{}')""", g=GUILD, t=NOW)
    r = api.client.get(f"{A}/members/9/export", headers=h)
    assert r.status_code == 200 and r.text.count('"9"') >= 1
    assert r.json()["event_totals"] == [{"event_type": "message_create", "field": "", "events": 1, "total": "0"}]
    assert r.json()["role_history"] == [{"since": None, "roles": []}, {"since": NOW.isoformat(), "roles": [7]}]
    assert api.client.post(f"{A}/members/9/erase", json={"confirm_user_id": "8"}, headers=h).status_code == 422
    r = api.client.post(f"{A}/members/9/erase", json={"confirm_user_id": "9"}, headers=h)
    assert r.status_code == 200 and r.json()["deleted"]["transactions"] == 1
    assert api.sql("SELECT count(*) FROM event_lake WHERE user_id = 9")[0][0] == 0
    assert api.sql("SELECT count(*) FROM wallets WHERE user_id = 9")[0][0] == 0
    assert api.sql("SELECT count(*) FROM member_role_history WHERE user_id = 9")[0][0] == 0
    with api.engine.connect() as conn:
        assert verify(conn) == []
    assert [a.action for a in api.admin_log()] == ["member.export", "member.erase"]
    assert api.client.get(f"{A}/members/9/export", headers=h).status_code == 404


def test_api_tokens_and_integration_endpoints(api: Api) -> None:
    """A token is shown once, stored hashed, reads one guild's levels; revoked or foreign tokens get 401."""
    h = api.auth()
    api.member(1, "ada")
    api.award(1, 500)
    r = api.client.post(f"{A}/api-tokens", json={"name": "AmariBot"}, headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("syn_") and api.sql("SELECT token_hash FROM api_tokens")[0][0] != token
    assert "token" not in api.client.get(f"{A}/api-tokens", headers=h).json()[0]
    t = {"Authorization": f"Bearer {token}"}
    body = api.client.get(f"{G}/integration/members/1", headers=t).json()
    assert next(b for b in body["balances"] if b["currency"] == "xp")["level"] == 3
    lb = api.client.get(f"{G}/integration/leaderboard/xp", headers=t).json()
    assert lb["items"][0]["user_id"] == "1"
    assert api.client.get(f"{G}/integration/milestones", headers=t).status_code == 200
    assert api.sql("SELECT last_used_at FROM api_tokens")[0][0] is not None
    from tests.api.conftest import OTHER

    assert api.client.get(f"/api/guilds/{OTHER}/integration/members/1", headers=t).status_code == 401
    assert api.client.get(f"{G}/integration/members/1").status_code == 401
    assert api.client.get(f"{G}/integration/members/1", headers=h).status_code == 401  # a session is not a token
    token_id = r.json()["token_id"]
    assert api.client.delete(f"{A}/api-tokens/{token_id}", headers=h).status_code == 204
    assert api.client.get(f"{G}/integration/members/1", headers=t).status_code == 401
    assert [a.action for a in api.admin_log()] == ["api_token.create", "api_token.revoke"]


def test_webhooks(api: Api) -> None:
    """Webhooks: secret shown once, bad URL/events 422, delete audited."""
    h = api.auth()
    r = api.client.post(f"{A}/webhooks", json={"url": "https://bot.example/hook", "events": ["level_up"]},
                        headers=h)
    assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
    assert api.client.post(f"{A}/webhooks", json={"url": "ftp://x", "events": ["level_up"]},
                           headers=h).status_code == 422
    assert api.client.post(f"{A}/webhooks", json={"url": "https://x.example", "events": ["nope"]},
                           headers=h).status_code == 422
    assert "secret" not in api.client.get(f"{A}/webhooks", headers=h).json()[0]
    for i, typ in enumerate(["level_up", "milestone_earned", "message_create"]):  # only level_up is subscribed
        api.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, occurred_at,
                   payload) VALUES (:g, 'synapse', :k, :t, 5, :at, '{"currency": "xp", "new_level": 3}')""",
                g=GUILD, k=f"d{i}", t=typ, at=NOW)
    rows = api.sql("SELECT payload FROM outbox WHERE kind = 'webhook'")
    assert len(rows) == 1 and rows[0].payload["event"] == "level_up"
    assert rows[0].payload["body"]["data"]["new_level"] == 3 and rows[0].payload["body"]["data"]["user_id"] == "5"
    assert api.client.delete(f"{A}/webhooks/{r.json()['webhook_id']}", headers=h).status_code == 204
    assert api.client.delete(f"{A}/webhooks/999", headers=h).status_code == 404
    assert [a.action for a in api.admin_log()] == ["webhook.create", "webhook.delete"]


RULE = {"name": "Message XP", "module": "economy", "priority": 100, "trigger": {"event": "message_create"},
        "conditions": [{"type": "cooldown", "seconds": 60}],
        "effects": [{"type": "credit", "currency": "xp", "amount": 10}]}


def test_rules_crud_versions_diff_validate_backtest(api: Api) -> None:
    """Rules: create, update (new version), disable, diff, validate with paths, backtest, delete; audited."""
    h = api.auth()
    r = api.client.post(f"{A}/rules", json=RULE, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["rule_id"]
    r = api.client.put(f"{A}/rules/{rid}", json={**RULE, "effects": [{"type": "credit", "currency": "xp",
                                                                     "amount": 20}]}, headers=h)
    assert r.json()["version"] == 2
    assert api.client.post(f"{A}/rules/{rid}/disable", headers=h).json()["enabled"] is False
    assert [r["rule_id"] for r in api.client.get(f"{A}/rules", headers=h).json()] == [rid]
    assert api.client.post(f"{A}/rules/999/enable", headers=h).status_code == 404
    detail = api.client.get(f"{A}/rules/{rid}", headers=h).json()
    assert [v["version"] for v in detail["versions"]] == [3, 2, 1]
    d = api.client.get(f"{A}/rules/{rid}/diff", params={"from": 1, "to": 2}, headers=h).json()
    assert d["changes"] == [{"path": "effects[0].amount", "before": 10, "after": 20}]
    bad = {**RULE, "effects": [{"type": "credit", "currency": "nope", "amount": 10}],
           "conditions": [{"type": "cooldown", "seconds": -1}]}
    v = api.client.post(f"{A}/rules/validate", json=bad, headers=h).json()
    assert v["valid"] is False and len(v["errors"]) >= 1 and all("path" in e for e in v["errors"])
    assert api.client.post(f"{A}/rules", json=bad, headers=h).status_code == 422
    api.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, channel_id,
               occurred_at, payload) VALUES (:g, 'discord', 'message_create:1', 'message_create', 5, 1, :t,
               '{"length": 40}')""", g=GUILD, t=NOW - timedelta(hours=1))
    bt = api.client.post(f"{A}/rules/backtest", json={"rules": [{**RULE, "name": "Draft"}], "only_draft": True},
                         headers=h)
    assert bt.status_code == 200, bt.text
    assert "draft" in bt.json()
    assert api.client.get(f"{A}/rules/schema", headers=h).json()["title"] == "Synapse rule"
    assert api.client.delete(f"{A}/rules/{rid}", headers=h).status_code == 204
    assert api.client.get(f"{A}/rules/{rid}", headers=h).status_code == 404
    actions = [a.action for a in api.admin_log()]
    assert actions == ["rule.create", "rule.update", "rule.disable", "rule.delete"]
    assert api.client.get(f"{A}/rules/{rid}/diff", params={"from": 1, "to": 9}, headers=h).status_code == 404


def test_milestones_admin_and_retroactive_grant(api: Api) -> None:
    """Create, grant, and a retroactive grant: preview the qualifying members, apply exactly that batch."""
    h = api.auth()
    ms = {"key": "rich", "name": "Rich", "criteria": {"type": "balance", "currency": "xp", "at_least": 100}}
    r = api.client.post(f"{A}/milestones", json=ms, headers=h)
    assert r.status_code == 201, r.text
    assert api.client.post(f"{A}/milestones", json=ms, headers=h).status_code == 409
    assert api.client.post(f"{A}/milestones", json={**ms, "key": "x", "criteria": {"type": "nope"}},
                           headers=h).status_code == 422
    for uid, xp in [(1, 500), (2, 150), (3, 20)]:
        api.member(uid, f"m{uid}")
        api.award(uid, xp)
    g = api.client.post(f"{A}/milestones/rich/grant", json={"user_id": "3"}, headers=h).json()
    assert g["already"] is False
    prev = api.client.post(f"{A}/milestones/rich/retro/preview", headers=h).json()
    assert prev["qualifying"] == 2 and {m["user_id"] for m in prev["members"]} == {"1", "2"}
    api.award(4, 1000)  # someone new qualifies after the review
    stale = api.client.post(f"{A}/milestones/rich/retro/apply", json={"preview_token": prev["preview_token"]},
                            headers=h)
    assert stale.status_code == 409
    prev = api.client.post(f"{A}/milestones/rich/retro/preview", headers=h).json()
    r = api.client.post(f"{A}/milestones/rich/retro/apply", json={"preview_token": prev["preview_token"]}, headers=h)
    assert r.json() == {"milestone": "rich", "granted": 3}
    assert api.sql("SELECT count(*) FROM user_milestones WHERE source = 'retro'")[0][0] == 3
    gallery = api.client.get(f"{G}/milestones").json()
    assert gallery[0]["earned_count"] == 4
    listed = api.client.get(f"{A}/milestones", headers=h).json()
    assert [(m["key"], m["earned_count"]) for m in listed] == [("rich", 4)]
    r = api.client.patch(f"{A}/milestones/rich", json={"hidden": True}, headers=h)
    assert r.status_code == 200 and r.json()["hidden"] is True
    assert api.client.patch(f"{A}/milestones/none", json={"hidden": True}, headers=h).status_code == 404
    assert api.client.delete(f"{A}/milestones/rich", headers=h).status_code == 204
    assert [a.action for a in api.admin_log()] == ["milestone.create", "milestone.grant", "milestone.retro_grant",
                                                   "milestone.update", "milestone.delete"]


def test_setup_summary_says_what_onboarding_installed(api: Api) -> None:
    """A guild that set itself up: the admin start page learns when, through which door, and what is in place."""
    from synapse.services import onboarding

    other = 1_300_000_000_000_000_055
    with api.engine.begin() as conn:
        report = onboarding.ensure(conn, other, name="Newcomers", door="event")
        assert report is not None and report.created_guild
        assert onboarding.ensure(conn, other, door="event") is None   # a second sighting installs nothing
    r = api.client.get(f"/api/guilds/{other}/admin/setup", headers=api.auth(guilds=(other,)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["door"] == "event" and body["initialised_at"] is not None
    assert body["installed"]["currencies"] == len(body["currencies"]) >= 3
    assert body["installed"]["rules"] == len(body["rules"]) > 0
    assert "economy" in body["modules_on"]
    assert api.client.get(f"/api/guilds/{other}/admin/setup", headers=api.auth()).status_code == 403
