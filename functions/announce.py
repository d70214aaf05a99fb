"""Queue trigger ``announce`` on ``synapse-announce``: post the outbox rows a message names.

Decode, call one service, log. A malformed message logs what is wrong and raises, so it ends in
``synapse-announce-poison`` after ``maxDequeueCount`` tries. Discord failures do not raise: the
service records them on the outbox rows (failed, or pending with ``next_attempt_at`` for the sweep).
Message shape and payload contract: ``synapse/discord/README.md``.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("synapse.functions.announce")

ANNOUNCE_QUEUE = "synapse-announce"


@bp.queue_trigger(arg_name="msg", queue_name=ANNOUNCE_QUEUE, connection="AzureWebJobsStorage")
def announce(msg: func.QueueMessage) -> None:
    handle(msg.get_body(), message_id=msg.id, dequeue_count=msg.dequeue_count)


def handle(body: bytes | str, *, message_id: str | None = None, dequeue_count: int | None = None) -> None:
    """The trigger's work, callable without the Functions host (the local runner, tests)."""
    from synapse.bootstrap import container
    from synapse.errors import EnvelopeError
    from synapse.services.announce import announcer_for, handle_message

    try:
        report = handle_message(body, announcer=announcer_for(container()))
    except EnvelopeError as exc:
        log.error("rejected announce message: %s", exc.message,
                  extra={"message_id": message_id, "dequeue_count": dequeue_count, "errors": exc.details()})
        raise
    log.info("announce message done", extra={"message_id": message_id, **report.as_log()})
