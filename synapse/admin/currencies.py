"""Currency definitions (audited). Balances never change here: only the ledger moves them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from synapse.ledger.curves import MEE6, CurveSpec


class CurrencySpec(BaseModel):
    """A currency as an admin defines it."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stable id used in rules, e.g. xp")
    name: str = Field(min_length=1, max_length=40)
    symbol: str = Field("", max_length=40, description="Emoji or short symbol")
    levelled: bool = False
    curve: CurveSpec = MEE6
    seasonal: bool = False
    allow_negative: bool = False
    visible: bool = True
    position: int = Field(0, ge=0, le=1000)


DEFAULT_CURRENCIES = (
    CurrencySpec(key="xp", name="XP", symbol="✨", levelled=True, position=0),
    CurrencySpec(key="stars", name="Stars", symbol="⭐", position=1),
    CurrencySpec(key="gold", name="Gold", symbol="🪙", position=2),
)


def _validate(data: dict[str, Any]) -> CurrencySpec:
    try:
        return CurrencySpec.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic("invalid currency", exc) from None


def get(conn: Connection, guild_id: int, key: str) -> CurrencySpec | None:
    row = conn.execute(text("SELECT * FROM currencies WHERE guild_id = :g AND key = :k"),
                       {"g": guild_id, "k": key}).mappings().first()
    if row is None:
        return None
    return CurrencySpec.model_validate({f: row[f] for f in CurrencySpec.model_fields})


def list_all(conn: Connection, guild_id: int) -> list[CurrencySpec]:
    rows = conn.execute(text("SELECT * FROM currencies WHERE guild_id = :g ORDER BY position, key"),
                        {"g": guild_id}).mappings()
    return [CurrencySpec.model_validate({f: r[f] for f in CurrencySpec.model_fields}) for r in rows]


def _upsert(conn: Connection, guild_id: int, spec: CurrencySpec) -> None:
    values = spec.model_dump(mode="json")
    conn.execute(text("""
        INSERT INTO currencies (guild_id, key, name, symbol, levelled, curve, seasonal, allow_negative,
                                visible, position)
        VALUES (:g, :key, :name, :symbol, :levelled, CAST(:curve AS jsonb), :seasonal, :allow_negative,
                :visible, :position)
        ON CONFLICT (guild_id, key) DO UPDATE SET name = EXCLUDED.name, symbol = EXCLUDED.symbol,
            levelled = EXCLUDED.levelled, curve = EXCLUDED.curve, seasonal = EXCLUDED.seasonal,
            allow_negative = EXCLUDED.allow_negative, visible = EXCLUDED.visible,
            position = EXCLUDED.position"""),
        {**values, "g": guild_id, "curve": json.dumps(values["curve"])})


def create(conn: Connection, guild_id: int, data: dict[str, Any], *, actor: Actor) -> CurrencySpec:
    if "position" not in data:  # new currencies go last unless placed
        last = conn.execute(text("SELECT COALESCE(MAX(position) + 1, 0) FROM currencies WHERE guild_id = :g"),
                            {"g": guild_id}).scalar_one()
        data = {**data, "position": min(int(last), 1000)}
    spec = _validate(data)
    if get(conn, guild_id, spec.key) is not None:
        raise Conflict(f"currency {spec.key!r} already exists", hint="update it instead")
    _upsert(conn, guild_id, spec)
    record(conn, guild_id=guild_id, actor=actor, action="currency.create", entity_type="currency",
           entity_id=spec.key, after=spec.model_dump(mode="json"))
    return spec


def update(conn: Connection, guild_id: int, key: str, changes: dict[str, Any], *, actor: Actor) -> CurrencySpec:
    before = get(conn, guild_id, key)
    if before is None:
        raise NotFound(f"no currency {key!r}")
    if "key" in changes and changes["key"] != key:
        raise ValidationFailed("invalid change", [ErrorDetail("key", "a currency's key cannot change")])
    after = _validate({**before.model_dump(mode="json"), **changes})
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            _upsert(conn, guild_id, after)
    except IntegrityError:
        raise Conflict(f"cannot forbid negative balances of {key!r}: some members are below zero",
                       hint="post corrections first") from None
    record(conn, guild_id=guild_id, actor=actor, action="currency.update", entity_type="currency",
           entity_id=key, before=before.model_dump(mode="json"), after=after.model_dump(mode="json"))
    return after


def install_defaults(conn: Connection, guild_id: int) -> int:
    added = 0
    for spec in DEFAULT_CURRENCIES:
        if get(conn, guild_id, spec.key) is None:
            _upsert(conn, guild_id, spec)
            added += 1
    return added
