"""warmcase: event-sourced books for winter relief campaigns (送温暖).

Start with :func:`open`; see ``docs/embedding.md``.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from warmcase.errors import StoreError

if TYPE_CHECKING:
    from warmcase.app import Warmcase

__all__ = ["DEFAULT_STORE", "open"]

DEFAULT_STORE = "warmcase.db"
"""The SQLite file used when neither a URL nor ``$WARMCASE_STORE`` is given."""


def open(url: str | None = None, **options: object) -> Warmcase:  # noqa: A001 - the contract's name
    """Open the store at `url` and return the application over it.

    ``"sqlite:///path.db"`` (or a bare path) for the embedded default, ``"memory:"``
    for tests and trials, ``"postgresql://user@host/db"`` for many processes.
    Without a URL: ``$WARMCASE_STORE``, else ``warmcase.db`` in the working directory.
    Storage adapters register under the ``warmcase.stores`` entry-point group, so
    the core never imports them.
    """
    url = url or os.environ.get("WARMCASE_STORE") or DEFAULT_STORE
    scheme = url.split(":", 1)[0].lower() if ":" in url else "sqlite"
    if scheme in {"postgres", "postgresql+psycopg"}:
        scheme = "postgresql"
    if scheme not in {"sqlite", "memory", "postgresql"}:
        # A bare path such as C:\books.db or ./books.db is a SQLite file.
        scheme = "sqlite" if "://" not in url else scheme
    found = entry_points(group="warmcase.stores", name=scheme)
    if not found:
        known = sorted(ep.name for ep in entry_points(group="warmcase.stores"))
        msg = (
            f"no store for {url!r}: scheme {scheme!r} is not installed; "
            f"accepted: {', '.join(known) or 'none (is warmcase installed?)'}"
        )
        raise StoreError(msg)
    factory = next(iter(found)).load()
    app: Warmcase = factory(url, **options)
    return app
