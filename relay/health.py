"""``GET /healthz`` for the Container Apps probes: gateway session and spool backlog.

Healthy (200) while the gateway is connected, or has been down for less than
``grace`` seconds (discord.py reconnects by itself; a restart would only lose
the buffer). A spool backlog is reported but never fails the probe: restarting
the relay does not bring the queue back, and the spool is what keeps events
safe meanwhile.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from relay.context import GatewayStatus
from relay.spool import Spool
from relay.telemetry import Stats


class HealthServer:
    def __init__(self, *, gateway: GatewayStatus, spool: Spool, stats: Stats, buffered: Any,
                 grace: float = 120.0) -> None:
        self.gateway = gateway
        self.spool = spool
        self.stats = stats
        self.buffered = buffered
        self.grace = grace
        self._runner: web.AppRunner | None = None
        self.port = 0

    def report(self) -> tuple[int, dict[str, Any]]:
        healthy = self.gateway.connected or self.gateway.down_for() < self.grace
        body = {
            "status": "ok" if healthy else "gateway_down",
            "gateway_connected": self.gateway.connected,
            "gateway_down_seconds": round(self.gateway.down_for(), 1),
            "spool_backlog": self.spool.pending,
            "spool_bytes": self.spool.size_bytes(),
            "buffered_events": len(self.buffered),
            "counters": self.stats.as_dict(),
        }
        return (200 if healthy else 503), body

    async def _healthz(self, _request: web.Request) -> web.Response:
        status, body = self.report()
        return web.json_response(body, status=status)

    async def start(self, port: int, host: str = "0.0.0.0") -> int:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
