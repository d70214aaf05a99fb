"""Level roles (issue 16): a "level N → role" table per levelled currency, stack or replace, for free.

- **The table** (``get``/``save``): rows (currency, level, role), saved whole, audited. A row naming
  an unknown or unlevelled currency, a level twice, a role twice, or a role the bot cannot assign
  (deleted, unknown, managed, @everyone, not below the bot's highest role: ``services.directory``) is
  a 422 with the row's path. ``level_role_mode`` is the guild setting (``synapse.admin.settings``).
- **Level-ups**: the engine compiles the table into the guild's rules (``rules.compile.level_role_rule``,
  loaded by ``rules_runner.load_context``, the cache fingerprint covering rows, deleted roles and the
  mode), so every ``level_up`` (earned, ``/award``, an import, a milestone reward) adds the roles the new
  level earns and, in replace mode, removes the lower ones.
- **Sync now** (``preview``/``apply``): for existing members, who should get or lose which role, from
  their wallets' levels against the roles ``member_cache`` says they hold. The preview has a ``token``
  (a digest of the changes); ``apply(token)`` writes the same changes as outbox rows keyed by the token
  (applying twice writes nothing twice) and an audit row, and refuses a stale token (409). Roles the
  directory says were deleted are never assigned; they, and roles members hold that are no longer in the
  table, are reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin import settings as settings_admin
from synapse.admin.audit import Actor, record
from synapse.db import ledger_store
from synapse.db import level_roles_store as store
from synapse.db.level_roles_store import Row
from synapse.errors import Conflict, ErrorDetail, ValidationFailed
from synapse.rules.compile import wanted_roles
from synapse.services import directory

MAX_ROWS = 250


@dataclass(frozen=True)
class Table:
    mode: str
    rows: list[Row]


def get(conn: Connection, guild_id: int) -> Table:
    return Table(settings_admin.load(conn, guild_id).level_role_mode, store.rows(conn, guild_id))


def _parse(raw: Any) -> tuple[list[tuple[int, Row]], list[ErrorDetail]]:
    """The well-formed rows with their index in ``raw``, and what is wrong with the others."""
    errors: list[ErrorDetail] = []
    out: list[tuple[int, Row]] = []
    if not isinstance(raw, list):
        return [], [ErrorDetail("rows", "must be a list of {currency, level, role_id}")]
    if len(raw) > MAX_ROWS:
        errors.append(ErrorDetail("rows", f"at most {MAX_ROWS} rows"))
    for i, item in enumerate(raw):
        path = f"rows[{i}]"
        if not isinstance(item, dict):
            errors.append(ErrorDetail(path, "must be an object {currency, level, role_id}"))
            continue
        unknown = sorted(set(item) - {"currency", "level", "role_id"})
        errors.extend(ErrorDetail(f"{path}.{k}", "no such field") for k in unknown)
        cur, level, role = item.get("currency"), item.get("level"), str(item.get("role_id") or "")
        ok = True
        if not isinstance(cur, str) or not cur:
            errors.append(ErrorDetail(f"{path}.currency", "required: a currency key"))
            ok = False
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100_000:
            errors.append(ErrorDetail(f"{path}.level", "must be a whole number from 1 to 100000"))
            ok = False
        if not role.isdigit() or len(role) > 20 or int(role) == 0:
            errors.append(ErrorDetail(f"{path}.role_id", f"not a role id: {item.get('role_id')!r}"))
            ok = False
        if ok:
            out.append((i, Row(str(cur), int(level), int(role))))   # type: ignore[arg-type]
    return out, errors


def save(conn: Connection, guild_id: int, raw_rows: Any, *, mode: str | None = None, actor: Actor) -> Table:
    """Replace the table (and, given, ``level_role_mode``); every problem reported with its row's path."""
    indexed, errors = _parse(raw_rows)
    rows = [r for _, r in indexed]
    currencies = ledger_store.load_currencies(conn, guild_id)
    seen_level: dict[tuple[str, int], int] = {}
    seen_role: dict[tuple[str, int], int] = {}
    for i, r in indexed:
        c = currencies.get(r.currency)
        if c is None:
            errors.append(ErrorDetail(f"rows[{i}].currency", f"unknown currency {r.currency!r}"))
        elif not c.levelled:
            errors.append(ErrorDetail(f"rows[{i}].currency", f"currency {r.currency!r} has no levels"))
        if (r.currency, r.level) in seen_level:
            errors.append(ErrorDetail(f"rows[{i}].level", f"level {r.level} of {r.currency} is already in "
                                                          f"rows[{seen_level[(r.currency, r.level)]}]"))
        seen_level.setdefault((r.currency, r.level), i)
        if (r.currency, r.role_id) in seen_role:
            errors.append(ErrorDetail(f"rows[{i}].role_id", f"this role is already in "
                                                            f"rows[{seen_role[(r.currency, r.role_id)]}]"))
        seen_role.setdefault((r.currency, r.role_id), i)
    if rows:   # the directory's judgement, as for a rule's role effect (never fetched: not judged)
        fake_rule = {"effects": [{"type": "role", "role_id": str(r.role_id)} for r in rows]}
        for e in directory.check_rule(conn, guild_id, fake_rule).errors:
            index = indexed[int(e.path.split("[", 1)[1].split("]", 1)[0])][0]
            errors.append(ErrorDetail(f"rows[{index}].role_id", e.message))
        errors.sort(key=lambda e: e.path)
    if errors:
        raise ValidationFailed("invalid level roles", errors)
    before = get(conn, guild_id)
    if mode is not None:
        settings_admin.update(conn, guild_id, {"level_role_mode": mode}, actor=actor)
    ordered = sorted(rows, key=lambda r: (r.currency, r.level))
    if ordered != before.rows:
        store.replace(conn, guild_id, ordered)
        record(conn, guild_id=guild_id, actor=actor, action="level_roles.update", entity_type="level_roles",
               before=_rows_json(before.rows), after=_rows_json(ordered))
    return get(conn, guild_id)


def _rows_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [{"currency": r.currency, "level": r.level, "role_id": str(r.role_id)} for r in rows]


# ---------------------------------------------------------------- sync now

@dataclass(frozen=True, slots=True)
class Change:
    user_id: int
    role_id: int
    action: str          # add | remove
    currency: str
    level: int


@dataclass
class SyncPlan:
    mode: str
    changes: list[Change] = field(default_factory=list)
    members: int = 0                                          # members with a level in a table currency
    unknown_roles: int = 0                                    # of them, not in member_cache (roles unknown)
    deleted_roles: list[int] = field(default_factory=list)    # table roles deleted in Discord: never assigned
    stale: dict[int, int] = field(default_factory=dict)       # role no longer in the table -> members holding it

    @property
    def token(self) -> str:
        body = json.dumps([self.mode, [(c.user_id, c.role_id, c.action) for c in self.changes]])
        return hashlib.sha256(body.encode()).hexdigest()[:32]


def preview(conn: Connection, guild_id: int) -> SyncPlan:
    """Who should get or lose which level role now (nothing written)."""
    table = get(conn, guild_id)
    deleted = store.deleted_roles(conn, guild_id)
    compiled = store.table_from(table.rows, table.mode, skip=deleted)
    plan = SyncPlan(table.mode, deleted_roles=sorted(deleted))
    currencies = ledger_store.load_currencies(conn, guild_id)
    ladders = {k: v for k, v in compiled.ladders.items() if k in currencies and currencies[k].levelled}
    members = conn.execute(text("""
        SELECT w.user_id, w.currency_key, w.balance, m.roles, m.user_id IS NOT NULL AS known
          FROM wallets w LEFT JOIN member_cache m ON m.guild_id = w.guild_id AND m.user_id = w.user_id
         WHERE w.guild_id = :g AND w.currency_key = ANY(:c) AND (m.left_at IS NULL)
         ORDER BY w.user_id, w.currency_key"""), {"g": guild_id, "c": sorted(ladders)}).all()
    seen: set[int] = set()
    for m in members:
        level = currencies[m.currency_key].curve.level_for(int(m.balance))
        add, remove = wanted_roles(ladders[m.currency_key], level, table.mode)
        have = frozenset(int(r) for r in (m.roles or ()))
        if m.user_id not in seen:
            seen.add(m.user_id)
            plan.members += 1
            plan.unknown_roles += not m.known
        for r in sorted(add - have):
            plan.changes.append(Change(int(m.user_id), r, "add", m.currency_key, level))
        for r in sorted(remove & have):
            plan.changes.append(Change(int(m.user_id), r, "remove", m.currency_key, level))
    in_table = {r.role_id for r in table.rows}
    for row in conn.execute(text("""
        SELECT r AS role_id, count(*) AS n FROM member_cache, unnest(roles) AS r
         WHERE guild_id = :g AND left_at IS NULL AND r = ANY(:ids) GROUP BY r"""),
                            {"g": guild_id, "ids": sorted(_past_roles(conn, guild_id) - in_table)}):
        plan.stale[int(row.role_id)] = int(row.n)
    return plan


def _past_roles(conn: Connection, guild_id: int) -> set[int]:
    """Roles the table named before (from its audit rows): candidates for "no longer in the table"."""
    out: set[int] = set()
    for r in conn.execute(text("SELECT before FROM admin_log WHERE guild_id = :g AND action = 'level_roles.update'"),
                          {"g": guild_id}):
        for item in r.before or ():
            if str(item.get("role_id", "")).isdigit():
                out.add(int(item["role_id"]))
    return out


def apply(conn: Connection, guild_id: int, token: str, *, actor: Actor) -> tuple[SyncPlan, list[int]]:
    """Write the preview's changes as outbox rows (keyed by ``token``: a repeat writes nothing); audited."""
    plan = preview(conn, guild_id)
    if plan.token != token:
        raise Conflict("the level roles changed since the preview", hint="preview again, then apply")
    ids: list[int] = []
    for c in plan.changes:
        row = conn.execute(text("""
            INSERT INTO outbox (guild_id, kind, dedupe_key, payload) VALUES (:g, :k, :d, CAST(:p AS jsonb))
            ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id"""), {
            "g": guild_id, "k": f"role_{c.action}", "d": f"level_roles_sync:{token}:{c.action}:{c.user_id}:{c.role_id}",
            "p": json.dumps({"user_id": str(c.user_id), "role_id": str(c.role_id),
                             "reason": f"level roles sync: level {c.level} in {c.currency}"})}).first()
        if row is not None:
            ids.append(int(row.id))
    if ids:
        record(conn, guild_id=guild_id, actor=actor, action="level_roles.sync", entity_type="level_roles",
               entity_id=token, after={"added": sum(c.action == "add" for c in plan.changes),
                                       "removed": sum(c.action == "remove" for c in plan.changes),
                                       "outbox_ids": ids})
    return plan, ids


# ---------------------------------------------------------------- read models for the API

def table_json(conn: Connection, guild_id: int) -> dict[str, Any]:
    """The table with each role resolved from the directory, and the levelled currencies to choose from."""
    table = get(conn, guild_id)
    refs = directory.role_refs(conn, guild_id, (r.role_id for r in table.rows))
    levelled = [k for k, c in ledger_store.load_currencies(conn, guild_id).items() if c.levelled]
    return {"mode": table.mode, "currencies": levelled,
            "rows": [{**_rows_json([r])[0], "role": refs[r.role_id].as_dict()} for r in table.rows]}


def plan_json(conn: Connection, guild_id: int, plan: SyncPlan, outbox_ids: Sequence[int] = ()) -> dict[str, Any]:
    """A sync plan with member and role names, for the preview page."""
    users = sorted({c.user_id for c in plan.changes})
    names = {int(r.user_id): r.display_name for r in conn.execute(text(
        "SELECT user_id, display_name FROM member_cache WHERE guild_id = :g AND user_id = ANY(:u)"),
        {"g": guild_id, "u": users})}
    roles = directory.role_refs(conn, guild_id, {c.role_id for c in plan.changes})
    return {"mode": plan.mode, "token": plan.token, "members": plan.members, "unknown_roles": plan.unknown_roles,
            "added": sum(c.action == "add" for c in plan.changes),
            "removed": sum(c.action == "remove" for c in plan.changes),
            "deleted_roles": [str(r) for r in plan.deleted_roles],
            "stale_roles": {str(k): v for k, v in sorted(plan.stale.items())},
            "changes": [{"user_id": str(c.user_id), "name": names.get(c.user_id), "role_id": str(c.role_id),
                         "role_name": roles[c.role_id].name, "action": c.action, "currency": c.currency,
                         "level": c.level} for c in plan.changes],
            "outbox_ids": list(outbox_ids)}


def placeholders() -> dict[str, list[dict[str, str]]]:
    """The placeholders of each template setting: {setting: [{name, description, sample}]}."""
    from synapse.rules.model import TEMPLATE_PLACEHOLDERS

    return {setting: [{"name": n, "description": d, "sample": s} for n, (d, s) in names.items()]
            for setting, names in TEMPLATE_PLACEHOLDERS.items()}
