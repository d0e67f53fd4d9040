"""`warmcase trail REF`: every event that touched a household, lot, visit, patrol or campaign.

Each entry gives the position, the recorded time, the effective time, the actor, the
reason (where the event has one) and a summary in words, as of any basis: the trail
as the books stood before a late correction is the trail at an earlier ``--as-of``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from warmcase_adapters.cli import tables
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    AsOfOption,
    EffectiveOption,
    StoreOption,
    fail,
    open_app,
    parse_as_of,
    parse_effective,
    refusals,
)
from warmcase_adapters.cli.report import FormatOption, OutputOption, chosen_format, emit


def register(app: typer.Typer) -> None:
    """Add `warmcase trail` to the command line."""

    @app.command()
    def trail(  # noqa: PLR0917 - typer passes each option by position
        ref: Annotated[
            str,
            typer.Argument(
                help="A household, lot, visit, patrol, hotline call or campaign (e.g. H-0001).",
                show_default=False,
            ),
        ],
        as_of: AsOfOption = None,
        effective: EffectiveOption = None,
        form: FormatOption = None,
        output: OutputOption = None,
        rows: Annotated[
            int, typer.Option("--rows", min=0, help="Entries shown on the terminal (0: all).")
        ] = 0,
        store: StoreOption = DEFAULT_STORE,
    ) -> None:
        """Every event that touched REF: position, both clocks, actor, reason, summary."""
        chosen = chosen_format(form, output)
        moment, valid = parse_as_of(as_of), parse_effective(effective)
        books = open_app(store)
        try:
            with refusals():
                answer = books.audit_trail(ref, as_of=moment, effective=valid)
            if not answer.entries:
                basis = answer.basis
                fail(
                    f"nothing in the books touches {ref!r} as of position {basis.position:,}: "
                    f"no household, lot, visit, patrol, hotline call or campaign has that "
                    f"reference (references are case-sensitive)"
                )
            emit(tables.trail(answer), chosen, output, rows)
        finally:
            books.close()
