"""What the Functions app declares to the host, and the host settings the runner reproduces."""

from __future__ import annotations

import json
from datetime import timedelta

from synapse.config import PROJECT_ROOT, Settings
from synapse.runner.discovery import discover, functions_of, host_settings, load_app


def test_app_declares_queue_triggers_timers_and_http() -> None:
    """ingest and announce are queue triggers on their queues; timers have schedules; one HTTP app."""
    app = load_app()
    bindings = {f.get_function_name(): f.get_bindings_dict()["bindings"] for f in functions_of(app)}
    assert bindings["ingest"] == [{"direction": bindings["ingest"][0]["direction"], "type": "queueTrigger",
                                   "name": "msg", "queueName": "synapse-events",
                                   "connection": "AzureWebJobsStorage"}]
    announce = bindings["announce"][0]
    assert (announce["type"], announce["queueName"], announce["connection"]) == (
        "queueTrigger", "synapse-announce", "AzureWebJobsStorage")
    http = [b for bs in bindings.values() for b in bs if b["type"] == "httpTrigger"]
    assert len(http) == 1 and http[0]["route"] == "/{*route}"
    queues, timers = discover(app)
    assert {q.queue for q in queues} >= {"synapse-events", "synapse-announce"}
    names = {t.name: t.schedule for t in timers}
    assert names["voice_ticks"] == "0 * * * * *"
    assert names["analytics_rollups"] == "30 * * * * *"
    assert names["season_rolls"] == "0 */5 * * * *"
    assert names["outbox_sweep"] == "15 * * * * *"
    settings = Settings()
    assert {settings.events_queue, settings.announce_queue} <= {q.queue for q in queues}


def test_host_json_queue_settings_match_the_clients() -> None:
    """base64 like TextBase64EncodePolicy; maxDequeueCount agrees with Settings; retries span a DB failover."""
    host = host_settings()
    raw = json.loads((PROJECT_ROOT / "host.json").read_text())
    assert raw["extensions"]["queues"]["messageEncoding"] == "base64"
    assert host.max_dequeue_count == Settings().max_dequeue_count
    assert host.visibility_timeout * (host.max_dequeue_count - 1) >= timedelta(minutes=2)
    assert host.batch_size + host.new_batch_threshold <= Settings().db_pool_size * 2
    assert host.max_polling_interval <= timedelta(seconds=2)
    assert raw["extensions"]["http"]["routePrefix"] == ""
