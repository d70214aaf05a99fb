"""The guild directory: channel and role names for the ids Synapse stores, fetched from Discord and cached.

DESIGN.md §2: static data is fetched on demand and cached, not captured. This service

- **refreshes** a guild's directory from Discord REST (``GET /guilds/{id}`` for the AFK channel,
  ``/channels``, ``/roles``, and the bot's own member for its roles), at most once per
  ``SYNAPSE_DIRECTORY_TTL_SECONDS`` unless asked to (``force``); a channel or role that is gone
  is kept, marked deleted. When Discord cannot be reached the cached names are served as they
  are and the failure is reported (``Freshness.error``), never raised to a page;
- **applies the relay's events** (``channel_update``, ``role_update``, ``guild_update``, see
  docs/relay.md) in the ingest transaction (:func:`apply_events`): they change the cache directly,
  and are not Event Lake activity, so they are taken out of the batch;
- **resolves** ids to names for the API (regions, rules, settings, the overview), and says which
  roles the bot can assign (below its highest role, not managed by an integration, not @everyone);
- **checks a rule's references** (:func:`check_rule`): a role effect naming a role the bot cannot
  assign (or a deleted or unknown one) is an *error* at save time, because Discord would refuse
  every assignment; a deleted or unknown channel in a zone filter, an announcement target or a
  role filter is a *warning*, because the rule still works for its other channels.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import Connection, Engine

from synapse.db import directory_store as store
from synapse.db.directory_store import Entry
from synapse.errors import DiscordError, ErrorDetail, RateLimited, ValidationFailed
from synapse.eventlake.events import Event

if TYPE_CHECKING:
    from synapse.discord.rest import DiscordRest

log = logging.getLogger(__name__)

DEFAULT_TTL: Final = timedelta(minutes=10)
DIRECTORY_EVENTS: Final = frozenset({"channel_update", "role_update", "guild_update"})
# Channel types as Discord numbers them (the ones a guild's channel list holds).
CHANNEL_TYPES: Final = {0: "text", 2: "voice", 4: "category", 5: "announcement", 13: "stage", 15: "forum",
                        16: "media"}


# ---------------------------------------------------------------- Discord JSON → entries

def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _snowflake(value: Any) -> int | None:
    text = str(value) if value is not None else ""
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def channel_entry(raw: Mapping[str, Any]) -> Entry | None:
    """A Discord channel object (``GET /guilds/{id}/channels`` or the relay's payload) → an entry."""
    cid = _snowflake(raw.get("id"))
    if cid is None:
        return None
    return Entry(kind="channel", id=cid, name=str(raw.get("name") or ""), position=_int(raw.get("position")),
                 type=_int(raw.get("type")), parent_id=_snowflake(raw.get("parent_id")))


def role_entry(raw: Mapping[str, Any]) -> Entry | None:
    """A Discord role object (``GET /guilds/{id}/roles`` or the relay's payload) → an entry."""
    rid = _snowflake(raw.get("id"))
    if rid is None:
        return None
    return Entry(kind="role", id=rid, name=str(raw.get("name") or ""), position=_int(raw.get("position")),
                 managed=bool(raw.get("managed")), color=_int(raw.get("color")),
                 booster="premium_subscriber" in (raw.get("tags") or {}))  # present (as null) on the booster role


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh read from Discord."""

    entries: list[Entry]
    afk_channel_id: int | None
    bot_role_ids: list[int]


def fetch(rest: DiscordRest, guild_id: int) -> Snapshot:
    """Read the guild, its channels and roles, and the bot's own roles from Discord REST."""
    guild = rest.get_guild(guild_id)
    channels = [e for e in map(channel_entry, rest.get_guild_channels(guild_id)) if e is not None]
    roles = [e for e in map(role_entry, rest.get_guild_roles(guild_id)) if e is not None]
    bot_id = rest.get_bot_user().get("id") or rest.application_id
    member = rest.get_guild_member(guild_id, str(bot_id))
    bot_roles = [r for r in (_snowflake(x) for x in member.get("roles") or ()) if r is not None]
    return Snapshot(entries=[*channels, *roles], afk_channel_id=_snowflake(guild.get("afk_channel_id")),
                    bot_role_ids=bot_roles)


def store_snapshot(conn: Connection, guild_id: int, snapshot: Snapshot, *, at: datetime) -> None:
    store.replace(conn, guild_id, snapshot.entries, afk_channel_id=snapshot.afk_channel_id,
                  bot_role_ids=snapshot.bot_role_ids, at=at)


# ---------------------------------------------------------------- refresh with a TTL

@dataclass(frozen=True)
class Freshness:
    """When the directory was last fetched, whether this call fetched it, and why not if it failed."""

    refreshed_at: datetime | None
    refreshed: bool = False
    error: str | None = None


def ensure_fresh(engine: Engine, rest: DiscordRest | None, guild_id: int, *, now: datetime,
                 ttl: timedelta = DEFAULT_TTL, force: bool = False) -> Freshness:
    """Refetch the directory if it is older than ``ttl`` (or ``force``); keep the cache when Discord fails.

    Discord is called outside any transaction; the snapshot is then written in one.
    """
    from synapse.db.engine import transaction

    with engine.connect() as conn:
        current = store.state(conn, guild_id)
    refreshed_at = current.refreshed_at if current else None
    if not force and refreshed_at is not None and now - refreshed_at < ttl:
        return Freshness(refreshed_at)
    if rest is None:
        return Freshness(refreshed_at, error="Discord credentials are not set (DISCORD_BOT_TOKEN, "
                                             "DISCORD_APPLICATION_ID): names cannot be fetched")
    try:
        snapshot = fetch(rest, guild_id)
    except (DiscordError, RateLimited) as exc:
        log.warning("directory refresh failed; serving the cached names", extra={"guild_id": guild_id,
                                                                                  "error": str(exc)})
        return Freshness(refreshed_at, error=f"Discord: {exc}")
    with transaction(engine) as conn:
        store_snapshot(conn, guild_id, snapshot, at=now)
    log.info("directory refreshed", extra={"guild_id": guild_id, "entries": len(snapshot.entries)})
    return Freshness(now, refreshed=True)


# ---------------------------------------------------------------- relay events (ingest)

def apply_events(conn: Connection, events: Sequence[Event]) -> list[Event]:
    """Apply the directory events of a batch to the cache; return the other events, in order.

    Idempotent and order-safe: each write carries the event's time and never overwrites a newer row.
    """
    rest: list[Event] = []
    for e in events:
        if e.event_type not in DIRECTORY_EVENTS or e.source_system != "discord":
            rest.append(e)
            continue
        try:
            _apply(conn, e)
        except (TypeError, ValueError) as exc:  # a malformed payload changes nothing; the rest goes on
            log.warning("ignored a malformed directory event", extra={"source_event_id": e.source_event_id,
                                                                       "error": str(exc)})
    return rest


def _apply(conn: Connection, e: Event) -> None:
    p = e.payload
    at = e.occurred_at
    if e.event_type == "channel_update":
        entry = channel_entry({**p, "id": e.channel_id})
        if entry is None:
            return
        if p.get("action") == "delete":
            store.mark_deleted(conn, e.guild_id, "channel", [entry.id], at=at)
        else:
            store.upsert(conn, e.guild_id, [entry], at=at)
    elif e.event_type == "role_update":
        entry = role_entry({**p, "id": p.get("role_id")})
        if entry is None:
            return
        if p.get("action") == "delete":
            store.mark_deleted(conn, e.guild_id, "role", [entry.id], at=at)
        else:
            store.upsert(conn, e.guild_id, [entry], at=at)
    elif e.event_type == "guild_update":
        changes: dict[str, Any] = {}
        if "afk_channel_id" in p:
            changes["afk_channel_id"] = _snowflake(p["afk_channel_id"])
        if isinstance(p.get("bot_role_ids"), list):
            changes["bot_role_ids"] = [r for r in map(_snowflake, p["bot_role_ids"]) if r is not None]
        if changes:
            store.set_state(conn, e.guild_id, **changes)


# ---------------------------------------------------------------- names for the API

@dataclass(frozen=True)
class Ref:
    """An id with what the directory knows of it (``name`` None: never seen)."""

    id: int
    name: str | None
    deleted: bool
    kind: str = ""          # channel: text/voice/category/…; role: "role"
    assignable: bool | None = None  # roles only

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self.id), "name": self.name, "deleted": self.deleted}
        if self.kind:
            out["type"] = self.kind
        if self.assignable is not None:
            out["assignable"] = self.assignable
        return out


def bot_top_position(conn: Connection, guild_id: int) -> int | None:
    """The position of the bot's highest role, or None when the directory does not know the bot's roles."""
    current = store.state(conn, guild_id)
    if current is None or (current.refreshed_at is None and not current.bot_role_ids):
        return None
    roles = store.lookup(conn, guild_id, "role", current.bot_role_ids)
    return max((r.position for r in roles.values() if not r.deleted), default=0)


def is_assignable(role: Entry, *, guild_id: int, top: int | None) -> bool:
    """Discord lets a bot give a role only below its own highest one; integration roles and @everyone never."""
    return (top is not None and not role.deleted and not role.managed and role.id != guild_id
            and role.position < top)


def _channel_kind(entry: Entry) -> str:
    return CHANNEL_TYPES.get(entry.type if entry.type is not None else -1, "channel")


def channel_refs(conn: Connection, guild_id: int, ids: Iterable[int]) -> dict[int, Ref]:
    wanted = set(ids)
    known = store.lookup(conn, guild_id, "channel", wanted)
    return {i: Ref(i, known[i].name or None, known[i].deleted, _channel_kind(known[i])) if i in known
            else Ref(i, None, False) for i in wanted}


def role_refs(conn: Connection, guild_id: int, ids: Iterable[int]) -> dict[int, Ref]:
    wanted = set(ids)
    known = store.lookup(conn, guild_id, "role", wanted)
    top = bot_top_position(conn, guild_id)
    return {i: Ref(i, known[i].name or None, known[i].deleted, "role",
                   is_assignable(known[i], guild_id=guild_id, top=top)) if i in known
            else Ref(i, None, False, "role") for i in wanted}


def listing(conn: Connection, guild_id: int, kind: store.Kind, *, q: str = "", include_deleted: bool = False,
            limit: int = 500) -> list[dict[str, Any]]:
    """The picker's list: channels (with type and category) or roles (with ``assignable``), by position."""
    items = store.entries(conn, guild_id, kind, q=q, include_deleted=include_deleted, limit=limit)
    if kind == "channel":
        parents = {e.id: e.name for e in store.entries(conn, guild_id, "channel", include_deleted=True)
                   if e.type == 4}
        afk = store.afk_channel(conn, guild_id)
        return [{"id": str(e.id), "name": e.name, "type": _channel_kind(e), "position": e.position,
                 "parent_id": None if e.parent_id is None else str(e.parent_id),
                 "category": parents.get(e.parent_id) if e.parent_id is not None else None,
                 "deleted": e.deleted, "afk": e.id == afk} for e in items]
    top = bot_top_position(conn, guild_id)
    # Discord lists roles highest first.
    items.sort(key=lambda e: (e.deleted, -e.position, e.id))
    return [{"id": str(e.id), "name": e.name, "position": e.position, "managed": e.managed,
             "color": e.color, "deleted": e.deleted, "everyone": e.id == guild_id, "booster": e.booster,
             "assignable": is_assignable(e, guild_id=guild_id, top=top)} for e in items]


def refs_json(refs: Mapping[int, Ref]) -> dict[str, dict[str, Any]]:
    return {str(k): v.as_dict() for k, v in sorted(refs.items())}


# ---------------------------------------------------------------- rule references

Severity = Literal["error", "warning"]


@dataclass
class RuleRefs:
    """The channels and roles a rule names (resolved), and what is wrong with them, by JSON path."""

    channels: dict[int, Ref] = field(default_factory=dict)
    roles: dict[int, Ref] = field(default_factory=dict)
    errors: list[ErrorDetail] = field(default_factory=list)
    warnings: list[ErrorDetail] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"channels": refs_json(self.channels), "roles": refs_json(self.roles),
                "warnings": [w.as_dict() for w in self.warnings]}


def _ids_at(value: Any, path: str) -> list[tuple[str, int]]:
    if isinstance(value, list):
        return [(f"{path}[{i}]", s) for i, v in enumerate(value) if (s := _snowflake(v)) is not None]
    s = _snowflake(value)
    return [] if s is None else [(path, s)]


def _references(rule: Mapping[str, Any], base: str) -> tuple[list[tuple[str, int]], list[tuple[str, int, bool]]]:
    """(path, channel id) and (path, role id, assigned by the rule?) named anywhere in a rule's JSON."""
    channels: list[tuple[str, int]] = []
    roles: list[tuple[str, int, bool]] = []

    def cond(c: Any, path: str) -> None:
        if not isinstance(c, Mapping):
            return
        kind = c.get("type")
        if kind == "zone":
            for key in ("channels", "exclude_channels"):
                channels.extend(_ids_at(c.get(key), f"{path}.{key}"))
        elif kind == "roles":
            for key in ("any_of", "none_of"):
                roles.extend((p, i, False) for p, i in _ids_at(c.get(key), f"{path}.{key}"))
        elif kind in ("all", "any"):
            for i, sub in enumerate(c.get("conditions") or ()):
                cond(sub, f"{path}.conditions[{i}]")
        elif kind == "not":
            cond(c.get("condition"), f"{path}.condition")

    prefix = f"{base}." if base else ""
    for i, c in enumerate(rule.get("conditions") or ()):
        cond(c, f"{prefix}conditions[{i}]")
    for i, eff in enumerate(rule.get("effects") or ()):
        if not isinstance(eff, Mapping):
            continue
        path = f"{prefix}effects[{i}]"
        kind = eff.get("type")
        if kind == "role":
            roles.extend((p, r, True) for p, r in _ids_at(eff.get("role_id"), f"{path}.role_id"))
        elif kind == "level_roles" and isinstance(eff.get("roles"), Mapping):
            for level, rid in eff["roles"].items():
                roles.extend((p, r, True) for p, r in _ids_at(rid, f"{path}.roles.{level}"))
        elif kind == "announce":
            channels.extend(_ids_at(eff.get("channel_id"), f"{path}.channel_id"))
        elif kind == "credit":
            for j, m in enumerate(eff.get("multipliers") or ()):
                if isinstance(m, Mapping):
                    roles.extend((p, r, False) for p, r in _ids_at(m.get("role"), f"{path}.multipliers[{j}].role"))
    return channels, roles


def check_rule(conn: Connection, guild_id: int, rule: Any, *, base: str = "") -> RuleRefs:
    """Resolve the channels and roles ``rule`` (raw JSON) names and judge them against the directory.

    Without a directory (never fetched), nothing is judged: names stay unknown and nothing fails.
    """
    out = RuleRefs()
    if not isinstance(rule, Mapping):
        return out
    channels, roles = _references(rule, base)
    out.channels = channel_refs(conn, guild_id, (c for _, c in channels))
    out.roles = role_refs(conn, guild_id, (r for _, r, _ in roles))
    current = store.state(conn, guild_id)
    if current is None or current.refreshed_at is None:  # never fetched: relay events alone are partial
        return out
    for path, cid in channels:
        ref = out.channels[cid]
        if ref.deleted:
            out.warnings.append(ErrorDetail(path, f"channel #{ref.name or cid} was deleted: this part of the "
                                                  "rule no longer matches anything"))
        elif ref.name is None:
            out.warnings.append(ErrorDetail(path, f"channel {cid} is not a channel of this server"))
    for path, rid, assigned in roles:
        ref = out.roles[rid]
        label = f"@{ref.name}" if ref.name else str(rid)
        if ref.deleted:
            problem = f"role {label} was deleted"
        elif ref.name is None:
            problem = f"role {rid} is not a role of this server"
        elif assigned and not ref.assignable:
            problem = (f"the bot cannot assign role {label}: it is managed by an integration or @everyone"
                       if rid == guild_id or _managed(conn, guild_id, rid) else
                       f"the bot cannot assign role {label}: it is not below the bot's highest role "
                       "(move the bot's role above it in Server Settings → Roles)")
        else:
            continue
        (out.errors if assigned else out.warnings).append(ErrorDetail(path, problem))
    return out


def _managed(conn: Connection, guild_id: int, role_id: int) -> bool:
    entry = store.lookup(conn, guild_id, "role", [role_id]).get(role_id)
    return bool(entry and entry.managed)


def require_valid_refs(conn: Connection, guild_id: int, rule: Any) -> RuleRefs:
    """:func:`check_rule`, raising ``ValidationFailed`` (every error with its JSON path) on errors."""
    refs = check_rule(conn, guild_id, rule)
    if refs.errors:
        raise ValidationFailed("invalid rule", refs.errors)
    return refs


def check_rules(conn: Connection, guild_id: int, body: Any) -> tuple[list[ErrorDetail], list[ErrorDetail]]:
    """Errors and warnings of one rule or a list (paths ``[i].…`` for a list), for the validate endpoint."""
    if isinstance(body, Mapping) and "rules" in body:
        body = body["rules"]
    if isinstance(body, Mapping):
        refs = check_rule(conn, guild_id, body)
        return refs.errors, refs.warnings
    errors: list[ErrorDetail] = []
    warnings: list[ErrorDetail] = []
    for i, rule in enumerate(body if isinstance(body, list) else ()):
        refs = check_rule(conn, guild_id, rule, base=f"[{i}]")
        errors.extend(refs.errors)
        warnings.extend(refs.warnings)
    return errors, warnings


# ---------------------------------------------------------------- names joined into other read models

def with_channel_names(conn: Connection, guild_id: int, groups: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Regions or taxonomy tags, each with ``channels``: its ``channel_ids`` resolved, in order."""
    ids = {int(c) for g in groups for c in g.get("channel_ids") or () if str(c).isdigit()}
    refs = channel_refs(conn, guild_id, ids)
    return [{**g, "channels": [refs[int(c)].as_dict() for c in g.get("channel_ids") or () if str(c).isdigit()]}
            for g in groups]


def settings_references(conn: Connection, guild_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """The channels (announcements, level-ups) and roles (admin roles) the settings name, resolved."""
    channels = [s for s in (_snowflake(values.get(k)) for k in ("announcements_channel_id", "levelup_channel_id"))
                if s is not None]
    roles = [s for s in (_snowflake(r) for r in values.get("admin_role_ids") or ()) if s is not None]
    return {"channels": refs_json(channel_refs(conn, guild_id, channels)),
            "roles": refs_json(role_refs(conn, guild_id, roles))}


def name_top_channels(conn: Connection, guild_id: int, overview: Mapping[str, Any]) -> dict[str, Any]:
    """The overview with a ``name`` (and ``deleted``) on each of its top channels."""
    tops = list(overview.get("top_channels") or ())
    refs = channel_refs(conn, guild_id, (int(t["channel_id"]) for t in tops))
    named = [{**t, "name": refs[int(t["channel_id"])].name, "deleted": refs[int(t["channel_id"])].deleted}
             for t in tops]
    return {**overview, "top_channels": named}


__all__ = ["DEFAULT_TTL", "DIRECTORY_EVENTS", "Freshness", "Ref", "RuleRefs", "Snapshot", "apply_events",
           "channel_entry", "channel_refs", "check_rule", "check_rules", "ensure_fresh", "fetch", "listing",
           "name_top_channels", "require_valid_refs", "role_entry", "role_refs", "settings_references",
           "store_snapshot", "with_channel_names"]
