"""Hostile input in every free-text field: stored verbatim, rendered inertly (issue 10).

Member names (from the relay's envelopes), award reasons, milestone names and descriptions, rule
names and announcement templates/titles carry SQL, markdown mass mentions, role mentions and HTML.
They go through the real paths (dashboard API, queue → ingest → rules → outbox → announce → fake
Discord) and then:

- the database holds them byte for byte, and no statement ran from them (the tables are intact);
- the API returns them as JSON strings, byte for byte;
- every Discord payload has ``allowed_mentions`` that parse nothing and list no roles, and its text
  has ``@everyone``/``@here``/``<@&role>`` broken, so nobody but the member is pinged;
- the dashboard renders them with Svelte text interpolation only (no ``{@html}`` anywhere).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from synapse.config import PROJECT_ROOT
from synapse.eventlake.envelope import encode_envelope
from tests.hardening import checks
from tests.hardening.stack import E2E, GUILD, T0, make_e2e
from tests.support.fake_discord import FakeDiscord, _mentions

pytestmark = [pytest.mark.integration, pytest.mark.hostile]

SQL = "'); DROP TABLE transactions; --"
MASS = "@everyone @here <@&1234567890> ||@everyone||"
HTML = "<img src=x onerror=alert(1)><script>alert(2)</script>"
EVIL_MEMBER = f"@everyone {HTML} {SQL}"[:100]
EVIL_REASON = f"{MASS} {SQL}"
EVIL_MILESTONE = f"{MASS} {HTML}"[:100]
EVIL_DESCRIPTION = f"{SQL} {HTML} **{MASS}**"
EVIL_RULE = f"{SQL} {HTML}"[:100]
EVIL_TITLE = f"{MASS} {{user}}"
EVIL_TEMPLATE = f"{MASS} {{mention}} {{user}} reached {{milestone_name}} {SQL} {HTML} @\u200beveryone"
MEMBER = 555_000_000_000_000_001
CHANNEL = "1100000000000000456"
SECRET = "hardening-secret-" + "y" * 32


@pytest.fixture
def world(db_url: str, engine: sa.Engine, azurite: Any, queue_name: str,
          fake_discord: FakeDiscord) -> Iterator[tuple[E2E, TestClient]]:
    from synapse.api.app import create_app

    stack = make_e2e(db_url, engine, azurite.connection_string, queue_name, fake_discord,
                     SYNAPSE_TEST_LOGIN="true", SYNAPSE_JWT_SECRET=SECRET)
    try:
        yield stack, TestClient(create_app(), raise_server_exceptions=False)
    finally:
        stack.close()


def message(n: int, *, name: str = EVIL_MEMBER) -> dict[str, Any]:
    at = T0 + timedelta(minutes=5 * n)
    return {"source_system": "discord", "source_event_id": f"message_create:{10**17 + n}",
            "event_type": "message_create", "guild_id": str(GUILD), "user_id": str(MEMBER), "channel_id": CHANNEL,
            "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "payload": {"length": 300, "words": 50, "has_code_block": False, "code_block_lines": 0, "links": 0,
                        "attachments": 0, "mentions": 0, "is_reply": False, "fingerprint": f"f{n}"},
            "actor": {"name": name, "avatar": None, "bot": False, "roles": []}}


def texts_of(message: dict[str, Any]) -> list[str]:
    out = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        out += [str(embed.get(k) or "") for k in ("title", "description")]
        out += [str((embed.get(k) or {}).get(n) or "") for k, n in (("footer", "text"), ("author", "name"))]
        out += [str(f.get(k) or "") for f in embed.get("fields") or [] for k in ("name", "value")]
    return out


def test_free_text_is_stored_verbatim_and_rendered_inertly(world: tuple[E2E, TestClient]) -> None:
    """Injection attempts in names, reasons, milestones, rules and templates: verbatim in the database
    and the API, no SQL effect, no mass or role mention reaching Discord."""
    stack, api = world
    token = api.post("/api/auth/test-login", json={"user_id": "42", "guilds": [str(GUILD)]}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    admin = f"/api/guilds/{GUILD}/admin"
    r = api.post(f"{admin}/milestones", headers=auth, json={
        "key": "evil", "name": EVIL_MILESTONE, "description": EVIL_DESCRIPTION, "emoji": "",
        "criteria": {"type": "event_count", "event": "message_create", "at_least": 2}})
    assert r.status_code == 201, r.text
    r = api.post(f"{admin}/rules", headers=auth, json={
        "name": EVIL_RULE, "description": EVIL_DESCRIPTION, "trigger": {"event": "message_create"},
        "effects": [{"type": "credit", "currency": "xp", "amount": 7}, {"type": "check_milestones"},
                    {"type": "announce", "target": "announcements", "title": EVIL_TITLE,
                     "template": EVIL_TEMPLATE, "reason": "custom"}]})
    assert r.status_code == 201, r.text
    r = api.post(f"{admin}/awards", headers=auth, json={"user_id": str(MEMBER), "currency": "xp", "amount": 5,
                                                      "reason": EVIL_REASON, "request_id": "evil-1"})
    assert r.status_code == 200, r.text

    stack.send([encode_envelope([message(n)]) for n in range(3)])
    stack.worker("ingest", workers=2).drain(timeout=120)
    stack.worker("announce").drain(timeout=120)
    stack.sweep_until_sent(pause=0)

    # Stored verbatim; nothing executed.
    def one(sql: str, **params: Any) -> Any:
        with stack.engine.connect() as conn:
            return conn.execute(sa.text(sql), {"g": GUILD, **params}).scalar_one()

    assert one("SELECT name FROM milestones WHERE guild_id = :g AND key = 'evil'") == EVIL_MILESTONE
    assert one("SELECT description FROM milestones WHERE guild_id = :g AND key = 'evil'") == EVIL_DESCRIPTION
    assert one("SELECT count(*) FROM rules WHERE guild_id = :g AND name = :n", n=EVIL_RULE) == 1
    assert one("SELECT reason FROM transactions WHERE guild_id = :g AND kind = 'admin_award'") == EVIL_REASON
    assert one("SELECT display_name FROM member_cache WHERE guild_id = :g AND user_id = :u", u=MEMBER) == EVIL_MEMBER
    assert one("SELECT to_regclass('public.transactions') IS NOT NULL")
    assert one("SELECT count(*) FROM transactions WHERE guild_id = :g AND user_id = :u", u=MEMBER) >= 4
    assert one("SELECT count(*) FROM user_milestones um JOIN milestones m USING (guild_id, milestone_id) "
               "WHERE um.guild_id = :g AND m.key = 'evil'") == 1

    # The API hands them back as JSON strings, byte for byte.
    gallery = api.get(f"/api/guilds/{GUILD}/milestones")
    assert gallery.headers["content-type"].startswith("application/json")
    assert any(m.get("name") == EVIL_MILESTONE for m in gallery.json()), gallery.text[:300]
    board = api.get(f"/api/guilds/{GUILD}/leaderboard/xp").json()
    assert EVIL_MEMBER in [e["display_name"] for e in board["items"]], board
    rules = api.get(f"{admin}/rules", headers=auth).json()
    assert EVIL_RULE in json.dumps(rules, ensure_ascii=False)

    # Discord: only the member can be pinged; mass and role mentions are broken in every text.
    messages = list(stack.fake.messages)
    assert messages, "announcements were posted"
    assert any("DROP TABLE" in t for m in messages for t in texts_of(m)), "the hostile template reached Discord"
    for m in messages:
        allowed = m.get("allowed_mentions")
        if not m.get("content"):  # embeds never ping; without content Discord needs no allowed_mentions
            allowed = allowed or {"parse": []}
        assert isinstance(allowed, dict), m
        assert "everyone" not in allowed.get("parse", []) and "roles" not in allowed.get("parse", [])
        assert not allowed.get("roles") and set(allowed.get("users", [])) <= {str(MEMBER)}, allowed
        for text in texts_of(m):
            users, everyone = _mentions(text, allowed)
            assert not everyone and set(users) <= {str(MEMBER)}, (text, allowed)
            assert not re.search(r"@(everyone|here)", text), f"mass mention left intact: {text!r}"
            assert not re.search(r"<@&\d+>", text), f"role mention left intact: {text!r}"
    checks.assert_posted_once(stack.fake)
    checks.assert_ledger_verified(stack.engine)


def test_the_dashboard_never_renders_raw_html() -> None:
    """Svelte escapes ``{text}`` interpolation; ``{@html}``, ``innerHTML`` and friends would not."""
    src = PROJECT_ROOT / "dashboard" / "src"
    files = [p for p in src.rglob("*") if p.suffix in {".svelte", ".ts", ".js"}]
    assert files, "the dashboard sources are there"
    raw = re.compile(r"\{@html|innerHTML|outerHTML|insertAdjacentHTML|document\.write")
    offenders = [f"{p.relative_to(PROJECT_ROOT)}:{i}" for p in files
                 for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if raw.search(line)]
    assert not offenders, f"raw HTML rendering in the dashboard: {offenders}"
