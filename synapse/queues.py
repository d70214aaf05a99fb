"""Azure Storage Queue clients (adapter), built from the storage setting.

Messages are sent base64-encoded (``TextBase64EncodePolicy``), which is what the
Functions queue trigger expects by default (``host.json`` keeps
``messageEncoding: base64``). Locally, ``UseDevelopmentStorage=true`` means Azurite.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(host: str = "127.0.0.1", port: int = 10001) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"QueueEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT};"
    )


def normalise_connection_string(connection: str) -> str:
    if connection.strip().lower().startswith("usedevelopmentstorage=true"):
        return azurite_connection_string()
    return connection


def queue_client(queue_name: str, *, connection: str = "", service_uri: str = "",
                 client_id: str = "") -> QueueClient:
    """A client for one queue: by connection string, or by service URI with a managed identity."""
    from azure.storage.queue import BinaryBase64DecodePolicy, QueueClient, TextBase64EncodePolicy

    encode, decode = TextBase64EncodePolicy(), BinaryBase64DecodePolicy()
    if service_uri:
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=client_id or None)
        return QueueClient(service_uri, queue_name, credential=credential,
                           message_encode_policy=encode, message_decode_policy=decode)
    return QueueClient.from_connection_string(normalise_connection_string(connection), queue_name,
                                              message_encode_policy=encode, message_decode_policy=decode)


def ensure_queue(client: QueueClient, **request: Any) -> None:
    """Create the queue unless it exists; ``request``: per-call options (timeout, retries) for the create."""
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        client.create_queue(**request)
