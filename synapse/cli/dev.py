"""``synapse dev`` (the local runner) and ``synapse simulate`` (simulated community traffic)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from synapse.cli.common import out, snowflake

if TYPE_CHECKING:
    from synapse.simulate.community import SimulationConfig

DEFAULT_GUILD = "1100000000000000001"


def dev(port: int = typer.Option(0, help="HTTP port (default: SYNAPSE_HTTP_PORT, 7071)"),
        host: str = typer.Option("127.0.0.1", help="Interface to bind"),
        workers: int = typer.Option(0, help="Concurrent messages per queue (default: from host.json)"),
        timers: bool = typer.Option(True, help="Fire timer functions on their schedules")) -> None:
    """Run the Functions app locally: HTTP app, queue pollers (Azurite) and timers."""
    from synapse.runner.dev import serve

    serve(port=port or None, host=host, workers=workers or None, timers=timers)


def _end(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-15T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def simulate(guild: str = typer.Option(DEFAULT_GUILD, help="Guild id the traffic belongs to"),
             seed: int = typer.Option(42, help="Same seed (and --end) → the same events"),
             members: int = typer.Option(40, min=2, max=5000, help="Community size"),
             days: float = typer.Option(3.0, min=0, max=365, help="Length of the simulated period (0: none)"),
             end: str = typer.Option("", help="End of the period, ISO 8601 (default: this hour)"),
             intensity: float = typer.Option(1.0, min=0.01, max=100, help="Multiplies every activity rate"),
             max_events: int = typer.Option(200, min=1, max=500, help="Events per envelope at most"),
             out_file: Path | None = typer.Option(None, "--out", help="Write envelopes here (JSON Lines)"),
             replay: Path | None = typer.Option(None, help="Send the envelopes of this file instead"),
             live: float = typer.Option(0.0, min=0, help="Then keep sending live traffic for this many minutes"),
             ) -> None:
    """Generate realistic traffic for a guild and send it through the events queue (or to a file)."""
    from synapse.bootstrap import container
    from synapse.simulate import send
    from synapse.simulate.community import SimulationConfig, envelopes
    from synapse.simulate.community import simulate as generate

    settings = container().settings
    if replay is not None:
        sent = send.to_queue(send.from_file(replay), settings)
        out.print(f"replayed {sent} envelopes from {replay} to {settings.events_queue}")
        return
    config = SimulationConfig(seed=seed, guild_id=snowflake(guild), members=members, days=days, end=_end(end),
                              intensity=intensity)
    if days == 0:
        if live > 0:
            _live(config, minutes=live, max_events=max_events)
        return
    events = generate(config)
    texts = envelopes(events, max_events=max_events)
    if out_file is not None:
        written = send.to_file(texts, out_file)
        out.print(f"wrote {len(events)} events in {written} envelopes to {out_file}")
    else:
        sent = send.to_queue(texts, settings)
        out.print(f"sent {len(events)} events in {sent} envelopes to queue {settings.events_queue}")
    if live > 0:
        _live(config, minutes=live, max_events=max_events)


def _live(config: SimulationConfig, *, minutes: float, max_events: int) -> None:
    """Real-time traffic: events generated for the coming minutes, sent as their time comes."""
    from dataclasses import replace

    from synapse.bootstrap import container
    from synapse.simulate import send
    from synapse.simulate.community import envelopes, iso
    from synapse.simulate.community import simulate as generate

    now = datetime.now(UTC)
    live_config = replace(config, end=now + timedelta(minutes=minutes), days=minutes / 1440, churn=False)
    pending = generate(live_config)
    settings = container().settings
    out.print(f"live: {len(pending)} events over the next {minutes:g} minutes")
    while pending:
        stamp = iso(datetime.now(UTC))
        due = [e for e in pending if e["occurred_at"] <= stamp]
        if due:
            pending = pending[len(due):]
            send.to_queue(envelopes(due, max_events=max_events), settings)
        time.sleep(1.0)


def requeue_poison(queue: str = typer.Option("", help="Queue whose -poison messages to move back "
                                                     "(default: the events queue)"),
                   limit: int = typer.Option(10_000, min=1, help="Move at most this many")) -> None:
    """Move messages from <queue>-poison back to <queue> (after fixing what made them fail)."""
    from synapse.bootstrap import container
    from synapse.runner.poison import requeue_poison as move

    settings = container().settings
    result = move(settings.storage_connection, queue or settings.events_queue, limit=limit)
    out.print(f"moved {result.moved} message(s) from {result.queue}-poison back to {result.queue}")
