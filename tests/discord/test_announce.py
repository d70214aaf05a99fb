"""The announce service against real PostgreSQL and the fake Discord: once, and only once."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.discord.embeds import ZWSP
from synapse.services import announce as announce_service
from synapse.services.announce import Announcer, nonce_for
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_time import FakeTime

pytestmark = pytest.mark.integration

GUILD = 789
MESSAGES = "POST /channels/{channel_id}/messages"


def add_row(engine: sa.Engine, kind: str, payload: dict[str, Any], *, guild_id: int = GUILD,
            key: str | None = None) -> int:
    with engine.begin() as conn:
        return int(conn.execute(sa.text("""
            INSERT INTO outbox (guild_id, kind, dedupe_key, payload)
            VALUES (:g, :k, :d, CAST(:p AS jsonb)) RETURNING id"""),
            {"g": guild_id, "k": kind, "d": key or f"test:{uuid.uuid4().hex}", "p": json.dumps(payload)}
        ).scalar_one())


def row(engine: sa.Engine, outbox_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM outbox WHERE id = :id"), {"id": outbox_id}).one()


def set_setting(engine: sa.Engine, key: str, value: Any, *, guild_id: int = GUILD) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO settings (guild_id, key, value) VALUES (:g, :k, CAST(:v AS jsonb))"),
                     {"g": guild_id, "k": key, "v": json.dumps(value)})


def level_up(channel_id: str | None = "500", *, target: str = "channel", user_id: str = "42",
             description: str = "<@42> reached **level 5** in XP!") -> dict[str, Any]:
    return {"target": target, "channel_id": channel_id, "user_id": user_id, "content": "",
            "embed": {"title": "Level 5!", "description": description, "color": 0x5865F2},
            "reason": "level_up"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_announcer(engine: sa.Engine, fake_discord: FakeDiscord, clock: FixedClock, fake_time: FakeTime):
    clients = []

    def build(**options: Any) -> Announcer:
        max_attempts = options.pop("max_attempts", announce_service.MAX_ATTEMPTS)
        http = options.pop("http", None)
        rest = fake_discord.client(sleep=fake_time.sleep, monotonic=fake_time.monotonic, **options)
        clients.append(rest)
        return Announcer(engine, rest, clock=clock, max_attempts=max_attempts, http=http)

    yield build
    for c in clients:
        c.close()


def test_level_up_is_posted_once_with_safe_mentions(engine, fake_discord, make_announcer) -> None:
    """A pending announce row is posted with a nonce, pings only its member, and is marked sent;
    the same id sent again (queue redelivery) posts nothing."""
    outbox_id = add_row(engine, "announce", level_up(), key="announce:1:discord:message_create:1:0")
    announcer = make_announcer()
    report = announcer.send([outbox_id])
    assert report.sent == 1
    assert announcer.send([outbox_id]).skipped == 1
    assert len(fake_discord.messages) == 1
    body = fake_discord.requests_to(MESSAGES)[0].json
    assert body["nonce"] == nonce_for(GUILD, "announce:1:discord:message_create:1:0")
    assert len(body["nonce"]) <= 25 and body["enforce_nonce"] is True
    assert body["allowed_mentions"]["parse"] == [] and body["allowed_mentions"]["users"] == ["42"]
    assert body["embeds"][0]["title"] == "Level 5!"
    stored = row(engine, outbox_id)
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 1, None)
    assert stored.sent_at is not None


def test_lost_response_then_retry_posts_once(engine, fake_discord, make_announcer, clock) -> None:
    """Discord stores the message but the answer is a 500: the row stays pending, and the later
    retry (same nonce, enforce_nonce) gets the existing message back: one message in the channel."""
    outbox_id = add_row(engine, "announce", level_up())
    fake_discord.fail_next(MESSAGES, 500, n=1, after_commit=True)
    announcer = make_announcer(max_retries=0)
    first = announcer.send([outbox_id])
    assert first.retry == 1
    pending = row(engine, outbox_id)
    assert pending.status == "pending" and pending.attempts == 1 and "500" in pending.last_error
    assert pending.next_attempt_at > clock.now()
    assert announcer.sweep().sent == 0  # not due yet
    clock.advance(minutes=5)
    assert announcer.sweep().sent == 1
    assert len(fake_discord.messages) == 1
    nonces = {r.json["nonce"] for r in fake_discord.requests_to(MESSAGES)}
    assert len(fake_discord.requests_to(MESSAGES)) == 2 and len(nonces) == 1
    assert row(engine, outbox_id).status == "sent"


def test_inline_5xx_retry_with_lost_response_posts_once(engine, fake_discord, make_announcer, fake_time) -> None:
    """With the client's own 5xx retries, a lost answer is healed within one send, still one message."""
    outbox_id = add_row(engine, "announce", level_up())
    fake_discord.fail_next(MESSAGES, 500, n=1, after_commit=True)
    assert make_announcer().send([outbox_id]).sent == 1
    assert len(fake_discord.messages) == 1
    assert fake_time.sleeps == [0.5]


def test_429_leaves_row_pending_until_retry_after(engine, fake_discord, make_announcer, clock) -> None:
    """A long 429 is not waited out in the worker: the row gets next_attempt_at = now + retry_after."""
    outbox_id = add_row(engine, "announce", level_up())
    fake_discord.fail_next(MESSAGES, 429, n=1, retry_after=40.0)
    announcer = make_announcer()
    assert announcer.send([outbox_id]).retry == 1
    pending = row(engine, outbox_id)
    assert pending.status == "pending" and "429" in pending.last_error
    assert 40 <= (pending.next_attempt_at - clock.now()).total_seconds() <= 41
    clock.advance(seconds=20)
    assert announcer.sweep().sent == 0
    clock.advance(seconds=21)
    announcer.rest._now = lambda: 10_000.0  # the client's own bucket memory has expired too
    assert announcer.sweep().sent == 1
    assert len(fake_discord.messages) == 1


def test_short_429_is_waited_out_within_the_send(engine, fake_discord, make_announcer, fake_time) -> None:
    """A 429 of 2 s is honoured in place (the injected sleeper records 2 s) and the row is sent."""
    outbox_id = add_row(engine, "announce", level_up())
    fake_discord.fail_next(MESSAGES, 429, n=1, retry_after=2.0)
    assert make_announcer().send([outbox_id]).sent == 1
    assert fake_time.sleeps == [2.0]


@pytest.mark.parametrize(("status", "code"), [(403, 50013), (404, 10003), (403, 50001)])
def test_permanent_failure_is_recorded_and_not_retried(engine, fake_discord, make_announcer, clock,
                                                      status, code) -> None:
    """Missing permissions or an unknown channel marks the row failed with Discord's code; sweeps skip it."""
    outbox_id = add_row(engine, "announce", level_up("666"))
    fake_discord.channel_error("666", status, code)
    announcer = make_announcer()
    assert announcer.send([outbox_id]).failed == 1
    failed = row(engine, outbox_id)
    assert failed.status == "failed" and str(code) in failed.last_error and failed.next_attempt_at is None
    clock.advance(hours=2)
    announcer.sweep()
    assert len(fake_discord.requests) == 1


def test_repeated_5xx_gives_up_after_max_attempts(engine, fake_discord, make_announcer, clock) -> None:
    """Discord down for good: each attempt backs off further; after max_attempts the row is failed."""
    outbox_id = add_row(engine, "announce", level_up())
    fake_discord.fail_next(MESSAGES, 503, n=100)
    announcer = make_announcer(max_retries=0, max_attempts=3)
    announcer.send([outbox_id])
    waits = []
    for _ in range(2):
        pending = row(engine, outbox_id)
        waits.append((pending.next_attempt_at - clock.now()).total_seconds())
        clock.current = pending.next_attempt_at
        announcer.sweep()
    assert waits[1] > waits[0]
    final = row(engine, outbox_id)
    assert final.status == "failed" and final.attempts == 3 and "gave up" in final.last_error


def test_without_credentials_rows_stay_pending_and_it_is_logged_once(engine, clock, caplog, monkeypatch) -> None:
    """No DISCORD_BOT_TOKEN: nothing is sent, nothing is marked, one warning for the process."""
    monkeypatch.setattr(announce_service, "_no_credentials_logged", False)
    ids = [add_row(engine, "announce", level_up()), add_row(engine, "role_add",
                                                           {"user_id": "42", "role_id": "9", "reason": "x"})]
    announcer = Announcer(engine, None, clock=clock)
    with caplog.at_level(logging.WARNING, logger="synapse.services.announce"):
        assert announcer.send(ids).waiting == 2
        assert announcer.send(ids).waiting == 2
    assert len([r for r in caplog.records if "credentials" in r.getMessage()]) == 1
    for outbox_id in ids:
        untouched = row(engine, outbox_id)
        assert (untouched.status, untouched.attempts, untouched.next_attempt_at) == ("pending", 0, None)


def test_rows_left_pending_without_credentials_go_out_once_credentials_exist(
        engine, fake_discord, make_announcer, clock) -> None:
    """The sweep sends rows older than a minute that no queue message will name again."""
    outbox_id = add_row(engine, "announce", level_up())
    Announcer(engine, None, clock=clock).send([outbox_id])
    clock.advance(minutes=2)
    assert make_announcer().sweep().sent == 1
    assert row(engine, outbox_id).status == "sent"


def test_role_add_and_remove(engine, fake_discord, make_announcer) -> None:
    """role_add / role_remove rows change the member's roles with the reason in the audit log header."""
    add_id = add_row(engine, "role_add", {"user_id": "42", "role_id": "900", "reason": "level 10"})
    announcer = make_announcer()
    assert announcer.send([add_id]).sent == 1
    assert fake_discord.member_roles[(str(GUILD), "42")] == {"900"}
    remove_id = add_row(engine, "role_remove", {"user_id": "42", "role_id": "900", "reason": "level 20"})
    assert announcer.send([remove_id]).sent == 1
    assert fake_discord.member_roles[(str(GUILD), "42")] == set()
    assert [c["reason"] for c in fake_discord.role_changes] == ["level 10", "level 20"]


def test_role_change_forbidden_is_failed(engine, fake_discord, make_announcer) -> None:
    """The bot's role below the target role (50013): failed, recorded."""
    fake_discord.guild_error(GUILD, 403, 50013)
    outbox_id = add_row(engine, "role_add", {"user_id": "42", "role_id": "900", "reason": ""})
    assert make_announcer().send([outbox_id]).failed == 1
    assert "50013" in row(engine, outbox_id).last_error


def test_dm_kind_and_dm_target(engine, fake_discord, make_announcer) -> None:
    """dm rows and announce rows targeted at dm open the member's DM channel and post there."""
    a = add_row(engine, "dm", {"user_id": "42", "embeds": [{"title": "You earned a badge"}]})
    b = add_row(engine, "announce", level_up(None, target="dm"))
    assert make_announcer().send([a, b]).sent == 2
    dm_channel = fake_discord.dm_channels["42"]["id"]
    assert [m["channel_id"] for m in fake_discord.messages] == [dm_channel, dm_channel]


def test_closed_dms_fail_the_row(engine, fake_discord, make_announcer) -> None:
    """A member who refuses DMs (50007) gets a failed row, not endless retries."""
    fake_discord.close_dms("42")
    outbox_id = add_row(engine, "dm", {"user_id": "42", "embeds": [{"title": "hi"}]})
    assert make_announcer().send([outbox_id]).failed == 1
    assert "50007" in row(engine, outbox_id).last_error


def test_announcements_target_resolves_from_guild_settings(engine, fake_discord, make_announcer) -> None:
    """target announcements with no channel goes to announcements_channel_id; unset → failed, saying which."""
    missing = add_row(engine, "announce", level_up(None, target="announcements"))
    announcer = make_announcer()
    assert announcer.send([missing]).failed == 1
    assert "announcements_channel_id" in row(engine, missing).last_error
    set_setting(engine, "announcements_channel_id", "321")
    ok = add_row(engine, "announce", level_up(None, target="announcements"))
    assert announcer.send([ok]).sent == 1
    assert fake_discord.messages[0]["channel_id"] == "321"


def test_message_kind_cannot_widen_mentions(engine, fake_discord, make_announcer) -> None:
    """A message row asking to parse everyone/roles still pings only its member; @everyone is defused."""
    outbox_id = add_row(engine, "message", {
        "channel_id": "500", "user_id": "42", "content": "@everyone <@&77> <@42> <@43>",
        "embeds": [{"title": "@here party", "description": "x" * 5000}],
        "allowed_mentions": {"parse": ["everyone", "roles", "users"]}})
    assert make_announcer().send([outbox_id]).sent == 1
    message = fake_discord.messages[0]
    assert message["mention_everyone"] is False
    assert message["mentions"] == [{"id": "42"}]
    assert message["content"].startswith(f"@{ZWSP}everyone")
    assert len(message["embeds"][0]["description"]) == 4096
    assert message["embeds"][0]["title"] == f"@{ZWSP}here party"


def test_bad_payload_is_failed_not_retried(engine, fake_discord, make_announcer) -> None:
    """A row that can never be sent (no user_id on a role change, unknown kind) is failed with the reason."""
    a = add_row(engine, "role_add", {"role_id": "9"})
    b = add_row(engine, "carrier_pigeon", {})
    report = make_announcer().send([a, b])
    assert report.failed == 2
    assert "user_id" in row(engine, a).last_error and "carrier_pigeon" in row(engine, b).last_error
    assert fake_discord.requests == []


def test_concurrent_workers_post_each_row_once(engine, fake_discord, make_announcer) -> None:
    """Four workers handed the same ids at once: row locks (SKIP LOCKED) and status make one post per row."""
    ids = [add_row(engine, "announce", level_up(str(600 + i))) for i in range(12)]
    announcers = [make_announcer() for _ in range(4)]
    reports = []
    barrier = threading.Barrier(4)

    def work(a: Announcer) -> None:
        barrier.wait()
        reports.append(a.send(list(reversed(ids)) if len(reports) % 2 else ids))

    threads = [threading.Thread(target=work, args=(a,)) for a in announcers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in reports) == 12
    assert sorted(m["channel_id"] for m in fake_discord.messages) == [str(600 + i) for i in range(12)]


def test_guild_scoped_message_only_touches_that_guild(engine, fake_discord, make_announcer) -> None:
    """A {"guild_id", "ids"} message does not send another guild's row."""
    other = add_row(engine, "announce", level_up(), guild_id=111)
    assert make_announcer().send([other], guild_id=GUILD).skipped == 1
    assert row(engine, other).status == "pending"


def test_outbound_webhook_is_signed(engine, make_announcer, clock) -> None:
    """webhook rows POST the body to the registered URL with an HMAC-SHA256 signature over timestamp.body."""
    with engine.begin() as conn:
        webhook_id = conn.execute(sa.text("""
            INSERT INTO webhooks (guild_id, url, secret, events) VALUES (:g, 'https://hooks.example/x', 's3cret',
            ARRAY['level_up']) RETURNING webhook_id"""), {"g": GUILD}).scalar_one()
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if len(seen) > 1 else 503)

    http = httpx.Client(transport=httpx.MockTransport(receiver))
    outbox_id = add_row(engine, "webhook", {"webhook_id": webhook_id, "event": "level_up", "body": {"level": 5}})
    announcer = make_announcer(http=http)
    assert announcer.send([outbox_id]).retry == 1
    clock.advance(hours=1)
    assert announcer.sweep().sent == 1
    request = seen[-1]
    body = request.content.decode()
    expected = hmac.new(b"s3cret", f"{request.headers['X-Synapse-Timestamp']}.{body}".encode(),
                        hashlib.sha256).hexdigest()
    assert request.headers["X-Synapse-Signature"] == f"sha256={expected}"
    assert json.loads(body)["data"] == {"level": 5}
