"""function_app.py indexed by the real Azure Functions Python worker, and the host's rules on the result."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.contract import functions_host as host

ROOT = host.ROOT
QUEUE = {"direction": "IN", "type": "queueTrigger", "name": "msg", "connection": "AzureWebJobsStorage"}
TIMER = {"direction": "IN", "type": "timerTrigger", "name": "timer", "runOnStartup": False, "useMonitor": False}
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "http_app_func": [{"direction": "IN", "type": "httpTrigger", "name": "req", "authLevel": "ANONYMOUS",
                       "route": "/{*route}"},
                      {"direction": "OUT", "type": "http", "name": "$return"}],
    "ingest": [{**QUEUE, "queueName": "synapse-events"}],
    "announce": [{**QUEUE, "queueName": "synapse-announce"}],
    "followups": [{**QUEUE, "queueName": "synapse-followups"}],
    "voice_ticks": [{**TIMER, "schedule": "0 * * * * *"}],
    "analytics_rollups": [{**TIMER, "schedule": "30 * * * * *"}],
    "season_rolls": [{**TIMER, "schedule": "0 */5 * * * *"}],
    "outbox_sweep": [{**TIMER, "schedule": "15 * * * * *"}],
}


@pytest.fixture(scope="module")
def python() -> Path:
    return host.worker_python()


def _problems(report: dict[str, Any]) -> list[str]:
    return host.host_problems(report, settings=host.app_settings(), local=host.local_settings(),
                              queues=host.infra_queues())


def _copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """The app (function_app.py, functions/, host.json) copied, with one edit in ``file``."""
    shutil.copy(ROOT / "function_app.py", tmp_path)
    shutil.copy(ROOT / "host.json", tmp_path)
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / file
    source = target.read_text()
    assert old in source, old
    target.write_text(source.replace(old, new, 1))
    return tmp_path


def test_the_worker_indexes_every_function_with_its_bindings(python: Path) -> None:
    """Every function, trigger, binding name, queue name, schedule and connection, as the worker reports them."""
    report = host.index(ROOT, python)
    assert "error" not in report, report
    found = {f["name"]: f["bindings"] for f in report["functions"]}
    assert set(found) == set(EXPECTED)
    for name, bindings in EXPECTED.items():
        assert len(found[name]) == len(bindings), (name, found[name])
        for got, want in zip(found[name], bindings, strict=True):
            assert {k: got.get(k) for k in want} == want, (name, got)
    assert "POST" in found["http_app_func"][0]["methods"]
    assert all(f["script_file"] == "function_app.py" for f in report["functions"])


def test_the_host_would_accept_what_the_worker_reports(python: Path) -> None:
    """Queue names valid and created by infra, connections configured in infra and locally, schedules valid."""
    assert _problems(host.index(ROOT, python)) == []


def test_a_binding_name_typo_is_refused_by_the_worker(python: Path, tmp_path: Path) -> None:
    """arg_name "mgs" for a parameter "msg": the worker's own check refuses the app, naming both."""
    app = _copy(tmp_path, "functions/ingest.py", 'arg_name="msg"', 'arg_name="mgs"')
    problems = _problems(host.index(app, python))
    assert len(problems) == 1, problems
    assert problems[0].startswith("the worker refused the app: FunctionLoadError")
    assert "ingest" in problems[0] and "msg" in problems[0]


def test_an_invalid_queue_name_fails(python: Path, tmp_path: Path) -> None:
    """A queue name Azure Storage would refuse (capitals, underscore) fails naming the function."""
    app = _copy(tmp_path, "functions/announce.py", '"synapse-announce"', '"Synapse_Announce"')
    problems = _problems(host.index(app, python))
    assert problems == ["announce.msg (queueTrigger): queue name 'Synapse_Announce' is not a valid Azure Storage "
                        "queue name (3-63 lower-case letters, digits, single hyphens)"]


def test_a_queue_infra_does_not_create_fails(python: Path, tmp_path: Path) -> None:
    """A valid name for a queue infra/main.bicep does not create fails (the identity cannot create queues)."""
    app = _copy(tmp_path, "functions/followups.py", '"synapse-followups"', '"synapse-follow-ups"')
    assert _problems(host.index(app, python)) == [
        "followups.msg (queueTrigger): queue 'synapse-follow-ups' is not created by infra/main.bicep (queueNames)"]


def test_a_connection_setting_typo_fails(python: Path, tmp_path: Path) -> None:
    """connection="AzureWebJobStorage" has no setting in infra nor locally: both are named."""
    app = _copy(tmp_path, "functions/ingest.py", 'connection="AzureWebJobsStorage"',
                'connection="AzureWebJobStorage"')
    problems = _problems(host.index(app, python))
    assert len(problems) == 2, problems
    assert all(p.startswith("ingest.msg (queueTrigger): connection 'AzureWebJobStorage'") for p in problems)


def test_a_five_field_schedule_fails(python: Path, tmp_path: Path) -> None:
    """A Unix cron (5 fields) where NCRONTAB needs 6 fails naming the timer."""
    app = _copy(tmp_path, "functions/timers.py", 'schedule="0 */5 * * * *"', 'schedule="*/5 * * * *"')
    problems = _problems(host.index(app, python))
    assert len(problems) == 1 and problems[0].startswith("season_rolls.timer (timerTrigger): schedule '*/5 * * * *' "
                                                         "has 5 fields"), problems


def test_two_function_apps_are_refused_by_the_worker(python: Path, tmp_path: Path) -> None:
    """A second top-level FunctionApp in function_app.py is refused by the worker's indexing."""
    app = _copy(tmp_path, "function_app.py", "app.register_functions(timers.bp)",
                "app.register_functions(timers.bp)\nother = func.FunctionApp()")
    problems = _problems(host.index(app, python))
    assert len(problems) == 1 and "More than one" in problems[0], problems
