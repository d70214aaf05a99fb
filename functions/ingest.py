"""Queue trigger ``ingest`` on ``synapse-events``: one message = one envelope = one transaction.

Decode, call one service, log. A failure raises, so the host (or the local runner)
makes the message visible again after ``visibilityTimeout`` and moves it to
``synapse-events-poison`` after ``maxDequeueCount`` tries.
"""

import azure.functions as func

bp = func.Blueprint()

EVENTS_QUEUE = "synapse-events"


@bp.queue_trigger(arg_name="msg", queue_name=EVENTS_QUEUE, connection="AzureWebJobsStorage")
def ingest(msg: func.QueueMessage) -> None:
    from synapse.bootstrap import container
    from synapse.services import outbox_queue
    from synapse.services.ingest import handle

    c = container()
    handle(msg.get_body(), c.engine, clock=c.clock,
           announce=lambda ids: outbox_queue.enqueue(c.settings, ids),
           message_id=msg.id, dequeue_count=msg.dequeue_count)
