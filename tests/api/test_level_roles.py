"""The level roles and template endpoints (issue 16): the settings API changes what is posted (outbox rows),
the level role table is saved whole with row paths on errors, and "sync now" previews then applies."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from synapse.db import lake_store, rules_store
from synapse.db.directory_store import Entry
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message
from synapse.services import directory
from synapse.services.rules_runner import process
from tests.api.conftest import GUILD, NOW, Api

A = f"/api/guilds/{GUILD}/admin"
BRONZE, SILVER, BOT = 601, 602, 690


def _seed(api: Api) -> None:
    with api.engine.begin() as conn:
        rules_store.install_defaults(conn, GUILD)
        roles = [Entry("role", BRONZE, "Bronze", position=1), Entry("role", SILVER, "Silver", position=2),
                 Entry("role", BOT, "Synapse", position=5)]
        directory.store_snapshot(conn, GUILD, directory.Snapshot(roles, None, [BOT]), at=NOW)


def _level_up(api: Api, user: int) -> None:
    events = [message(GUILD, user, i, NOW + timedelta(minutes=2 * i)) for i in range(8)]
    with api.engine.begin() as conn:
        process(conn, lake_store.append(conn, events), rules=RuleCache())


def test_the_level_up_template_set_through_the_api_is_posted(api: Api) -> None:
    """PATCH levelup_template, level a member up: the outbox row carries the new text; a bad placeholder is 422."""
    _seed(api)
    h = api.auth()
    r = api.client.patch(f"{A}/settings", json={"levelup_template": "{member} is now level {level}!"}, headers=h)
    assert r.status_code == 200 and r.json()["levelup_template"] == "{member} is now level {level}!"
    _level_up(api, 9)
    [text] = [row.d for row in api.sql("SELECT payload->'embed'->>'description' AS d FROM outbox "
                                       "WHERE guild_id = :g AND payload->>'reason' = 'level_up'", g=GUILD)]
    assert text == "<@9> is now level 1!"
    r = api.client.patch(f"{A}/settings", json={"levelup_template": "{member} {nope}"}, headers=h)
    assert r.status_code == 422
    assert [d["path"] for d in r.json()["error"]["details"]] == ["levelup_template"]
    assert "{nope}" in r.json()["error"]["details"][0]["message"]


def test_placeholders_are_listed_per_template(api: Api) -> None:
    """The preview's placeholder list: level placeholders for level-ups, milestone ones for milestones."""
    r = api.client.get(f"{A}/settings/placeholders", headers=api.auth())
    assert r.status_code == 200
    names = {k: {p["name"] for p in v} for k, v in r.json().items()}
    assert {"member", "name", "level", "currency"} <= names["levelup_template"]
    assert {"member", "milestone_name", "emoji"} <= names["milestone_template"]
    assert "level" not in names["milestone_template"]


def test_level_roles_table_and_sync(api: Api) -> None:
    """PUT the table (422 with row paths when bad), GET it with role names, preview and apply a sync (409 when
    stale), everything audited; a level-up afterwards adds the role by itself."""
    _seed(api)
    h = api.auth()
    bad = api.client.put(f"{A}/level-roles", headers=h, json={"rows": [
        {"currency": "xp", "level": 1, "role_id": str(BOT)}, {"currency": "gold", "level": 2, "role_id": "602"}]})
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json()["error"]["details"]} == {"rows[0].role_id", "rows[1].currency"}
    api.award(5, 300)                 # level 2 before the table exists
    api.member(5, "Ada", roles=[BRONZE])
    rows = [{"currency": "xp", "level": 1, "role_id": str(BRONZE)},
            {"currency": "xp", "level": 2, "role_id": str(SILVER)}]
    r = api.client.put(f"{A}/level-roles", headers=h, json={"mode": "replace", "rows": rows})
    assert r.status_code == 200, r.text
    body = api.client.get(f"{A}/level-roles", headers=h).json()
    assert body["mode"] == "replace" and "xp" in body["currencies"]
    assert [(x["level"], x["role"]["name"]) for x in body["rows"]] == [(1, "Bronze"), (2, "Silver")]
    preview = api.client.get(f"{A}/level-roles/sync", headers=h).json()
    assert sorted((c["name"], c["role_name"], c["action"]) for c in preview["changes"]) == [
        ("Ada", "Bronze", "remove"), ("Ada", "Silver", "add")]
    assert api.client.post(f"{A}/level-roles/sync", headers=h, json={"token": "old"}).status_code == 409
    done = api.client.post(f"{A}/level-roles/sync", headers=h, json={"token": preview["token"]}).json()
    assert len(done["outbox_ids"]) == 2
    assert api.client.post(f"{A}/level-roles/sync", headers=h, json={"token": preview["token"]}).json()[
        "outbox_ids"] == []
    actions = [row.action for row in api.admin_log()]
    assert actions.count("level_roles.update") == 1 and actions.count("level_roles.sync") == 1
    _level_up(api, 9)
    roles = api.sql("SELECT kind, payload->>'role_id' AS r FROM outbox WHERE guild_id = :g "
                    "AND payload->>'user_id' = '9' AND kind LIKE 'role_%'", g=GUILD)
    assert [(x.kind, x.r) for x in roles] == [("role_add", str(BRONZE))]
    with api.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM level_roles WHERE guild_id = :g"),
                            {"g": GUILD}).scalar_one() == 2
