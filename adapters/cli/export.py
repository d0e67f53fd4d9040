"""`warmcase export events`: the history as JSON lines, for other tools.

One line per event, in position order: its position, permanent type name, the
record's reference, the stream and its version there, the recorded and effective
times, the actor, and the event's other fields as plain JSON (dates as ISO text,
money in fen as recorded). Personal values read as their text, and as ``[erased]``
once their subject was erased; they are never written as sealed bytes. The history
is read page by page, so a store of millions of events exports in constant memory.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from warmcase.app import Warmcase
from warmcase.events import Event
from warmcase.projections.plain import plain
from warmcase.projections.projection import Meta
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    AsOfOption,
    StoreOption,
    err_console,
    open_app,
    parse_as_of,
    refusals,
)

#: Fields every line has at its top level; the rest go under "fields".
_HOISTED = frozenset({"ref", "actor", "effective_at"})


class ExportFormat(enum.StrEnum):
    """The export formats."""

    jsonl = "jsonl"


class What(enum.StrEnum):
    """What can be exported."""

    events = "events"


def line(event: Event, meta: Meta) -> dict[str, Any]:
    """One event as a JSON object."""
    fields = plain(event)
    return {
        "position": meta.position,
        "type": event.type_name,
        "ref": event.ref,
        "stream_id": str(meta.stream_id),
        "version": meta.version,
        "recorded_at": meta.recorded_at.isoformat(),
        "effective_at": event.effective_at.isoformat(),
        "actor": event.actor,
        "fields": {name: value for name, value in fields.items() if name not in _HOISTED},
    }


def lines(app: Warmcase, *, upto: int) -> Iterator[str]:
    """The history up to position `upto` as JSON lines, read page by page."""
    for event, meta in app.history.read(after=0, upto=upto):
        yield json.dumps(line(event, meta), ensure_ascii=False, separators=(",", ":")) + "\n"


def _write(app: Warmcase, upto: int, out: IO[str]) -> int:
    written = 0
    for text in lines(app, upto=upto):
        out.write(text)
        written += 1
    return written


def register(app: typer.Typer) -> None:
    """Add `warmcase export` to the command line."""

    @app.command()
    def export(
        what: Annotated[What, typer.Argument(help="What to export.", show_default=False)],
        as_of: AsOfOption = None,
        form: Annotated[
            ExportFormat, typer.Option("--format", help="jsonl: one JSON object per line.")
        ] = ExportFormat.jsonl,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", dir_okay=False, help="Write to this file, not stdout."),
        ] = None,
        store: StoreOption = DEFAULT_STORE,
    ) -> None:
        """The history as JSON lines, in position order, as the books stood at --as-of."""
        moment = parse_as_of(as_of)
        books = open_app(store)
        try:
            with refusals():
                basis = books.basis(as_of=moment)
                if output is None:
                    written = _write(books, basis.position, sys.stdout)
                    sys.stdout.flush()
                else:
                    output.parent.mkdir(parents=True, exist_ok=True)
                    with output.open("w", encoding="utf-8") as file:
                        written = _write(books, basis.position, file)
            recorded = (
                "" if basis.recorded_at is None else f", recorded {basis.recorded_at.isoformat()}"
            )
            target = "" if output is None else f" to {output}"
            err_console.print(
                f"exported {written:,} {what.value}{target}: the history up to position "
                f"{basis.position:,}{recorded}",
                soft_wrap=True,
            )
        finally:
            books.close()
