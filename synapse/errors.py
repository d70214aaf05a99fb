"""The one exception tree of Synapse.

Every error Synapse raises on purpose derives from :class:`SynapseError`.
Exceptions carry data, not just text, so entry points can encode them
(the HTTP layer maps ``code`` to a status; the CLI prints ``message`` and
``hint``; the queue trigger logs them as structured fields).

    SynapseError
    ├── ConfigError            settings missing or unsafe (exit 2 at start-up)
    ├── ValidationFailed       bad input; ``errors`` lists every problem with its path
    │   └── EnvelopeError      a queue message that is not a valid envelope
    ├── NotFound               an entity that does not exist (or a module that is off)
    ├── Conflict               a uniqueness or state conflict (already earned, …)
    ├── Forbidden / Unauthorized
    ├── LedgerError
    │   ├── InsufficientBalance  a posting would take a no-negative wallet below zero
    │   └── LedgerDrift          balance != SUM(transactions) for some wallets
    ├── DiscordError           the Discord REST API said no
    │   └── RateLimited        429, with ``retry_after`` seconds
    └── StorageError           the database or the queue is unreachable
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One problem in some input: where (a JSON path such as ``events[3].user_id``) and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class SynapseError(Exception):
    """Root of every error Synapse raises deliberately."""

    code = "synapse_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def details(self) -> list[dict[str, Any]]:
        return []


class ConfigError(SynapseError):
    code = "config_error"


class ValidationFailed(SynapseError):
    code = "validation_failed"

    def __init__(self, message: str, errors: list[ErrorDetail] | None = None, *, hint: str | None = None):
        self.errors = errors or []
        if self.errors:
            listed = "; ".join(f"{e.path}: {e.message}" for e in self.errors[:10])
            more = f" (+{len(self.errors) - 10} more)" if len(self.errors) > 10 else ""
            message = f"{message}: {listed}{more}"
        super().__init__(message, hint=hint)

    def details(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.errors]

    @classmethod
    def from_pydantic(cls, message: str, exc: Any) -> ValidationFailed:
        """From a pydantic ``ValidationError``: every error with its path (:func:`json_path`)."""
        return cls(message, [ErrorDetail(json_path(e["loc"]), e["msg"]) for e in exc.errors()])


def json_path(loc: Sequence[int | str], *, skip: AbstractSet[str] = frozenset()) -> str:
    """A location as a path: ``effects[1].amount``; ``$`` for the whole input. Keys come from the
    input and may hold any text: one that is not a plain name (empty, or with ``.``, ``[``, ``]`` or
    ``"`` in it) is written quoted, ``["a.b"]``, so a path never reads as another path. ``skip``:
    location parts that are not JSON keys (pydantic's union tags)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in skip:
            continue
        elif part and not _NOT_PLAIN.search(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out or "$"


_NOT_PLAIN = re.compile(r'[.\[\]"]')


class EnvelopeError(ValidationFailed):
    code = "bad_envelope"


class NotFound(SynapseError):
    code = "not_found"


class Conflict(SynapseError):
    code = "conflict"


class Unauthorized(SynapseError):
    code = "unauthorized"


class Forbidden(SynapseError):
    code = "forbidden"


class LedgerError(SynapseError):
    code = "ledger_error"


class InsufficientBalance(LedgerError):
    code = "insufficient_balance"

    def __init__(self, *, user_id: int, currency: str, balance: int, amount: int) -> None:
        super().__init__(
            f"{currency} of member {user_id} would go below zero ({balance} {amount:+d}); "
            f"this currency does not allow negative balances"
        )
        self.user_id = user_id
        self.currency = currency
        self.balance = balance
        self.amount = amount


@dataclass(frozen=True)
class Drift:
    guild_id: int
    user_id: int
    currency: str
    balance: int
    ledger_sum: int


class LedgerDrift(LedgerError):
    code = "ledger_drift"

    def __init__(self, drifts: list[Drift]) -> None:
        self.drifts = drifts
        super().__init__(f"{len(drifts)} wallet(s) disagree with their transactions")


class DiscordError(SynapseError):
    code = "discord_error"

    def __init__(self, message: str, *, status: int = 0, discord_code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.discord_code = discord_code


class RateLimited(DiscordError):
    code = "rate_limited"

    def __init__(self, *, retry_after: float, bucket: str | None = None, is_global: bool = False) -> None:
        super().__init__(f"rate limited for {retry_after:.2f}s", status=429)
        self.retry_after = retry_after
        self.bucket = bucket
        self.is_global = is_global


class StorageError(SynapseError):
    code = "storage_unavailable"


__all__ = [
    "ConfigError",
    "Conflict",
    "DiscordError",
    "Drift",
    "EnvelopeError",
    "ErrorDetail",
    "Forbidden",
    "InsufficientBalance",
    "LedgerDrift",
    "LedgerError",
    "NotFound",
    "RateLimited",
    "StorageError",
    "SynapseError",
    "Unauthorized",
    "ValidationFailed",
]
