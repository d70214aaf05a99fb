"""Real local services for tests: the embedded PostgreSQL (or SYNAPSE_TEST_DATABASE_URL) and Azurite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from synapse.config import PROJECT_ROOT
from synapse.db.engine import sqlalchemy_url, with_database
from synapse.db.migrate import upgrade
from synapse.queues import azurite_connection_string


def _schema_digest() -> str:
    """A digest of the migrations: test runs with the same schema share one template database."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted((PROJECT_ROOT / "synapse/db/migrations/versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


TEMPLATE_DB = f"synapse_template_{_schema_digest()}"
PURE_TIER_ENV = "SYNAPSE_TEST_PURE"


def pure_tier() -> bool:
    """Whether this run is the pure tier (``SYNAPSE_TEST_PURE=1``): no service may be started."""
    return os.environ.get(PURE_TIER_ENV) == "1"


def _refusal(what: str) -> RuntimeError:
    return RuntimeError(f"{what} is not available in the pure test tier ({PURE_TIER_ENV}=1): a test that "
                        "needs it must be marked integration (tests/README.md)")


def _refuse(what: str) -> None:
    if pure_tier():
        raise _refusal(what)


def refuse_embedded(data_dir: Path) -> tuple[str, float]:
    """Stands in for ``synapse.db.embedded.start`` in the pure tier."""
    raise _refusal(f"the embedded PostgreSQL ({data_dir})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_url(database: str, *, env: str = "SYNAPSE_TEST_DATABASE_URL") -> str:
    """A URL to ``database`` on the test server (embedded unless the variable ``env`` names is set)."""
    _refuse("PostgreSQL")
    base = os.environ.get(env, "")
    if not base:
        from synapse.db import embedded

        base, _ = embedded.start(PROJECT_ROOT / ".synapse")
    return with_database(base, database)


def admin_engine(*, env: str = "SYNAPSE_TEST_DATABASE_URL") -> sa.Engine:
    return sa.create_engine(sqlalchemy_url(server_url("postgres", env=env)), isolation_level="AUTOCOMMIT",
                            poolclass=sa.NullPool)


def build_template() -> None:
    """Create the template database migrated to head, once per schema version.

    Its name carries a digest of the migrations, so a changed schema gets a new template and
    concurrent test runs never drop a template another run is cloning. An advisory lock keeps
    two runs from building the same one at once.
    """
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(774411)"))
        try:
            ready = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n AND datistemplate"),
                                 {"n": TEMPLATE_DB}).first()
            if not ready:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
                conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
                _migrate_template()
                conn.execute(sa.text(f"ALTER DATABASE {TEMPLATE_DB} WITH IS_TEMPLATE true"))
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(774411)"))
    admin.dispose()


def _migrate_template() -> None:
    engine = sa.create_engine(sqlalchemy_url(server_url(TEMPLATE_DB)), poolclass=sa.NullPool)
    upgrade(engine)
    engine.dispose()


def create_test_database() -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    admin.dispose()
    return name


def drop_test_database(name: str) -> None:
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def azurite_bin() -> Path:
    path = PROJECT_ROOT / "node_modules/.bin/azurite-queue"
    if not path.exists():
        raise RuntimeError("Azurite is not installed: run `npm ci` in the project root (scripts/test does)")
    return path


@dataclass
class Azurite:
    """An Azurite queue service on a free port, in its own folder; stop() and start() keep its data."""

    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="azurite-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(port=self.port)

    def start(self) -> None:
        _refuse("Azurite")
        self.process = subprocess.Popen(
            [str(azurite_bin()), "--queueHost", "127.0.0.1", "--queuePort", str(self.port),
             "--location", str(self.folder), "--skipApiVersionCheck", "--loose", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # the Azurite process coming up: polled, with a deadline
        raise RuntimeError("Azurite did not start within 20 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
