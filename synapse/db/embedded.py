"""The embedded PostgreSQL 16 used when no ``SYNAPSE_DATABASE_URL`` is set.

It lives in ``<data_dir>/pg`` (git-ignored) and is started on demand through
the ``pgserver`` package; it keeps running after the process exits so the next
command reuses it (``synapse db stop`` stops it).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from synapse.errors import ConfigError

DB_NAME = "synapse"
_SOCKET_PATH_LIMIT = 100  # Unix sockets allow ~107 bytes; leave room for ".s.PGSQL.5432"


def _pgdata(data_dir: Path) -> Path:
    path = (data_dir / "pg").resolve()
    if len(str(path)) + 14 > _SOCKET_PATH_LIMIT:
        # A deep checkout would overflow the socket path: keep the cluster in a short,
        # stable folder named after the project path instead.
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"synapse-pg-{digest}"
    return path


def _quiet_runtime(data_dir: Path) -> None:
    import logging

    if "XDG_RUNTIME_DIR" not in os.environ:
        run = Path(tempfile.gettempdir()) / f"synapse-run-{os.getuid()}"
        run.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(run)
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def start(data_dir: Path) -> tuple[str, float]:
    """Start (or reuse) the embedded server; return a libpq URL to the synapse database and the seconds it took."""
    _quiet_runtime(data_dir)
    try:
        import pgserver
    except ImportError:
        raise ConfigError(
            "no SYNAPSE_DATABASE_URL is set and the embedded PostgreSQL (pgserver) is not installed",
            hint="set SYNAPSE_DATABASE_URL, or install the local tools: uv sync",
        ) from None
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)  # type: ignore[attr-defined]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    elapsed = time.perf_counter() - began
    return f"postgresql://postgres:@/{DB_NAME}?host={pgdata}", elapsed


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; return whether it did.

    Refuses (``ConfigError``) while another live process still uses it, and says which.
    """
    pgdata = _pgdata(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    _quiet_runtime(data_dir)
    import pgserver
    import psutil  # type: ignore[import-untyped]  # a pgserver dependency

    # pgserver stops its server when the last process holding a handle lets go, and keeps those
    # processes' ids in a file. A process killed before letting go (``synapse dev`` ended by a
    # signal) would keep the server up for good: its id is dropped here; live ones are named.
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        pids = [int(p) for p in json.loads(handles.read_text() or "[]")]
        alive = [p for p in pids if p != os.getpid() and psutil.pid_exists(p)]
        if alive:
            raise ConfigError(f"the embedded PostgreSQL is still in use by process {', '.join(map(str, alive))}",
                              hint="stop those first (Ctrl-C in scripts/dev), then run `synapse db stop` again")
        handles.write_text("[]")
    # pgserver runs postgres as its own system user when we are root; let it stop its server.
    pgserver.get_server(str(pgdata), cleanup_mode="stop").cleanup()  # type: ignore[attr-defined]
    if (pgdata / "postmaster.pid").exists():
        raise ConfigError("the embedded PostgreSQL did not stop",
                          hint=f"see {pgdata / 'log'}; or stop it with pg_ctl -D {pgdata} stop")
    return True
