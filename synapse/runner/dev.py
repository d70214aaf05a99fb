"""``synapse dev``: the whole Functions app on this machine (HTTP, queue pollers, timers)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from synapse.runner.discovery import QueueSettings, discover, host_settings, load_app
from synapse.runner.queue_worker import QueueWorker
from synapse.runner.timers import TimerWorker

log = logging.getLogger("synapse.runner")


@dataclass
class Runner:
    """The pollers and timers of one Functions app; ``start``/``stop`` them around the HTTP server."""

    queues: list[QueueWorker] = field(default_factory=list)
    timers: list[TimerWorker] = field(default_factory=list)

    @classmethod
    def build(cls, *, storage_connection: str, app: Any | None = None, host: QueueSettings | None = None,
              workers: int | None = None, timers: bool = True) -> Runner:
        queue_functions, timer_functions = discover(app if app is not None else load_app())
        settings = host or host_settings()
        runner = cls()
        for q in queue_functions:
            connection = os.environ.get(q.connection) or storage_connection
            runner.queues.append(QueueWorker(q, connection=connection, settings=settings, workers=workers))
        if timers:
            runner.timers.extend(TimerWorker(t) for t in timer_functions)
        return runner

    def start(self) -> None:
        for q in self.queues:
            try:
                q.start()
            except Exception as exc:  # storage unreachable: say what to do instead of a stack trace
                from synapse.errors import StorageError

                self.stop()
                raise StorageError(f"cannot reach the queue {q.function.queue!r}: {str(exc).splitlines()[0]}",
                                   hint="start Azurite (scripts/dev does) or set AzureWebJobsStorage") from exc
            log.info("polling queue", extra={"function": q.function.name, "queue": q.function.queue,
                                             "batch_size": q.batch_size, "max_dequeue_count":
                                             q.settings.max_dequeue_count})
        for t in self.timers:
            t.start()
            log.info("timer scheduled", extra={"function": t.function.name, "schedule": t.function.schedule})

    def stop(self) -> None:
        for t in self.timers:
            t.stop()
        for q in self.queues:
            q.stop()


def announce_credentials_notice(settings: Any) -> None:
    """Said once at start-up: without Discord credentials nothing is posted, and nothing is lost."""
    if not settings.has_discord_credentials:
        log.warning("Discord credentials are missing (DISCORD_BOT_TOKEN, DISCORD_APPLICATION_ID): "
                    "announcements and role changes stay pending in the outbox and are sent once they are set")


def serve(*, port: int | None = None, host: str = "127.0.0.1", workers: int | None = None,
          timers: bool = True) -> None:
    """Run the HTTP app, the queue pollers and the timers until interrupted."""
    import uvicorn

    from synapse import logs
    from synapse.bootstrap import container
    from synapse.runner.http import asgi_app

    c = container()
    logs.configure(c.settings.log_level)
    announce_credentials_notice(c.settings)
    _ = c.engine  # connect (and start the embedded PostgreSQL) before the first message arrives
    runner = Runner.build(storage_connection=c.settings.storage_connection, workers=workers, timers=timers)
    runner.start()
    bind = port or c.settings.http_port
    log.info("http app listening", extra={"url": f"http://{host}:{bind}/", "health": f"http://{host}:{bind}/api/health"})
    try:
        uvicorn.Server(uvicorn.Config(asgi_app(), host=host, port=bind, log_level="warning",
                                      lifespan="on")).run()
    finally:
        runner.stop()
