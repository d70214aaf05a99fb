"""Interop with Discord's signing: Ed25519 over timestamp + body with PyNaCl keys, PING by type alone,
the replay window, and the same verdicts as Discord's reference package (``discord_interactions``)."""

from __future__ import annotations

import json

import pytest
from discord_interactions import InteractionResponseType, InteractionType, verify_key
from nacl.signing import SigningKey

from synapse.interactions import verify
from tests.interactions.conftest import TIMESTAMP, World, sign

PINGS = [
    {"type": 1},                                                  # Discord's minimal endpoint check
    {"type": 1, "version": 1},
    {"type": 1, "id": "not-a-snowflake", "token": ""},           # fields PING does not need, malformed
    {"type": 1, "application_id": None, "user": "nobody", "data": [1, 2]},
]


def _headers(world: World, body: bytes, timestamp: str = TIMESTAMP) -> dict[str, str]:
    return {"X-Signature-Ed25519": sign(world.key, timestamp, body), "X-Signature-Timestamp": timestamp}


@pytest.mark.parametrize("payload", PINGS, ids=lambda p: json.dumps(p))
def test_every_verified_ping_gets_pong(shared_world: World, payload: dict[str, object]) -> None:
    """A verified type 1 gets PONG whatever else the body holds or lacks."""
    body = json.dumps(payload).encode()
    response = shared_world.post_raw(body, _headers(shared_world, body))
    assert response.status_code == 200, response.text
    assert response.json() == {"type": InteractionResponseType.PONG}


def test_an_unverified_minimal_ping_is_refused(shared_world: World) -> None:
    """``{"type": 1}`` signed by another key is 401, never PONG."""
    body = b'{"type":1}'
    headers = {"X-Signature-Ed25519": sign(SigningKey.generate(), TIMESTAMP, body), "X-Signature-Timestamp": TIMESTAMP}
    assert shared_world.post_raw(body, headers).status_code == 401


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_a_stale_or_future_timestamp_is_refused(shared_world: World, skew: int) -> None:
    """A correctly signed request whose timestamp is outside the 5-minute window is a replay: 401."""
    body = b'{"type":1}'
    timestamp = str(int(TIMESTAMP) + skew)
    response = shared_world.post_raw(body, _headers(shared_world, body, timestamp))
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_a_timestamp_inside_the_window_is_accepted(shared_world: World, skew: int) -> None:
    """Clock skew up to 5 minutes either way is tolerated."""
    body = b'{"type":1}'
    response = shared_world.post_raw(body, _headers(shared_world, body, str(int(TIMESTAMP) + skew)))
    assert response.status_code == 200


def test_a_tampered_ping_is_refused(shared_world: World) -> None:
    """One changed byte after signing (a different type) fails the signature: 401, not a dispatch."""
    body = b'{"type":1}'
    headers = _headers(shared_world, body)
    assert shared_world.post_raw(b'{"type":2}', headers).status_code == 401


def test_a_verified_command_is_still_parsed_strictly(shared_world: World) -> None:
    """Only PING is answered on its type: a verified type 2 without id/token/invoker is a 400 naming them."""
    body = b'{"type":2}'
    response = shared_world.post_raw(body, _headers(shared_world, body))
    assert response.status_code == 400
    fields = {d["path"] for d in response.json()["error"]["details"]}
    assert {"id", "token"} <= fields


@pytest.mark.parametrize("tamper", ["none", "body", "timestamp", "key"])
def test_verdicts_match_discords_reference_package(tamper: str) -> None:
    """Our check and ``discord_interactions.verify_key`` agree on signatures made the way Discord makes them."""
    key = SigningKey.generate()
    public = key.verify_key.encode().hex()
    body, timestamp = b'{"type":1}', TIMESTAMP
    signature = key.sign(timestamp.encode() + body).signature.hex()
    if tamper == "body":
        body = b'{"type":1} '
    elif tamper == "timestamp":
        timestamp = str(int(timestamp) + 1)
    elif tamper == "key":
        public = SigningKey.generate().verify_key.encode().hex()
    ours = verify.is_valid(public_key_hex=public, signature_hex=signature, timestamp=timestamp, body=body,
                           now=float(TIMESTAMP))
    assert ours is verify_key(body, signature, timestamp, public)
    assert ours is (tamper == "none")
    assert InteractionType.PING == 1


def test_is_fresh_refuses_what_is_not_unix_seconds() -> None:
    """The timestamp header must be decimal Unix seconds: signs, fractions and words are refused."""
    now = float(TIMESTAMP)
    assert verify.is_fresh(TIMESTAMP, now)
    for bad in ["", "-1", "+1741793400", "1741793400.5", "soon", "١٧٤١٧٩٣٤٠٠", "9" * 40]:
        assert not verify.is_fresh(bad, now), bad
