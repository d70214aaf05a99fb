"""Deferred work: /privacy export and erase, queued on Azurite, finished against the fake Discord server."""

from __future__ import annotations

import json

import pytest

from functions.followups import handle
from synapse.db.ledger_store import verify
from synapse.errors import EnvelopeError
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, World, take_jobs

EVE = p.user(53908232506183680, "eve")
BOB = p.user(175928847299117063, "bob")
PLAIN = p.member(EVE)


def _seed(world: World) -> None:
    world.seed_member(int(EVE["id"]), "eve", xp=250, stars=3)
    world.seed_member(int(BOB["id"]), "bob", xp=100)
    for i, uid in enumerate((EVE["id"], BOB["id"])):
        world.sql("""INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id,
                                             channel_id, occurred_at, payload)
                     VALUES (:g, 'discord', :k, 'message_create', :u, 1, now(), '{"length": 12}')""",
                  g=GUILD, k=f"message_create:{i}", u=int(uid))


def test_export_defers_then_edits_the_original_with_a_json_file(queued_world: World) -> None:
    """/privacy export → ephemeral deferred (type 5, flags 64); the job PATCHes @original with the file."""
    w = queued_world
    _seed(w)
    payload = p.command("privacy", PLAIN, [p.sub("export")])
    assert w.ok(payload) == {"type": 5, "data": {"flags": 64}}
    jobs = take_jobs(w)
    assert len(jobs) == 1 and json.loads(jobs[0])["kind"] == "privacy_export"
    assert w.fake is not None
    assert handle(jobs[0], rest=w.fake.client()) == "done"
    [upload] = w.fake.uploads
    assert upload["field"] == "files[0]" and upload["path"].endswith(f"/{payload['token']}/messages/@original")
    data = json.loads(upload["content"])
    assert data["user_id"] == EVE["id"] and {x["currency_key"]: x["balance"] for x in data["wallets"]} == {
        "xp": 250, "stars": 3}
    assert len(data["events"]) == 1 and data["events"][0]["event_type"] == "message_create"
    original = w.fake.interaction_responses[payload["token"]]
    assert "everything Synapse stores" in original["content"]
    assert [a["filename"] for a in original["attachments"]] == [upload["filename"]]
    assert upload["content_type"] == "application/json" and upload["filename"].endswith(".json")


def test_erase_asks_for_confirmation_and_only_the_asker_can_confirm(queued_world: World) -> None:
    """/privacy erase shows Erase/Cancel buttons; someone else's click is refused; Cancel erases nothing."""
    w = queued_world
    _seed(w)
    response = w.ok(p.command("privacy", PLAIN, [p.sub("erase")]))
    assert response["type"] == 4 and response["data"]["flags"] == 64
    erase, cancel = response["data"]["components"][0]["components"]
    assert erase["custom_id"] == f"privacy:erase:{EVE['id']}" and erase["style"] == 4
    intruder = w.ok(p.component(erase["custom_id"], p.member(BOB)))
    assert intruder["data"]["flags"] == 64 and "someone else" in intruder["data"]["content"]
    cancelled = w.ok(p.component(cancel["custom_id"], PLAIN))
    assert cancelled == {"type": 7, "data": {"content": "Nothing was erased.", "allowed_mentions": {"parse": []},
                                             "embeds": [], "components": []}}
    assert take_jobs(w) == []
    assert w.balance(int(EVE["id"]), "xp") == 250


def test_confirmed_erase_deletes_events_ledger_and_profile_in_one_transaction(queued_world: World) -> None:
    """Confirm → DEFERRED_UPDATE_MESSAGE; the job erases Eve's rows (not Bob's), ledger invariant intact."""
    w = queued_world
    _seed(w)
    click = p.component(f"privacy:erase:{EVE['id']}", PLAIN)
    assert w.ok(click) == {"type": 6}
    [job] = take_jobs(w)
    assert w.fake is not None
    assert handle(job, rest=w.fake.client()) == "done"
    eve, bob = int(EVE["id"]), int(BOB["id"])
    for table in ("wallets", "transactions", "event_lake", "member_event_totals", "member_cache"):
        assert w.scalar(f"SELECT count(*) FROM {table} WHERE user_id = :u", u=eve) == 0, table
        assert w.scalar(f"SELECT count(*) FROM {table} WHERE user_id = :u", u=bob) > 0, table
    with w.engine.begin() as conn:
        assert verify(conn, GUILD) == []
    log = w.sql("SELECT actor_id, entity_id, before FROM admin_log WHERE action = 'member.erase'")
    assert len(log) == 1 and log[0].actor_id == eve and log[0].before["rows"]["transactions"] == 2
    original = w.fake.interaction_responses[click["token"]]
    assert original["content"].startswith("Your data in this server was erased") and original["components"] == []
    # the append-only guard is back on outside erasure
    with pytest.raises(Exception, match="append-only"), w.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM transactions WHERE user_id = {bob}")


def _export_job(w: World) -> bytes:
    """/privacy export asked, and the one follow-up job it queued taken off the queue."""
    w.ok(p.command("privacy", PLAIN, [p.sub("export")]))
    [job] = take_jobs(w)
    return job


def test_job_older_than_the_token_is_dropped(queued_world: World) -> None:
    """A job past the 15-minute token lifetime does nothing and calls Discord not at all."""
    w = queued_world
    job = _export_job(w)
    w.clock.advance(minutes=15)
    assert w.fake is not None
    assert handle(job, rest=w.fake.client()) == "expired"
    assert w.fake.requests == [] and w.fake.uploads == []


def test_discord_failure_raises_so_the_queue_retries(queued_world: World) -> None:
    """A 5xx from Discord on the edit raises (the message is retried); a later try succeeds."""
    w = queued_world
    _seed(w)
    click = p.component(f"privacy:erase:{EVE['id']}", PLAIN)
    w.ok(click)
    [job] = take_jobs(w)
    assert w.fake is not None
    w.fake.fail_next("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original", 404, code=10015)
    with pytest.raises(Exception, match="404"):
        handle(job, rest=w.fake.client())
    w.clock.advance(minutes=1)
    assert handle(job, rest=w.fake.client()) == "done"
    assert "erased" in w.fake.interaction_responses[click["token"]]["content"]


def test_malformed_job_is_rejected() -> None:
    with pytest.raises(EnvelopeError):
        handle(b'{"v": 1, "kind": "launch_rockets"}')


def test_deadline_is_measured_from_the_interaction(queued_world: World) -> None:
    """14 minutes after the command the job still runs."""
    w = queued_world
    job = _export_job(w)
    w.clock.advance(minutes=14)
    assert w.fake is not None
    assert handle(job, rest=w.fake.client()) == "done"
