"""Deferred work: jobs on the follow-up queue, finished through the interaction webhook.

A handler that may pass Discord's 3-second window answers with a deferred
response and returns a job; the dispatcher sends it to ``SYNAPSE_FOLLOWUP_QUEUE``
after its transaction commits. The queue-triggered function
(``functions/followups.py``) calls :func:`run_job`, which does the work in one
transaction and edits the original response
(``PATCH /webhooks/{application_id}/{token}/messages/@original``). The token
lives 15 minutes: a job older than that is dropped with a log line (Discord
would refuse the edit), and a job is retried by the queue only while it still
has time.

Job (JSON)::

    {"v": 1, "kind": "privacy_export" | "privacy_erase" | "rank_card", "interaction_id": "…",
     "application_id": "…", "token": "…", "guild_id": "…", "user_id": "…", "issued_at": "ISO 8601",
     "target_id": "…", "name": "…", "avatar": "hash" | null}      # the last three: rank_card only

``rank_card`` (``/profile``, ``/rank``): the command has already answered with its embed (the
text fallback); the job draws the card (``rankcard.py``) from the same profile read model, with
the avatar from Discord's CDN (``Settings.discord_cdn_base``; initials when it cannot be had),
and edits the answer to carry the PNG as ``files[0]`` with the embed's image set to
``attachment://rank.png``. A card that cannot be drawn, or an answer Discord no longer has
(4xx), leaves the embed as it is: nothing is retried; a 5xx or a rate limit raises (retried).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from synapse.errors import EnvelopeError, ErrorDetail

if TYPE_CHECKING:
    from synapse.clock import Clock
    from synapse.db.uow import DbEngine
    from synapse.discord.rest import DiscordRest
    from synapse.interactions.models import Interaction

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(minutes=15)
MAX_PLAIN_UPLOAD = 8 * 1024 * 1024   # larger exports are sent gzipped (Discord's bot upload limit is 10 MiB)
KINDS = ("privacy_export", "privacy_erase", "rank_card")


@dataclass(frozen=True)
class Job:
    kind: str
    interaction_id: int
    application_id: str
    token: str
    guild_id: int
    user_id: int
    issued_at: datetime
    target_id: int | None = None     # rank_card: whose card
    name: str = ""                   # rank_card: the name the embed showed
    avatar: str | None = None        # rank_card: the avatar hash from the interaction

    def expired(self, now: datetime) -> bool:
        return now - self.issued_at >= TOKEN_LIFETIME


def job_for(kind: str, interaction: Interaction, now: datetime) -> dict[str, Any]:
    return {"v": 1, "kind": kind, "interaction_id": str(interaction.id),
            "application_id": str(interaction.application_id), "token": interaction.token,
            "guild_id": str(interaction.guild_id), "user_id": str(interaction.invoker.user_id),
            "issued_at": now.isoformat()}


def rank_card_job(interaction: Interaction, now: datetime, *, target_id: int, name: str,
                  avatar: str | None) -> dict[str, Any]:
    return {**job_for("rank_card", interaction, now), "target_id": str(target_id), "name": name[:100],
            "avatar": avatar}


def parse_job(body: str | bytes) -> Job:
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict) or raw.get("v") != 1 or raw.get("kind") not in KINDS:
            raise ValueError("not a follow-up job")
        issued = datetime.fromisoformat(raw["issued_at"])
        if issued.tzinfo is None:
            raise ValueError("issued_at needs a time zone")
        job = Job(raw["kind"], int(raw["interaction_id"]), str(raw["application_id"]), str(raw["token"]),
                  int(raw["guild_id"]), int(raw["user_id"]), issued)
        if job.kind == "rank_card":
            avatar = raw.get("avatar")
            job = replace(job, target_id=int(raw["target_id"]), name=str(raw.get("name") or ""),
                          avatar=str(avatar) if avatar else None)
        return job
    except (ValueError, KeyError, TypeError) as exc:
        raise EnvelopeError("bad follow-up job", [ErrorDetail("$", str(exc))]) from None


def run_job(job: Job, *, engine: DbEngine, rest: DiscordRest, clock: Clock,
            avatars: Callable[[int, str], bytes | None] | None = None) -> str:
    """Do one job and finish its interaction; return what happened ("done", "expired"; for a rank
    card also "fallback": the embed stays without a card). ``avatars(user_id, hash)`` fetches an
    avatar for a rank card (None: draw initials)."""
    if job.expired(clock.now()):
        log.warning("follow-up job expired before it ran; dropped", extra={
            "kind": job.kind, "interaction_id": job.interaction_id, "issued_at": job.issued_at.isoformat()})
        return "expired"
    if job.kind == "rank_card":
        return _rank_card(job, engine=engine, rest=rest, avatars=avatars)
    if job.kind == "privacy_export":
        _export(job, engine=engine, rest=rest, clock=clock)
    else:
        _erase(job, engine=engine, rest=rest)
    return "done"


def _export(job: Job, *, engine: DbEngine, rest: DiscordRest, clock: Clock) -> None:
    from synapse.db.uow import unit_of_work
    from synapse.services.privacy import export_member

    with unit_of_work(engine) as conn:
        data = export_member(conn, job.guild_id, job.user_id)
    data["exported_at"] = clock.now().isoformat()
    content = json.dumps(data, indent=2, ensure_ascii=False).encode()
    filename = f"synapse-export-{job.guild_id}-{job.user_id}.json"
    content_type = "application/json"
    if len(content) > MAX_PLAIN_UPLOAD:  # a very active member: stay under Discord's upload limit
        import gzip

        content, filename, content_type = gzip.compress(content, mtime=0), filename + ".gz", "application/gzip"
    rows = sum(len(v) for v in data.values() if isinstance(v, list))
    from synapse.discord.rest import Upload

    rest.edit_original_interaction_response(job.token, {
        "content": f"Here is everything Synapse stores about you in this server ({rows} records).",
        "allowed_mentions": {"parse": []},
    }, application_id=job.application_id, files=[Upload(filename, content, content_type)])


def _erase(job: Job, *, engine: DbEngine, rest: DiscordRest) -> None:
    from synapse.admin.audit import Actor
    from synapse.db.uow import unit_of_work
    from synapse.services.privacy import erase_member

    with unit_of_work(engine) as conn:
        report = erase_member(conn, job.guild_id, job.user_id,
                              actor=Actor.user(job.user_id, request_id=str(job.interaction_id)))
    rest.edit_original_interaction_response(job.token, {
        # A retried job finds nothing left: still "erased", without a misleading count of 0.
        "content": "Your data in this server was erased"
                   + (f" ({report.total} records deleted)." if report.total else "."),
        "embeds": [], "components": [], "allowed_mentions": {"parse": []},
    }, application_id=job.application_id)


def _rank_card(job: Job, *, engine: DbEngine, rest: DiscordRest,
               avatars: Callable[[int, str], bytes | None] | None) -> str:
    from synapse.db.uow import unit_of_work
    from synapse.errors import DiscordError, NotFound, RateLimited
    from synapse.interactions import rankcard
    from synapse.interactions.commands.profile import card_data
    from synapse.interactions.commands.profile import render as render_embed
    from synapse.services.profile import member_profile

    target = job.target_id if job.target_id is not None else job.user_id
    try:
        with unit_of_work(engine, read_only=True) as conn:
            profile = member_profile(conn, job.guild_id, target)
    except NotFound:
        return "fallback"    # erased since the command answered: its embed says what it said
    name = job.name or profile.display_name or str(target)
    image: bytes | None = None
    if job.avatar and avatars is not None:
        try:
            image = avatars(target, job.avatar)
        except Exception:     # a fetcher must not cost the card: draw initials
            log.warning("rank card: avatar fetch failed; drawing initials", exc_info=True)
    try:
        png = rankcard.render(card_data(profile, name, image))
    except Exception:
        log.exception("rank card: rendering failed; the embed stays", extra={"interaction_id": job.interaction_id})
        return "fallback"
    embed = render_embed(profile, name, None)
    embed["image"] = {"url": f"attachment://{rankcard.FILENAME}"}
    from synapse.discord.rest import Upload

    try:
        rest.edit_original_interaction_response(job.token, {
            "embeds": [embed], "allowed_mentions": {"parse": []},
        }, application_id=job.application_id, files=[Upload(rankcard.FILENAME, png, "image/png",
                                                            description=f"Rank card of {name}"[:1024])])
    except RateLimited:
        raise
    except DiscordError as exc:
        if 400 <= exc.status < 500:   # the answer was deleted or the token is dead: nothing to retry
            log.warning("rank card: Discord refused the edit (%s); the embed stays", exc.status,
                        extra={"interaction_id": job.interaction_id})
            return "fallback"
        raise
    return "done"
