"""Command throughput on the embedded SQLite store, against raw sqlite3, in the same run.

Baseline: raw sqlite3 on a file in WAL mode with ``synchronous=FULL``, one row per
transaction: the least any store must do to make each acknowledged command durable.

warmcase, on the same kind of file:
- one-record commands (``reserve_lot``): load from the cache, fast-forward, decide,
  save one event with its recorded time;
- deliveries (``complete_visit``): a visit, a household's aid ledger and a lot loaded,
  decided and saved in ONE transaction (three events).

Rounds interleave the three so the machine's noise falls on all of them; the report
quotes medians and ratios. Run: ``make bench`` or ``python -m benchmarks.commands``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import warmcase
from benchmarks.report import median, publish
from warmcase.app import Warmcase
from warmcase.domain.campaign import AidStandard

STATE = bytes(range(200))  # about the size of a stored event


def raw_sqlite_rows_per_second(path: Path, rows: int) -> float:
    """Rows/s inserting one row per fsync'd transaction with plain sqlite3."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    started = time.perf_counter()
    for version in range(1, rows + 1):
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
            ("stream", version, "lot.reserved", STATE),
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return rows / elapsed


def _open(path: Path) -> Warmcase:
    return warmcase.open(f"sqlite:///{path}")


def _campaign(app: Warmcase, now: datetime) -> None:
    app.open_campaign(
        "BENCH",
        name="Benchmark winter",
        owner="Bench office",
        starts_on=(now - timedelta(days=60)).date(),
        ends_on=(now + timedelta(days=60)).date(),
        standards=[AidStandard(category="marginal", tiers=((1, 70_000),))],
        actor="bench",
        effective_at=now - timedelta(days=60),
    )


def one_record_commands_per_second(path: Path, commands: int) -> float:
    """``reserve_lot`` commands/s on a fresh SQLite store."""
    app = _open(path)
    now = datetime.now(UTC)
    app.receive_lot(
        "L-1",
        donor="Bench",
        item="quilt",
        unit="piece",
        quantity=10**9,
        warehouse="W",
        actor="bench",
        effective_at=now - timedelta(days=1),
    )
    app.inspect_lot("L-1", accepted=10**9, actor="bench", effective_at=now - timedelta(hours=23))
    started = time.perf_counter()
    for number in range(commands):
        app.reserve_lot(
            "L-1", reservation_id=f"R-{number}", quantity=1, for_ref="P-1", actor="bench"
        )
    elapsed = time.perf_counter() - started
    app.close()
    return commands / elapsed


def deliveries_per_second(path: Path, deliveries: int) -> float:
    """``complete_visit`` commands/s (visit + household + lot in one transaction)."""
    app = _open(path)
    now = datetime.now(UTC)
    _campaign(app, now)
    app.receive_lot(
        "L-Q",
        donor="Bench",
        item="quilt",
        unit="piece",
        quantity=10**6,
        warehouse="W",
        actor="bench",
        effective_at=now - timedelta(days=50),
    )
    app.inspect_lot("L-Q", accepted=10**6, actor="bench", effective_at=now - timedelta(days=50))
    for number in range(deliveries):
        ref = f"H-{number:05d}"
        app.register_household(
            ref,
            district="D",
            street="S",
            community="C",
            grid="G",
            address_detail="Room 1",
            head_name="王",
            phone="13800138000",
            categories=["marginal"],
            hardship_level=2,
            actor="bench",
            effective_at=now - timedelta(days=40),
        )
        app.verify_household(ref, actor="bench", effective_at=now - timedelta(days=39))
        app.post_household(ref, place="board", actor="bench", effective_at=now - timedelta(days=38))
        app.enroll_household(
            ref, campaign="BENCH", actor="bench", effective_at=now - timedelta(days=20)
        )
        app.plan_visit(
            f"V-{number:05d}",
            campaign="BENCH",
            household=ref,
            team="T1",
            leader="Li",
            planned_on=now.date(),
            actor="bench",
            effective_at=now - timedelta(days=2),
        )
    started = time.perf_counter()
    for number in range(deliveries):
        app.complete_visit(
            f"V-{number:05d}",
            goods=[("L-Q", 1)],
            cash_fen=70_000,
            signed_by="1",
            signer_phone="13800138000",
            actor="bench",
        )
    elapsed = time.perf_counter() - started
    app.close()
    return deliveries / elapsed


def main() -> None:
    """Measure, print and publish."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=1000)
    arguments = parser.parse_args()
    raw: list[float] = []
    single: list[float] = []
    delivery: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(arguments.rounds):
            base = Path(folder) / f"round-{round_number}"
            base.mkdir()
            raw.append(raw_sqlite_rows_per_second(base / "raw.db", arguments.commands))
            single.append(one_record_commands_per_second(base / "single.db", arguments.commands))
            delivery.append(deliveries_per_second(base / "delivery.db", arguments.commands // 4))
    figures = {
        "rounds": arguments.rounds,
        "commands_per_round": arguments.commands,
        "raw_sqlite_rows_per_s": raw,
        "one_record_commands_per_s": single,
        "deliveries_per_s": delivery,
        "median_raw": median(raw),
        "median_one_record": median(single),
        "median_deliveries": median(delivery),
        "ratio_one_record_to_raw": median(single) / median(raw),
        "ratio_deliveries_to_raw": median(delivery) / median(raw),
    }
    table = "\n".join(
        [
            "| what (SQLite file, WAL, synchronous=FULL) | median per second | vs raw |",
            "|---|---:|---:|",
            f"| raw sqlite3, 1 row per transaction | {median(raw):,.0f} rows | 1.00 |",
            f"| warmcase `reserve_lot` (1 record, 1 event) | {median(single):,.0f} commands "
            f"| {figures['ratio_one_record_to_raw']:.2f} |",
            f"| warmcase `complete_visit` (3 records, 3 events, 1 transaction) "
            f"| {median(delivery):,.0f} commands | {figures['ratio_deliveries_to_raw']:.2f} |",
        ]
    )
    publish("commands", figures, table)


if __name__ == "__main__":
    main()
