"""The composition root: builds a warmcase application over the store a URL names.

``warmcase.open`` finds these functions through the ``warmcase.stores`` entry
points, so the core never imports an adapter.
"""

from __future__ import annotations

from typing import Any

from warmcase_adapters.codec import Codec
from warmcase_adapters.keyring import MemoryKeyring
from warmcase_adapters.mapper import EventMapper

from warmcase.app import Warmcase
from warmcase.clock import Clock, system_clock
from warmcase.errors import StoreError
from warmcase.personal import Keyring

DEFAULT_CACHE_SIZE = 10_000
"""Aggregates kept in memory per process; each is fast-forwarded on load, so a cached
record is never stale even with other writers."""


def build(
    env: dict[str, str],
    keyring: Keyring,
    *,
    clock: Clock | None = None,
    cache_size: int | None = None,
) -> Warmcase:
    """The application over the recorders `env` selects, with warmcase's codec and keyring."""
    base_env = {
        "AGGREGATE_CACHE_MAXSIZE": str(DEFAULT_CACHE_SIZE if cache_size is None else cache_size),
        # States are immutable, so cached ones need no defensive copies.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    base_env.update(env)
    return Warmcase(
        env=base_env,
        mapper=EventMapper(Codec(keyring)),
        keyring=keyring,
        clock=clock or system_clock,
    )


def _options(options: dict[str, Any]) -> tuple[Clock | None, int | None]:
    unknown = sorted(set(options) - {"clock", "cache_size"})
    if unknown:
        msg = f"unknown store options {unknown}; accepted: clock, cache_size"
        raise StoreError(msg)
    return options.get("clock"), options.get("cache_size")


def open_memory(url: str, **options: Any) -> Warmcase:
    """A store in this process's memory (``memory:``): for tests and trials."""
    clock, cache_size = _options(options)
    app = build(
        {"PERSISTENCE_MODULE": "warmcase_adapters.memory_store"},
        MemoryKeyring(),
        clock=clock,
        cache_size=cache_size,
    )
    app.recorder.clock = clock or system_clock  # type: ignore[attr-defined]
    return app
