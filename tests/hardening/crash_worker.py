"""A queue worker process that kills itself (SIGKILL) between the ledger write and the COMMIT.

Run by ``test_faults_pipeline``: it commits ``--kill-at - 1`` messages normally, then, on message
``--kill-at``, lets ingest write everything (lake rows, postings, wallets, outbox rows), writes a
marker with what it wrote, and SIGKILLs itself before the transaction commits. The message was
received with a lease of ``--lease`` seconds, so it becomes visible again soon after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--storage", required=True)
    ap.add_argument("--queue", required=True)
    ap.add_argument("--announce-queue", required=True)
    ap.add_argument("--kill-at", type=int, default=3)
    ap.add_argument("--lease", type=int, default=4)
    ap.add_argument("--marker", required=True)
    args = ap.parse_args()

    from synapse.bootstrap import Container, set_container
    from synapse.config import load_settings
    from synapse.runner.discovery import discover, host_settings, load_app
    from synapse.runner.queue_worker import QueueWorker
    from synapse.services import ingest

    settings = load_settings(SYNAPSE_ENV="test", AzureWebJobsStorage=args.storage, SYNAPSE_EVENTS_QUEUE=args.queue,
                             SYNAPSE_ANNOUNCE_QUEUE=args.announce_queue)
    set_container(Container(settings, database_url=args.db))
    real = ingest.run
    seen: list[int] = []

    def process(conn: Any, events: Any, **kw: Any) -> Any:
        result = real(conn, events, **kw)
        seen.append(1)
        if len(seen) == args.kill_at:
            Path(args.marker).write_text(json.dumps({
                "postings": result.postings, "new": result.new, "committed": len(seen) - 1,
                "event_ids": [e.source_event_id for e in events if e.source_system == "discord"]}))
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # no except, no finally, no rollback: the process is gone
        return result

    ingest.run = process  # type: ignore[assignment]
    queues, _ = discover(load_app())
    fn = next(q for q in queues if q.name == "ingest")
    host = dataclasses.replace(host_settings(), function_timeout=timedelta(seconds=args.lease),
                               visibility_timeout=timedelta(0), batch_size=1, new_batch_threshold=0)
    worker = QueueWorker(dataclasses.replace(fn, queue=args.queue), connection=args.storage, settings=host,
                         workers=1)
    worker.ensure_queues()
    worker.drain(timeout=150)
    sys.exit("drained without reaching the kill point")


if __name__ == "__main__":
    main()
