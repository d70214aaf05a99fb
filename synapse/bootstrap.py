"""The composition root: builds Synapse's parts from one ``Settings``, lazily, once per process.

Nothing here runs at import time; the first call to ``container()`` builds what
is asked for. Entry points (functions/, the CLI, the local runner, the relay)
take what they need from here.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from synapse.clock import Clock, SystemClock
from synapse.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from synapse.rules.cache import RuleCache


class Container:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, database_url: str | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._database_url = database_url
        self._lock = threading.Lock()

    @cached_property
    def database_url(self) -> str:
        if self._database_url:
            return self._database_url
        from synapse.db.engine import resolve_database_url

        return resolve_database_url(self.settings)

    @cached_property
    def engine(self) -> Engine:
        from synapse.db.engine import make_engine

        provider = None
        if self.settings.db_entra_auth:
            from synapse.db.entra import token_provider  # type: ignore[attr-defined]

            provider = token_provider(self.settings)
        return make_engine(self.database_url, pool_size=self.settings.db_pool_size, password_provider=provider)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    global _container
    with _container_lock:
        if _container is None:
            _container = Container(get_settings())
        return _container


def set_container(value: Container | None) -> None:
    """Replace the process-wide container (tests, the local runner)."""
    global _container
    with _container_lock:
        if _container is not None and value is not _container:
            _container.close()
        _container = value


_RULES: Any = None
_RULES_LOCK = threading.Lock()


def rule_cache() -> RuleCache[Any]:
    """The process's compiled-rules cache (ingest, the voice timer and manual actions share it); each
    guild's entry is refreshed when its rules fingerprint moves (``services.rules_runner.load_context``)."""
    global _RULES
    if _RULES is None:
        with _RULES_LOCK:
            if _RULES is None:
                from synapse.rules.cache import RuleCache

                _RULES = RuleCache()
    return _RULES  # type: ignore[no-any-return]
