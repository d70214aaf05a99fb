"""Entra ID tokens as the PostgreSQL password (Azure only).

Azure Database for PostgreSQL with Entra authentication takes an access token
for ``https://ossrdbms-aad.database.windows.net`` as the password of a role
named after the managed identity. Tokens live about an hour (24 h for some
managed identity endpoints), so :class:`EntraTokenProvider` keeps the current
one and fetches a new one a few minutes before it expires. An instance is a
``PasswordProvider`` for :func:`synapse.db.engine.make_engine`, which calls it
for every new physical connection; pooled connections stay open past token
expiry (the server checks the token only at login).

msal's ``ManagedIdentityClient`` finds the token endpoint itself: on Functions
and Container Apps it is ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``; on a VM,
the instance metadata service. Nothing here runs locally unless
``SYNAPSE_DB_ENTRA_AUTH`` is true.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from synapse.config import Settings
from synapse.errors import StorageError

#: The scope of Azure Database for PostgreSQL (and MySQL) tokens.
OSSRDBMS_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"

#: Refresh this long before expiry, so a connection never logs in with a token
#: that expires during the TLS/auth handshake, and clock skew cannot bite.
DEFAULT_REFRESH_MARGIN_SECONDS = 300.0

Clock = Callable[[], float]


def scope_to_resource(scope: str) -> str:
    """``https://host/.default`` → ``https://host``: managed identity endpoints take a resource."""
    return scope.removesuffix("/.default").removesuffix("/")


def managed_identity_client(client_id: str = "") -> Any:
    """msal's managed identity client: the user-assigned identity ``client_id``, or system-assigned."""
    import msal
    import requests

    identity: Any = (msal.UserAssignedManagedIdentity(client_id=client_id) if client_id
                     else msal.SystemAssignedManagedIdentity())
    return msal.ManagedIdentityClient(identity, http_client=requests.Session())


class EntraTokenProvider:
    """Returns a valid Entra ID access token; thread-safe; refreshes before expiry.

    ``client`` is anything with msal's ``acquire_token_for_client(resource=...)``
    (injected in tests); ``clock`` returns epoch seconds.
    """

    def __init__(self, *, client_id: str = "", scope: str = OSSRDBMS_SCOPE,
                 refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
                 client: Any = None, clock: Clock = time.time) -> None:
        self._client_id = client_id
        self._resource = scope_to_resource(scope)
        self._margin = refresh_margin
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at = 0.0

    @property
    def expires_at(self) -> float:
        """Epoch seconds at which the cached token expires (0 before the first call)."""
        return self._expires_at

    def __call__(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._expires_at - self._margin:
                self._refresh()
            return self._token

    def _refresh(self) -> None:
        if self._client is None:
            self._client = managed_identity_client(self._client_id)
        now = self._clock()
        try:
            result = self._client.acquire_token_for_client(resource=self._resource)
        except Exception as exc:  # msal surfaces transport errors as-is
            raise StorageError(
                f"could not get an Entra ID token for PostgreSQL: {exc}".splitlines()[0],
                hint="check the managed identity (AZURE_CLIENT_ID) and that it is a database principal",
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            detail = (result.get("error_description") or result.get("error")) if isinstance(result, dict) \
                else result
            raise StorageError(
                f"could not get an Entra ID token for PostgreSQL: {detail}",
                hint="check the managed identity (AZURE_CLIENT_ID) and that it is a database principal",
            )
        self._token = str(token)
        self._expires_at = now + float(result.get("expires_in", 3600))


def token_provider(settings: Settings) -> EntraTokenProvider | None:
    """The provider to pass as ``make_engine(password_provider=...)``, or None when Entra auth is off."""
    if not settings.db_entra_auth:
        return None
    return EntraTokenProvider(client_id=settings.managed_identity_client_id)
