"""`warmcase sample`: draw the after-festival audit sample, or verify one from its file.

The method is :mod:`warmcase_adapters.sampling`'s (and docs/audit-sample.md's): the
visited households of a campaign at a pinned basis, stratified by area, the smallest
``ceil(rate * n)`` sha256 ranks of each stratum. ``--verify FILE`` redraws at the
file's basis with its seed, rate and level, and exits 1 naming every stratum and
household that differs.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from warmcase.app import Warmcase
from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.projections.basis import Basis
from warmcase_adapters import sampling
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    EXIT_USAGE,
    AsOfOption,
    EffectiveOption,
    StoreOption,
    console,
    fail,
    is_url,
    open_app,
    parse_as_of,
    parse_effective,
    refusals,
    sqlite_path,
)


class Level(enum.StrEnum):
    """The area level the strata are drawn at."""

    district = "district"
    street = "street"
    community = "community"
    grid = "grid"


class Format(enum.StrEnum):
    """How the result is printed."""

    table = "table"
    json = "json"


def location(store: str) -> str:
    """The store as the record names it: a SQLite path, or a URL without its password."""
    if not is_url(store):
        return str(sqlite_path(store))
    parts = urlsplit(store)
    if parts.password is None:
        return store
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def _local(moment: datetime | None) -> str:
    # People read Beijing wall-clock time; the record keeps the exact instant.
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).isoformat(sep=" ", timespec="seconds")


def _basis(basis: Basis) -> str:
    return (
        f"position {basis.position:,} (recorded {_local(basis.recorded_at)}), "
        f"effective {_local(basis.effective)}"
    )


def _refs(refs: tuple[str, ...]) -> str:
    return ", ".join(refs) if refs else "-"


# ---------------------------------------------------------------- drawing


def _draw(
    app: Warmcase,
    *,
    store: str,
    campaign: str,
    rate: str,
    by: Level,
    seed: str | None,
    as_of: str | None,
    effective: str | None,
) -> sampling.Sample:
    try:
        sampling.parse_rate(rate)
    except sampling.SampleError as error:
        raise typer.BadParameter(str(error), param_hint="--rate") from None
    if seed is not None:
        try:
            sampling.check_seed(seed)
        except sampling.SampleError as error:
            raise typer.BadParameter(str(error), param_hint="--seed") from None
    moment, valid = parse_as_of(as_of), parse_effective(effective)
    with refusals():
        return sampling.take(
            app,
            campaign,
            rate=rate,
            by=by.value,
            seed=seed,
            as_of=moment,
            effective=valid,
            location=location(store),
        )


def _print_sample(drawn: sampling.Sample) -> None:
    console.print(
        f"[bold]Audit sample of {drawn.campaign}[/]: at least "
        f"{float(sampling.parse_rate(drawn.rate)) * 100:g}% of the visited households "
        f"of each {drawn.by}",
        soft_wrap=True,
    )
    console.print(f"Basis: {_basis(drawn.basis)}", soft_wrap=True)
    console.print(f"Seed: {drawn.seed}", soft_wrap=True)
    console.print(
        f"Population: {drawn.size:,} visited households in {len(drawn.strata)} strata, "
        f"sha256 {drawn.population_sha256}",
        soft_wrap=True,
    )
    table = Table(title=f"Drawn by {drawn.by}", title_justify="left")
    table.add_column(drawn.by, no_wrap=True)
    table.add_column("visited", justify="right")
    table.add_column("drawn", justify="right")
    table.add_column("population sha256 (first 16)", no_wrap=True)
    table.add_column("households drawn (in draw order)")
    for stratum in drawn.strata:
        table.add_row(
            stratum.name,
            f"{stratum.size:,}",
            f"{stratum.drawn:,}",
            stratum.population_sha256[:16],
            _refs(stratum.sample),
        )
    table.add_section()
    table.add_row("total", f"{drawn.size:,}", f"{drawn.drawn:,}", drawn.population_sha256[:16], "")
    console.print(table)


def _write(path: Path, record: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        fail(f"cannot write the sample record to {path}: {error.strerror or error}", EXIT_USAGE)


# ---------------------------------------------------------------- verifying


def _read(path: Path) -> sampling.Record:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"no sample record at {path}", EXIT_USAGE)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"cannot read {path} as a JSON sample record: {error}", EXIT_USAGE)
    try:
        return sampling.read_record(data)
    except sampling.SampleError as error:
        fail(f"{path}: {error}", EXIT_USAGE)


def _print_verification(path: Path, found: sampling.Verification) -> None:
    record = found.record
    console.print(
        f"[bold]Verifying {path}[/]: {record.campaign}, rate {record.rate} by {record.by}, "
        f"seed {record.seed}",
        soft_wrap=True,
    )
    console.print(f"Basis: {_basis(found.basis)}", soft_wrap=True)
    table = Table(title="Redrawn from the store", title_justify="left")
    table.add_column(record.by, no_wrap=True)
    table.add_column("recorded", justify="right")
    table.add_column("visited now", justify="right")
    table.add_column("result")
    table.add_column("households that differ")
    for check in found.strata:
        differ = [
            f"{label} {_refs(refs)}"
            for label, refs in (
                ("+visited:", check.added),
                ("-visited:", check.removed),
                ("+drawn:", check.drawn_now),
                ("-drawn:", check.not_drawn_now),
            )
            if refs
        ]
        table.add_row(
            check.name,
            f"{check.recorded_size:,}",
            f"{check.size:,}",
            check.status,
            "; ".join(differ) or "-",
        )
    console.print(table)
    for note in found.notes:
        console.print(f"note: {note}", soft_wrap=True)


def _verify(app: Warmcase, path: Path, *, store: str, output_format: Format) -> None:
    record = _read(path)
    with refusals():
        found = sampling.verify(app, record, location=location(store))
    if output_format is Format.json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_verification(path, found)
    if not found.identical:
        fail(
            f"the sample in {path} does not verify: "
            + "".join(f"\n  - {problem}" for problem in found.problems),
        )
    if output_format is Format.table:
        visited = sum(len(stratum.population) for stratum in record.strata)
        sampled = sum(len(stratum.sample) for stratum in record.strata)
        console.print(
            f"[bold green]identical[/]: the store gives the same {visited:,} visited "
            f"households and the same {sampled:,} drawn, in all {len(record.strata)} strata",
            soft_wrap=True,
        )


# ---------------------------------------------------------------- the command


def register(app: typer.Typer) -> None:
    """Add `warmcase sample` to the command line."""

    @app.command()
    def sample(  # noqa: PLR0917 - typer passes each option by position
        store: StoreOption = DEFAULT_STORE,
        campaign: Annotated[
            str | None, typer.Option(help="The campaign whose visited households are sampled.")
        ] = None,
        rate: Annotated[
            str | None,
            typer.Option(
                help=(
                    f"Share of each stratum to draw, at least: 0.10 or 10% "
                    f"(default {sampling.DEFAULT_RATE})."
                )
            ),
        ] = None,
        by: Annotated[
            Level | None,
            typer.Option(help=f"Area level of the strata (default {sampling.DEFAULT_BY})."),
        ] = None,
        seed: Annotated[
            str | None,
            typer.Option(help="Seed of the draw; a fresh random one is recorded when omitted."),
        ] = None,
        as_of: AsOfOption = None,
        effective: EffectiveOption = None,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="Write the sample record (JSON) here."),
        ] = None,
        output_format: Annotated[
            Format, typer.Option("--format", help="table (for people) or json (the record).")
        ] = Format.table,
        verify: Annotated[
            Path | None,
            typer.Option(help="Redraw the sample recorded in this file and compare."),
        ] = None,
    ) -> None:
        """Draw the after-festival audit sample: at least a share of the visited households
        of each community, reproducibly; or --verify a recorded one."""
        if verify is not None:
            given = {
                "--campaign": campaign,
                "--rate": rate,
                "--by": by,
                "--seed": seed,
                "--as-of": as_of,
                "--effective": effective,
                "--output": output,
            }
            clashing = [name for name, value in given.items() if value is not None]
            if clashing:
                raise typer.BadParameter(
                    f"{', '.join(clashing)} cannot be combined with --verify: the record "
                    f"holds the campaign, basis, seed, rate and level",
                    param_hint="--verify",
                )
            books = open_app(store)
            try:
                _verify(books, verify, store=store, output_format=output_format)
            finally:
                books.close()
            return
        if campaign is None:
            raise typer.BadParameter(
                "is required to draw a sample (or give --verify FILE)", param_hint="--campaign"
            )
        books = open_app(store)
        try:
            drawn = _draw(
                books,
                store=store,
                campaign=campaign,
                rate=sampling.DEFAULT_RATE if rate is None else rate,
                by=Level(sampling.DEFAULT_BY) if by is None else by,
                seed=seed,
                as_of=as_of,
                effective=effective,
            )
        finally:
            books.close()
        record = drawn.to_dict()
        if output is not None:
            _write(output, record)
        if output_format is Format.json:
            typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
            return
        _print_sample(drawn)
        option = "" if store == DEFAULT_STORE else f" --store {store}"
        if output is None:
            console.print(
                "Not saved: add --output FILE.json to keep the record for --verify.",
                soft_wrap=True,
            )
        else:
            console.print(
                f"Record written to {output}; anyone can redraw it with: "
                f"warmcase sample --verify {output}{option}",
                soft_wrap=True,
            )
