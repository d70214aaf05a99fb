"""The Entra ID password provider, against a fake managed-identity token endpoint.

The fake speaks the App Service / Functions / Container Apps protocol that msal
uses when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set
(``msal.managed_identity._obtain_token_on_app_service``): a GET with
``api-version=2019-08-01``, ``resource`` and ``client_id``, the secret in
``X-IDENTITY-HEADER``, and a JSON answer with ``access_token`` and ``expires_on``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.exc import OperationalError

from synapse.config import Settings
from synapse.db.engine import make_engine
from synapse.db.entra import (
    OSSRDBMS_SCOPE,
    EntraTokenProvider,
    scope_to_resource,
    token_provider,
)
from synapse.errors import StorageError

IDENTITY_HEADER = "fake-identity-header-secret"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
RESOURCE = "https://ossrdbms-aad.database.windows.net"


@dataclass
class FakeIdentityEndpoint:
    url: str = ""
    lifetime: int = 3600
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdentityEndpoint]:
    state = FakeIdentityEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            state.requests.append({"query": query, "header": self.headers.get("X-IDENTITY-HEADER")})
            if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                self._reply(401, {"statusCode": 401, "message": "bad identity header"})
                return
            if query.get("resource") != RESOURCE:
                self._reply(400, {"statusCode": 400, "message": "unknown resource"})
                return
            n = len(state.requests)
            self._reply(200, {"access_token": f"token-{n}", "token_type": "Bearer",
                              "expires_on": str(int(time.time()) + state.lifetime),
                              "resource": query["resource"], "client_id": query.get("client_id", "")})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/msi/token"
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", state.url)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield state
    server.shutdown()
    server.server_close()


def test_scope_maps_to_the_postgresql_resource() -> None:
    """The .default scope becomes the resource URI managed identity endpoints expect."""
    assert scope_to_resource(OSSRDBMS_SCOPE) == RESOURCE


def test_token_comes_from_the_managed_identity_endpoint(endpoint: FakeIdentityEndpoint) -> None:
    """msal asks the endpoint for the PostgreSQL resource as the user-assigned identity."""
    provider = EntraTokenProvider(client_id=CLIENT_ID)
    assert provider() == "token-1"
    (request,) = endpoint.requests
    assert request["header"] == IDENTITY_HEADER
    assert request["query"]["resource"] == RESOURCE
    assert request["query"]["client_id"] == CLIENT_ID
    assert request["query"]["api-version"] == "2019-08-01"
    assert provider.expires_at == pytest.approx(time.time() + 3600, abs=30)


def test_system_assigned_identity_sends_no_client_id(endpoint: FakeIdentityEndpoint) -> None:
    """Without AZURE_CLIENT_ID the system-assigned identity is used."""
    assert EntraTokenProvider()() == "token-1"
    assert "client_id" not in endpoint.requests[0]["query"]


def test_valid_token_is_reused(endpoint: FakeIdentityEndpoint) -> None:
    """New connections within the token's life cost no extra round trip."""
    provider = EntraTokenProvider(client_id=CLIENT_ID)
    assert [provider() for _ in range(5)] == ["token-1"] * 5
    assert len(endpoint.requests) == 1


def test_token_close_to_expiry_is_refreshed(endpoint: FakeIdentityEndpoint) -> None:
    """A token inside the refresh margin is never handed out again: a new one is fetched."""
    endpoint.lifetime = 120  # less than the 5-minute margin (ours and msal's)
    provider = EntraTokenProvider(client_id=CLIENT_ID)
    assert provider() == "token-1"
    assert provider() == "token-2"
    assert len(endpoint.requests) == 2


def test_endpoint_refusal_is_a_storage_error(endpoint: FakeIdentityEndpoint,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused token request raises StorageError with a hint, not a KeyError deep in msal."""
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    with pytest.raises(StorageError) as info:
        EntraTokenProvider(client_id=CLIENT_ID)()
    assert info.value.hint and "AZURE_CLIENT_ID" in info.value.hint


class FakeClient:
    def __init__(self) -> None:
        self.calls = 0

    def acquire_token_for_client(self, *, resource: str) -> dict[str, Any]:
        self.calls += 1
        return {"access_token": f"t{self.calls}", "expires_in": 3600, "resource": resource}


def test_refresh_happens_margin_before_expiry_by_the_clock() -> None:
    """Reused until expiry minus the margin, refreshed from then on (injected clock)."""
    now = [1_000_000.0]
    client = FakeClient()
    provider = EntraTokenProvider(client=client, clock=lambda: now[0], refresh_margin=300)
    assert provider() == "t1"
    now[0] += 3600 - 301
    assert provider() == "t1"
    now[0] += 2
    assert provider() == "t2"
    assert client.calls == 2


def test_concurrent_callers_fetch_once() -> None:
    """Many pool threads opening connections at once share one token request."""
    client = FakeClient()
    provider = EntraTokenProvider(client=client)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["t1"] * 16 and client.calls == 1


def test_engine_asks_the_provider_for_each_new_connection(endpoint: FakeIdentityEndpoint) -> None:
    """make_engine(password_provider=...) fetches the token when it opens a connection."""
    provider = EntraTokenProvider(client_id=CLIENT_ID)
    engine = make_engine("postgresql://id-api@127.0.0.1:1/synapse", password_provider=provider,
                         connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError):
        engine.connect()
    engine.dispose()
    assert len(endpoint.requests) == 1


def test_settings_switch_entra_auth_on_and_off() -> None:
    """Locally nothing changes; SYNAPSE_DB_ENTRA_AUTH=true gives a provider for the identity."""
    assert token_provider(Settings(SYNAPSE_DB_ENTRA_AUTH=False)) is None
    provider = token_provider(Settings(SYNAPSE_DB_ENTRA_AUTH=True, AZURE_CLIENT_ID=CLIENT_ID))
    assert isinstance(provider, EntraTokenProvider)
