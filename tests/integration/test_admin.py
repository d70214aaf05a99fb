"""Admin changes and their audit rows commit together, or not at all."""

import pytest
import sqlalchemy as sa

from synapse.admin import currencies, modules, settings
from synapse.admin.audit import Actor
from synapse.errors import Conflict, ValidationFailed
from synapse.services.guild_init import init_guild

ADMIN = Actor.user(555, request_id="req-1")


def _audit(engine: sa.Engine) -> list[tuple[str, str, object, object]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT action, entity_id, before, after FROM admin_log WHERE actor_id = 555 ORDER BY id"))]


def test_module_toggle_is_audited(engine: sa.Engine) -> None:
    """Turning seasons on writes the change and an admin_log row with before/after."""
    with engine.begin() as conn:
        init_guild(conn, 1)
        modules.set_module(conn, 1, "seasons", True, actor=ADMIN)
        assert modules.enabled_modules(conn, 1)["seasons"] is True
    assert _audit(engine) == [("module.set", "seasons", {"enabled": False}, {"enabled": True})]


def test_failed_change_leaves_neither_change_nor_audit(engine: sa.Engine) -> None:
    """If the transaction fails after the audited change, both roll back."""
    with engine.begin() as conn:
        init_guild(conn, 1)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        modules.set_module(conn, 1, "seasons", True, actor=ADMIN)
        raise RuntimeError("crash after the change, before commit")
    with engine.connect() as conn:
        assert modules.enabled_modules(conn, 1)["seasons"] is False
    assert _audit(engine) == []


def test_settings_validation_names_every_bad_field(engine: sa.Engine) -> None:
    """Bad settings are refused with every field named; good ones are stored and audited."""
    with engine.begin() as conn:
        init_guild(conn, 1)
        with pytest.raises(ValidationFailed) as info:
            settings.update(conn, 1, {"timezone": "Mars/Olympus", "levelup_mode": "shout"}, actor=ADMIN)
        assert {d["path"] for d in info.value.details()} == {"timezone", "levelup_mode"}
        with pytest.raises(ValidationFailed):
            settings.update(conn, 1, {"no_such_setting": 1}, actor=ADMIN)
        settings.update(conn, 1, {"timezone": "Europe/Paris"}, actor=ADMIN)
        assert settings.load(conn, 1).timezone == "Europe/Paris"
    assert _audit(engine) == [("settings.update", "timezone", {"timezone": "UTC"}, {"timezone": "Europe/Paris"})]


def test_currency_create_update(engine: sa.Engine) -> None:
    """Currencies are created and updated with audit rows; duplicates and bad keys are refused."""
    with engine.begin() as conn:
        init_guild(conn, 1)
        currencies.create(conn, 1, {"key": "rep", "name": "Reputation", "allow_negative": True}, actor=ADMIN)
        with pytest.raises(Conflict):
            currencies.create(conn, 1, {"key": "rep", "name": "Again"}, actor=ADMIN)
        with pytest.raises(ValidationFailed) as info:
            currencies.create(conn, 1, {"key": "Bad Key", "name": ""}, actor=ADMIN)
        assert {d["path"] for d in info.value.details()} == {"key", "name"}
        currencies.update(conn, 1, "rep", {"name": "Rep"}, actor=ADMIN)
        assert [c.key for c in currencies.list_all(conn, 1)] == ["xp", "stars", "gold", "rep"]
    assert [a[0] for a in _audit(engine)] == ["currency.create", "currency.update"]


def test_guild_init_is_idempotent(engine: sa.Engine) -> None:
    """A second init installs nothing and writes no audit row."""
    with engine.begin() as conn:
        first = init_guild(conn, 9)
        second = init_guild(conn, 9)
        assert first.installed["currencies"] == 3 and first.created_guild
        assert not second.changed
        assert conn.execute(sa.text("SELECT count(*) FROM admin_log WHERE action = 'guild.init'")).scalar_one() == 1
        assert {c.key for c in currencies.list_all(conn, 9)} == {"xp", "stars", "gold"}
        assert modules.enabled_modules(conn, 9) == modules.DEFAULTS
