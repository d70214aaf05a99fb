"""The bare interactions ASGI app (cold-start fast path) behaves exactly like the FastAPI route."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from synapse.interactions.asgi import app
from tests.interactions import payloads as p
from tests.interactions.conftest import TIMESTAMP, World, sign

ADA = p.user(80351110224678912, "ada")
BOB = p.user(175928847299117063, "bob")


def test_bare_app_verifies_parses_and_dispatches(world: World) -> None:
    """Same answers as the FastAPI route: PONG, 401, 400, a command, 405 and 404."""
    client = TestClient(app)

    def post(body: bytes, *, signed: bool = True) -> tuple[int, dict[str, object]]:
        headers = {"X-Signature-Ed25519": sign(world.key, TIMESTAMP, body) if signed else "00" * 64,
                   "X-Signature-Timestamp": TIMESTAMP}
        response = client.post("/api/interactions", content=body, headers=headers)
        return response.status_code, response.json()

    assert post(json.dumps(p.ping()).encode()) == (200, {"type": 1})
    assert post(json.dumps(p.ping()).encode(), signed=False)[0] == 401
    assert post(b"{nope")[0] == 400
    award = p.command("award", p.member(ADA, permissions="8"),
                      [p.user_opt("member", BOB["id"]), p.opt("currency", "xp"), p.opt("amount", 3, 4),
                       p.opt("reason", "r")], resolved_data=p.resolved(BOB))
    status, body = post(json.dumps(award).encode())
    assert status == 200 and body["type"] == 4
    assert world.balance(int(BOB["id"]), "xp") == 3
    assert client.get("/api/interactions").status_code == 405
    assert client.post("/api/elsewhere").status_code == 404
