"""Index the Functions app with the real worker (``worker_index.py`` in ``.venv-worker``), and the
checks the Functions host makes on what the worker reports that the worker itself does not.

The worker for Python 3.12 (``azure-functions-worker`` 4.x) ships inside the Functions host image and
is not on PyPI; the worker for Python 3.13+ is (``azure-functions-runtime``), with the same indexing
code (``loader.index_function_app``, ``Registry.add_indexed_function``). ``.venv-worker`` is a
Python 3.13 environment with only the ``worker`` dependency group of ``uv.lock``; :func:`worker_python`
builds it when missing (``uv sync``, seconds from the cache).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.infra import bicep

ROOT = Path(__file__).resolve().parents[2]
WORKER_ENV = ROOT / ".venv-worker"
SCRIPT = Path(__file__).with_name("worker_index.py")

# Azure Storage queue names: 3-63 characters, lower-case letters, digits and single hyphens,
# starting and ending with a letter or digit ("Naming Queues and Metadata").
QUEUE_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
# Function names (host): a letter, then letters, digits, '_' or '-', at most 128 characters.
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
# NCRONTAB with seconds: {second} {minute} {hour} {day} {month} {day-of-week}.
CRON_FIELDS = [("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
               ("day-of-week", 0, 6)]
CRON_PART = re.compile(r"^(\*|(\d+)(-(\d+))?)(/(\d+))?$")
# Binding types the extension bundle [4.*, 5.0.0) provides for what this app uses.
KNOWN_TYPES = {"httpTrigger", "http", "queueTrigger", "queue", "timerTrigger", "blobTrigger", "blob"}


def _python313() -> str | None:
    candidates = []
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"), reverse=True)
    candidates += [p for p in (shutil.which("python3.13"),) if p]
    found = subprocess.run(["uv", "python", "find", "3.13"], capture_output=True, text=True, check=False)
    if found.returncode == 0 and found.stdout.strip():
        candidates.append(found.stdout.strip())
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


def worker_python() -> Path:
    """``.venv-worker/bin/python``, after making sure it matches ``uv.lock``'s worker group."""
    python = _python313()
    if python is None:
        raise RuntimeError("the Functions worker checks need Python 3.13 (the worker on PyPI, "
                           "azure-functions-runtime, requires it): pyenv install 3.13, or apt-get install python3.13")
    done = subprocess.run(["uv", "sync", "--frozen", "--quiet", "--only-group", "worker", "--python", python],
                          cwd=ROOT, env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(WORKER_ENV)},
                          capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"uv sync of .venv-worker failed: {done.stderr.strip()}")
    return WORKER_ENV / "bin" / "python"


def index(app_dir: Path, python: Path) -> dict[str, Any]:
    """What the worker reports for the app in ``app_dir``: ``{"functions": [...]}`` or ``{"error": ...}``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(python), str(SCRIPT), str(app_dir)], cwd=app_dir, env=env, capture_output=True,
                          text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"worker_index.py failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def app_settings(api_bicep: Path = ROOT / "infra/modules/api.bicep") -> set[str]:
    """The app settings infra gives the Function App (the hostSettings and synapseSettings variables)."""
    variables = bicep.declarations(api_bicep, "variable")
    names: set[str] = set()
    for var in ("hostSettings", "synapseSettings"):
        names |= set(bicep.properties(variables[var].body))
    return names


def local_settings(path: Path = ROOT / "local.settings.sample.json") -> set[str]:
    return set(json.loads(path.read_text())["Values"])


def infra_queues(main_bicep: Path = ROOT / "infra/main.bicep") -> set[str]:
    node = bicep.declarations(main_bicep, "variable")["queueNames"].node
    array = next(c for c in node.named_children if c.type == "array")
    return {bicep.unquote(c) for c in array.named_children if c.type == "string"}


def _cron(schedule: str, where: str) -> list[str]:
    fields = schedule.split()
    if len(fields) != 6:
        return [f"{where}: schedule {schedule!r} has {len(fields)} fields; NCRONTAB needs 6 "
                "({second} {minute} {hour} {day} {month} {day-of-week})"]
    out = []
    for value, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for part in value.split(","):
            m = CRON_PART.match(part)
            numbers = [int(g) for g in (m.group(2), m.group(4)) if g] if m else []
            if m is None or any(not low <= n <= high for n in numbers) or (m.group(6) and int(m.group(6)) == 0):
                out.append(f"{where}: schedule {schedule!r}: {name} field {value!r} is not valid ({low}-{high})")
    return out


def host_problems(report: dict[str, Any], *, settings: set[str], local: set[str], queues: set[str]) -> list[str]:
    """What the host (or the first trigger poll) would refuse in the worker's report."""
    if "error" in report:
        return [f"the worker refused the app: {report['error']}"]
    out: list[str] = []
    names = [f["name"] for f in report["functions"]]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"function name {dup!r} is used twice")
    for function in report["functions"]:
        name = function["name"]
        if not FUNCTION_NAME.match(name):
            out.append(f"{name}: not a valid function name")
        triggers = [b for b in function["bindings"] if b["type"].endswith("Trigger")]
        if len(triggers) != 1:
            out.append(f"{name}: needs exactly one trigger, has {len(triggers)}")
        for binding in function["bindings"]:
            where = f"{name}.{binding['name']} ({binding['type']})"
            if binding["type"] not in KNOWN_TYPES:
                out.append(f"{where}: binding type not in the extension bundle")
            if binding["type"] in ("queueTrigger", "queue"):
                queue = binding.get("queueName", "")
                if not QUEUE_NAME.match(queue):
                    out.append(f"{where}: queue name {queue!r} is not a valid Azure Storage queue name "
                               "(3-63 lower-case letters, digits, single hyphens)")
                elif queue not in queues:
                    out.append(f"{where}: queue {queue!r} is not created by infra/main.bicep (queueNames)")
                connection = binding.get("connection") or "AzureWebJobsStorage"
                if f"{connection}__queueServiceUri" not in settings and connection not in settings:
                    out.append(f"{where}: connection {connection!r} has no app setting in infra "
                               f"({connection}__queueServiceUri for an identity connection)")
                if connection not in local:
                    out.append(f"{where}: connection {connection!r} is not in local.settings.sample.json")
            if binding["type"] == "timerTrigger":
                out.extend(_cron(str(binding.get("schedule", "")), where))
    return out
