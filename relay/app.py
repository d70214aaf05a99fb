"""``python -m relay``: the always-on process (gateway → pipeline → queue), stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Protocol

import discord

from relay.client import RelayBot
from relay.config import RelayConfig
from relay.context import RelayContext
from relay.health import HealthServer
from relay.pipeline import Pipeline
from relay.sender import QueueTransport

log = logging.getLogger("relay")
STATS_EVERY = 60.0


def build_transport(config: RelayConfig) -> QueueTransport:
    from synapse.queues import queue_client

    client = queue_client(config.events_queue, connection=config.storage_connection,
                          service_uri=config.queue_service_uri, client_id=config.managed_identity_client_id)
    return QueueTransport(client)


async def _log_stats(pipeline: Pipeline) -> None:
    while True:
        await asyncio.sleep(STATS_EVERY)
        log.info("relay stats", extra={"spool_backlog": pipeline.spool.pending,
                                       "buffered_events": len(pipeline.buffer), **pipeline.stats.as_dict()})


class Gateway(Protocol):
    async def start(self, token: str) -> None: ...
    async def close(self) -> None: ...


async def serve(config: RelayConfig, *, gateway_factory: Callable[[RelayContext], Gateway] = RelayBot) -> int:
    """Run until SIGTERM/SIGINT (or the gateway gives up); then flush or spool and return an exit code.

    ``gateway_factory`` is the discord.py client in production; tests pass a stand-in
    that produces events without Discord, to drive the real signal and shutdown path.
    """
    transport = build_transport(config)
    try:
        await asyncio.to_thread(transport.ensure_blocking)
    except Exception as exc:  # the queue may be down at start: the spool covers it
        log.warning("could not ensure the events queue", extra={"error": type(exc).__name__})
    pipeline = Pipeline(transport, config.spool_dir, linger=config.linger_seconds,
                        capacity=config.buffer_events)
    ctx = RelayContext(sink=pipeline.put, fingerprint_key=config.fingerprint_key, stats=pipeline.stats)
    bot = gateway_factory(ctx)
    health = HealthServer(gateway=ctx.gateway, spool=pipeline.spool, stats=pipeline.stats,
                          buffered=pipeline.buffer)
    await health.start(config.health_port)
    pipeline.start()
    stats_task = asyncio.create_task(_log_stats(pipeline))
    log.info("relay starting", extra={"queue": config.events_queue, "spool_dir": str(config.spool_dir),
                                      "health_port": health.port, "spool_backlog": pipeline.spool.pending})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = asyncio.create_task(bot.start(config.bot_token))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({gateway, stopper}, return_when=asyncio.FIRST_COMPLETED)
    code = 0 if stop.is_set() else 1  # the gateway ending by itself is a failure: let the platform restart us
    if gateway.done() and not gateway.cancelled() and gateway.exception() is not None:
        error = gateway.exception()
        code = 2 if isinstance(error, discord.LoginFailure | discord.PrivilegedIntentsRequired) else 1
        log.error("gateway stopped", extra={"error": type(error).__name__})
    log.info("relay stopping: flushing the buffer")
    await bot.close()  # no more events come in after this
    stopper.cancel()
    stats_task.cancel()
    await pipeline.stop()
    await health.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await gateway
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return code
