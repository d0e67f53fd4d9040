"""The `warmcase` console script: one typer app, each subcommand in a module of its own."""

from __future__ import annotations

import typer

from warmcase_adapters.cli import (
    demo,
    export,
    import_ledger,
    rebuild,
    report,
    sample,
    trail,
    worker,
)

app = typer.Typer(
    name="warmcase",
    help=(
        "The books of a winter relief campaign (送温暖), from the terminal: play the demo "
        "campaign, print reports as of any moment, follow an audit trail, draw and verify "
        "audit samples, import ledgers, export the history."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def books() -> None:
    """The books of a winter relief campaign, from the terminal."""
    # A callback keeps `warmcase <command>` a group even while it has one command.


for module in (demo, report, trail, sample, import_ledger, export, rebuild, worker):
    module.register(app)


def main() -> None:
    """Run the command line (the console script's entry point)."""
    app()
