"""Admin rules: CRUD with versions, enable/disable, validate, backtest a draft, diff two versions. Audited.

Rules are stored and validated by the Rules Engine (``synapse.db.rules_store``); every save
keeps a version in ``rule_versions`` and bumps the guild's rules version so workers refresh.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from synapse.admin.audit import record
from synapse.api import schemas
from synapse.api.deps import AdminDep, GuildId, ReadConn, Session, WriteConn
from synapse.db import rules_store
from synapse.db.reads import rules as rule_reads
from synapse.db.uow import Conn, read_only_transaction
from synapse.errors import ValidationFailed
from synapse.rules.model import dump_rule, rules_schema, validate_rules
from synapse.services.queries import guild_row

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin/rules", tags=["admin: rules"], responses=ERRORS)

RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]
RuleBody = Annotated[dict[str, Any], Body(description="A rule as JSON (see GET …/admin/rules/schema)")]


def _rule_out(r: rule_reads.RuleRow) -> schemas.RuleOut:
    return schemas.RuleOut(rule_id=r.rule_id, version=r.version, name=r.name, enabled=r.enabled, module=r.module,
                           priority=r.priority, trigger=r.trigger_event, definition=r.definition)


def _out(conn: Conn, guild_id: int, rule_id: int) -> schemas.RuleOut:
    return _rule_out(rule_reads.rule(conn, guild_id, rule_id))


@router.get("/schema", response_model=dict[str, Any], summary="JSON Schema of a rule (for the editor)")
def schema(guild_id: GuildId, _: AdminDep) -> dict[str, Any]:
    return rules_schema()


@router.get("", response_model=list[schemas.RuleOut], summary="All rules (not deleted)")
def list_rules(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.RuleOut]:
    guild_row(conn, guild_id)
    return [_rule_out(r) for r in rule_reads.list_rules(conn, guild_id)]


@router.get("/{rule_id}", response_model=schemas.RuleDetail, summary="A rule with all its versions")
def get_rule(guild_id: GuildId, _: AdminDep, conn: ReadConn, rule_id: RuleId) -> schemas.RuleDetail:
    out = _out(conn, guild_id, rule_id)
    return schemas.RuleDetail(**out.model_dump(), versions=[schemas.RuleVersionOut(
        version=v.version, definition=v.definition, created_by=None if v.created_by is None else str(v.created_by),
        created_at=v.created_at) for v in rule_reads.versions(conn, guild_id, rule_id)])


@router.post("", response_model=schemas.RuleOut, status_code=201, summary="Create a rule (validated)")
def create_rule(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: RuleBody) -> schemas.RuleOut:
    guild_row(conn, guild_id)
    body = {k: v for k, v in body.items() if k != "id"}
    saved = rules_store.save_rule(conn, guild_id, body, actor_id=s.user_id)
    record(conn, guild_id=guild_id, actor=s.actor(), action="rule.create", entity_type="rule",
           entity_id=saved.rule_id, after={"version": saved.version, "definition": dump_rule(saved.spec)})
    return _out(conn, guild_id, saved.rule_id)


@router.put("/{rule_id}", response_model=schemas.RuleOut, summary="Replace a rule (a new version)")
def update_rule(guild_id: GuildId, s: AdminDep, conn: WriteConn, rule_id: RuleId, body: RuleBody) -> schemas.RuleOut:
    before = rules_store.get_rule(conn, guild_id, rule_id)
    saved = rules_store.save_rule(conn, guild_id, {**body, "id": rule_id}, rule_id=rule_id, actor_id=s.user_id)
    record(conn, guild_id=guild_id, actor=s.actor(), action="rule.update", entity_type="rule", entity_id=rule_id,
           before={"version": before.version, "definition": dump_rule(before.spec)},
           after={"version": saved.version, "definition": dump_rule(saved.spec)})
    return _out(conn, guild_id, rule_id)


def _toggle(conn: Conn, guild_id: int, rule_id: int, enabled: bool, s: Session) -> schemas.RuleOut:
    before = rules_store.get_rule(conn, guild_id, rule_id)
    if before.spec.enabled != enabled:
        data = dump_rule(before.spec) | {"enabled": enabled}
        saved = rules_store.save_rule(conn, guild_id, data, rule_id=rule_id, actor_id=s.user_id)
        record(conn, guild_id=guild_id, actor=s.actor(), action="rule.enable" if enabled else "rule.disable",
               entity_type="rule", entity_id=rule_id, before={"version": before.version, "enabled": not enabled},
               after={"version": saved.version, "enabled": enabled})
    return _out(conn, guild_id, rule_id)


@router.post("/{rule_id}/enable", response_model=schemas.RuleOut, summary="Enable a rule")
def enable_rule(guild_id: GuildId, s: AdminDep, conn: WriteConn, rule_id: RuleId) -> schemas.RuleOut:
    return _toggle(conn, guild_id, rule_id, True, s)


@router.post("/{rule_id}/disable", response_model=schemas.RuleOut, summary="Disable a rule")
def disable_rule(guild_id: GuildId, s: AdminDep, conn: WriteConn, rule_id: RuleId) -> schemas.RuleOut:
    return _toggle(conn, guild_id, rule_id, False, s)


@router.delete("/{rule_id}", status_code=204, response_class=Response,
               summary="Delete a rule (soft: its versions and the transactions naming it stay)")
def delete_rule(guild_id: GuildId, s: AdminDep, conn: WriteConn, rule_id: RuleId) -> Response:
    before = rules_store.get_rule(conn, guild_id, rule_id)
    rules_store.delete_rule(conn, guild_id, rule_id)
    record(conn, guild_id=guild_id, actor=s.actor(), action="rule.delete", entity_type="rule", entity_id=rule_id,
           before={"version": before.version, "definition": dump_rule(before.spec)})
    return Response(status_code=204)


@router.post("/validate", response_model=schemas.RuleValidation,
             summary="Validate one rule or a list against this guild (every error with its JSON path)")
def validate(guild_id: GuildId, _: AdminDep, conn: ReadConn,
             body: Annotated[dict[str, Any] | list[dict[str, Any]], Body()]) -> schemas.RuleValidation:
    guild_row(conn, guild_id)
    try:
        validate_rules(body, context=rules_store.validation_context(conn, guild_id))
    except ValidationFailed as exc:
        return schemas.RuleValidation(valid=False, errors=exc.details())
    return schemas.RuleValidation(valid=True, errors=[])


@router.post("/backtest", response_model=schemas.BacktestOut,
             summary="Backtest draft rules over a range of the Event Lake (nothing is written)")
def backtest(guild_id: GuildId, _: AdminDep, conn: ReadConn, body: schemas.BacktestIn) -> schemas.BacktestOut:
    from synapse.services.backtest import run_backtest

    guild_row(conn, guild_id)
    drafts = validate_rules(body.rules, context=rules_store.validation_context(conn, guild_id)) if body.rules else []
    if body.start and body.end and body.end <= body.start:
        raise ValidationFailed("invalid range", [])
    with read_only_transaction(conn):
        result = run_backtest(conn, guild_id, drafts, start=body.start, end=body.end, only_draft=body.only_draft,
                              compare=body.compare)
    return schemas.BacktestOut(start=result.start, end=result.end, draft=result.draft.as_dict(),
                               live=None if result.live is None else result.live.as_dict(),
                               diff=None if result.diff is None else result.diff.as_dict())


def json_diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences between two JSON values, with JSON paths (``conditions[1].op``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(before.keys() | after.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append({"path": sub, "before": None, "after": after[key]})
            elif key not in after:
                out.append({"path": sub, "before": before[key], "after": None})
            else:
                out.extend(json_diff(before[key], after[key], sub))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, (b, a) in enumerate(zip(before, after, strict=True))
                for d in json_diff(b, a, f"{path}[{i}]")]
    return [] if before == after else [{"path": path or "$", "before": before, "after": after}]


@router.get("/{rule_id}/diff", response_model=schemas.RuleDiff, summary="Differences between two versions")
def diff(guild_id: GuildId, _: AdminDep, conn: ReadConn, rule_id: RuleId,
         from_version: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
         to_version: Annotated[int, Query(alias="to", ge=1, le=2**31 - 1)]) -> schemas.RuleDiff:
    a = rules_store.get_rule(conn, guild_id, rule_id, version=from_version)
    b = rules_store.get_rule(conn, guild_id, rule_id, version=to_version)
    changes = json_diff(dump_rule(a.spec), dump_rule(b.spec))
    return schemas.RuleDiff(rule_id=rule_id, from_version=from_version, to_version=to_version,
                            changes=[schemas.DiffEntry.model_validate(c) for c in changes])
