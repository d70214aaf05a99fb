"""The endpoint's front door: Ed25519 on every request (401), malformed bodies (400), never a 500."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey

from tests.interactions import payloads as p
from tests.interactions.conftest import TIMESTAMP, World, sign

ADA = p.user(80351110224678912, "ada")


def test_ping_signed_gets_pong(shared_world: World) -> None:
    """A signed PING is answered with PONG (type 1)."""
    response = shared_world.send(p.ping())
    assert response.status_code == 200
    assert response.json() == {"type": 1}


def _body() -> bytes:
    return json.dumps(p.ping()).encode()


@pytest.mark.parametrize("case", ["no headers", "no signature", "no timestamp", "other key", "bad hex",
                                  "short signature", "tampered body", "other timestamp", "empty signature"])
def test_bad_signatures_get_401(shared_world: World, case: str) -> None:
    """Every missing, malformed or wrong signature is refused with 401, PING included."""
    body = _body()
    good = sign(shared_world.key, TIMESTAMP, body)
    headers = {"X-Signature-Ed25519": good, "X-Signature-Timestamp": TIMESTAMP}
    if case == "no headers":
        headers = {}
    elif case == "no signature":
        del headers["X-Signature-Ed25519"]
    elif case == "no timestamp":
        del headers["X-Signature-Timestamp"]
    elif case == "other key":
        headers["X-Signature-Ed25519"] = sign(SigningKey.generate(), TIMESTAMP, body)
    elif case == "bad hex":
        headers["X-Signature-Ed25519"] = "zz" + good[2:]
    elif case == "short signature":
        headers["X-Signature-Ed25519"] = good[:64]
    elif case == "tampered body":
        body = body.replace(b'"type": 1', b'"type": 2')
    elif case == "other timestamp":
        headers["X-Signature-Timestamp"] = str(int(TIMESTAMP) + 1)
    elif case == "empty signature":
        headers["X-Signature-Ed25519"] = ""
    response = shared_world.post_raw(body, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_tampered_command_is_refused_before_it_runs(shared_world: World) -> None:
    """A signed /award whose amount was changed in flight is refused and credits nothing."""
    admin = p.member(ADA, permissions="8")
    target = p.user(175928847299117063, "bob")
    body = json.dumps(p.command("award", admin, [p.user_opt("member", target["id"]), p.opt("currency", "xp"),
                                                 p.opt("amount", 5, 4), p.opt("reason", "r")],
                                resolved_data=p.resolved(target))).encode()
    signature = sign(shared_world.key, TIMESTAMP, body)
    forged = body.replace(b'"value": 5', b'"value": 5000')
    response = shared_world.post_raw(forged, {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": TIMESTAMP})
    assert response.status_code == 401
    assert shared_world.scalar("SELECT count(*) FROM transactions") == 0


MALFORMED: dict[str, bytes] = {
    "not json": b"{not json",
    "not utf-8": b"\xff\xfe\x00",
    "empty": b"",
    "a list": b"[1, 2]",
    "a string": b'"hello"',
    "no type": json.dumps({"id": "1", "application_id": "2", "token": "t", "version": 1}).encode(),
    "unknown type": json.dumps({**p.ping(), "type": 99}).encode(),
    "type as string": json.dumps({**p.ping(), "type": "1"}).encode(),
    # (a PING with a bad id is still PONG: only what is dispatched is parsed strictly)
    "bad snowflake": json.dumps({**p.command("profile", p.member(ADA)), "id": "12ab"}).encode(),
    "command without member or user": json.dumps(
        {k: v for k, v in p.command("profile", p.member(ADA)).items() if k != "member"}).encode(),
    "command without name": json.dumps({**p.command("profile", p.member(ADA)), "data": {"type": 1}}).encode(),
    "member.user missing": json.dumps({**p.command("profile", p.member(ADA)), "member": {"roles": []}}).encode(),
    "options not a list": json.dumps(
        {**p.command("profile", p.member(ADA)), "data": {"name": "profile", "options": {"a": 1}}}).encode(),
    "component without custom_id": json.dumps(
        {**p.component("lb:1:xp::0", p.member(ADA)), "data": {"component_type": 2}}).encode(),
    "data not an object": json.dumps({**p.command("profile", p.member(ADA)), "data": [1]}).encode(),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_signed_bodies_get_400(shared_world: World, case: str) -> None:
    """Correctly signed garbage is a 400 with the problems listed, never a 500."""
    body = MALFORMED[case]
    response = shared_world.post_raw(body, {"X-Signature-Ed25519": sign(shared_world.key, TIMESTAMP, body),
                                     "X-Signature-Timestamp": TIMESTAMP})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


def test_wrong_method_is_not_a_500(shared_world: World) -> None:
    """GET on the endpoint is a 405, not a crash."""
    assert shared_world.client.get("/api/interactions").status_code == 405
