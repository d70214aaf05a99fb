"""A PostgreSQL cluster of the test's own (pgserver), migrated to head, that the test may restart.

The embedded server in ``.synapse/pg`` is shared by every test run on the machine: fault tests never
restart it. This one lives in a temporary folder and is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from synapse.db.engine import sqlalchemy_url


@dataclass
class PrivatePostgres:
    folder: Path
    server: Any

    @classmethod
    def start(cls) -> PrivatePostgres:
        import pgserver

        from synapse.db.embedded import _quiet_runtime

        folder = Path(tempfile.mkdtemp(prefix="pgr-", dir="/tmp"))  # short: the socket path has a limit
        folder.chmod(0o755)
        _quiet_runtime(folder)
        server = pgserver.get_server(str(folder / "pg"), cleanup_mode="delete")
        server.psql("CREATE DATABASE synapse;")
        pg = cls(folder, server)
        pg._migrate()
        return pg

    @property
    def url(self) -> str:
        return str(self.server.get_uri("synapse"))

    def _migrate(self) -> None:
        from synapse.db.migrate import upgrade

        engine = sa.create_engine(sqlalchemy_url(self.url), poolclass=sa.NullPool)
        upgrade(engine)
        engine.dispose()

    def _ctl(self, args: list[str]) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def crash(self) -> None:
        """Stop at once, like a crash or a failover: connections cut, in-flight transactions lost."""
        self._ctl(["-w", "-m", "immediate", "stop"])

    def start_again(self) -> None:
        """Start with the options of the first start (``postmaster.opts``); WAL recovery runs."""
        from pgserver.postgres_server import PostmasterInfo

        opts = (Path(self.server.pgdata) / "postmaster.opts").read_text().split()
        socket_dir = opts[opts.index("-k") + 1].strip("\"'") if "-k" in opts else str(self.server.pgdata)
        self._ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.server.log), "start"])
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self._ctl(["-w", "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
