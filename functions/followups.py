"""Queue trigger ``followups`` on ``synapse-followups``: finish deferred slash commands.

A command that cannot answer within Discord's 3 seconds (``/privacy export``,
the erasure button) replies "deferred" and queues a job; this does the work and
edits the original response through the interaction webhook, within the
token's 15 minutes. ``/profile`` and ``/rank`` answer at once and queue a
``rank_card`` job: this draws the card and attaches it to that answer.
Decode, call one service, log. A malformed job is logged and raised (it ends in
``synapse-followups-poison``); an expired one is dropped with a log line; a Discord
or database failure raises so the queue retries it.
Job shape: ``synapse/interactions/followups.py``.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("synapse.functions.followups")

FOLLOWUP_QUEUE = "synapse-followups"   # = Settings.followup_queue's default


@bp.queue_trigger(arg_name="msg", queue_name=FOLLOWUP_QUEUE, connection="AzureWebJobsStorage")
def followups(msg: func.QueueMessage) -> None:
    handle(msg.get_body(), message_id=msg.id, dequeue_count=msg.dequeue_count)


def handle(body: bytes | str, *, message_id: str | None = None, dequeue_count: int | None = None,
           rest: object | None = None) -> str:
    """The trigger's work, callable without the Functions host (the local runner, tests)."""
    from functools import partial

    from synapse.bootstrap import container
    from synapse.discord.rest import DiscordRest, fetch_avatar
    from synapse.errors import EnvelopeError
    from synapse.interactions.followups import parse_job, run_job

    try:
        job = parse_job(body)
    except EnvelopeError as exc:
        log.error("rejected follow-up job: %s", exc.message,
                  extra={"message_id": message_id, "dequeue_count": dequeue_count})
        raise
    c = container()
    client = rest if isinstance(rest, DiscordRest) else DiscordRest.from_settings(c.settings)
    try:
        outcome = run_job(job, engine=c.engine, rest=client, clock=c.clock,
                          avatars=partial(fetch_avatar, c.settings.discord_cdn_base))
    finally:
        if client is not rest:
            client.close()
    log.info("follow-up job %s", outcome, extra={"message_id": message_id, "kind": job.kind,
                                                 "interaction_id": job.interaction_id})
    return outcome
