"""Scale-out on PostgreSQL: writers in parallel processes and a projection worker, against
raw psycopg in the same run.

Writers. Each writer process runs ``reserve_lot`` on a lot of its own as fast as it can
for a fixed time (1, 2 and 4 processes at once); the baseline is the same number of
processes doing, with plain psycopg, what eventsourcing's default insert path must do
for every write: one transaction taking ``LOCK TABLE ... IN EXCLUSIVE MODE`` on the
events table and inserting one row. Both serialise on that lock, so the ratio says
what warmcase's command (load from the cache, decide, encode, insert the event and its
recorded time, NOTIFY) costs on top of the lock.

Worker. Catch-up: a store of a generated city-wide season (copied row for row from
:mod:`benchmarks.generate`'s SQLite store) is folded into the four standard views from
nothing, in events/s, against raw paged reads of the same rows (events joined to their
recorded times, 1,000 per page, not decoded). Lag: a worker process follows while two
writer processes write; its lag is sampled (events and recorded seconds behind).

Rounds interleave the variants so the machine's noise falls on all; the report quotes
medians and ratios. The benchmark starts its own PostgreSQL server from the system's
binaries (as the tests do), with the tests' settings (``fsync=off``,
``synchronous_commit=off``): figures are for the CPU and lock path, not the disk.

Run: ``python -m benchmarks.scale`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Lock
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

import warmcase
from benchmarks import generate
from benchmarks.report import DOCS, machine, median
from tests.pg_server import PostgresServer, _initdb, _server_user, _start, _stop, find_bindir
from warmcase.service.queries import STANDARD
from warmcase_adapters.views import views_for
from warmcase_adapters.worker import Worker, lag

ROOT = Path(__file__).resolve().parent.parent
STATE = bytes(range(200))  # about the size of a stored event
WRITER_COUNTS = (1, 2, 4)
PAGE = 1_000


# ---------------------------------------------------------------- the server


@contextmanager
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of our own, from the system's binaries, removed afterwards."""
    bindir = find_bindir()
    if bindir is None:
        msg = "PostgreSQL server binaries not found (Debian: apt-get install -y postgresql)"
        raise SystemExit(msg)
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="warmcase-bench-pg-"))
    process = None
    try:
        password = secrets.token_urlsafe(16)
        data_dir = _initdb(bindir, root, user, password)
        process, running = _start(bindir, root, data_dir, user, password)
        yield running
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def database_factory(running: PostgresServer) -> Callable[[], str]:
    """Makes fresh databases on `running` (URLs)."""
    numbers = iter(range(1, 10_000))

    def make() -> str:
        name = f"bench_{os.getpid()}_{next(numbers)}"
        with running.connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return running.url(name)

    return make


# ---------------------------------------------------------------- writers


def _lot(app: warmcase.app.Warmcase, ref: str) -> None:
    app.receive_lot(
        ref, donor="Bench", item="quilt", unit="piece", quantity=10**9, warehouse="W", actor="b"
    )
    app.inspect_lot(ref, accepted=10**9, actor="b")


def warmcase_writer(
    url: str, writer: int, seconds: float, start: Barrier, results: Queue[int], opening: Lock
) -> None:
    """``reserve_lot`` on a lot of this writer's own for `seconds`; puts the count."""
    # One process opens at a time: opening runs CREATE ... IF NOT EXISTS and CREATE OR
    # REPLACE FUNCTION, which PostgreSQL may refuse to run concurrently.
    with opening:
        app = warmcase.open(url)
    ref = f"L-{writer}-{uuid.uuid4().hex[:8]}"
    _lot(app, ref)
    start.wait(timeout=300)
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        app.reserve_lot(ref, reservation_id=f"R-{done}", quantity=1, for_ref="V", actor="b")
        done += 1
    app.close()
    results.put(done)


RAW_TABLE = "raw_events"


def raw_writer(
    url: str, writer: int, seconds: float, start: Barrier, results: Queue[int], opening: Lock
) -> None:
    """Plain psycopg: one transaction per row, under the events table's EXCLUSIVE lock."""
    stream = uuid.uuid4()
    with psycopg.connect(url) as conn:
        start.wait(timeout=300)
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            with conn.transaction():
                conn.execute(f"LOCK TABLE {RAW_TABLE} IN EXCLUSIVE MODE")
                conn.execute(
                    f"INSERT INTO {RAW_TABLE} (originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s)",
                    (stream, done + 1, "lot.reserved", STATE),
                    prepare=True,
                )
            done += 1
    results.put(done)


def make_raw_table(url: str) -> None:
    """The baseline's table: the shape of eventsourcing's events table."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ("
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {RAW_TABLE}_ids ON {RAW_TABLE} (notification_id)"
        )


def sustained(target: Callable[..., None], url: str, writers: int, seconds: float) -> float:
    """Writes/s of `writers` processes running `target` at once for `seconds`."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    results: Queue[int] = context.Queue()
    opening = context.Lock()
    processes = [
        context.Process(target=target, args=(url, n, seconds, start, results, opening))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    total = sum(gather(results, processes))
    return total / seconds


def gather(results: Queue[int], processes: list[Any]) -> list[int]:
    """What each of `processes` put on `results`; fails as soon as one of them failed."""
    found: list[int] = []
    while len(found) < len(processes):
        try:
            found.append(results.get(timeout=0.5))
        except queue.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if failed:
                msg = f"a writer process failed (exit codes {failed}); see its traceback above"
                raise RuntimeError(msg) from None
    for process in processes:
        process.join(timeout=60)
    return found


# ---------------------------------------------------------------- catch-up


def copy_store(sqlite_path: Path, url: str) -> int:
    """The generated SQLite store's events, times and keys copied into a PostgreSQL store
    at `url`, positions kept; the number of events."""
    warmcase.open(url).close()  # creates the tables
    source = sqlite3.connect(sqlite_path)
    events = 0
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY warmcase_events (notification_id, originator_id, originator_version, topic, "
            "state) FROM STDIN"
        ) as copy:
            for row in source.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
            ):
                copy.write_row((row[0], uuid.UUID(str(row[1])), row[2], row[3], row[4]))
                events += 1
        with conn.cursor().copy(
            "COPY warmcase_event_times (position, recorded_at, effective_at) FROM STDIN"
        ) as copy:
            for row in source.execute(
                "SELECT position, recorded_at, effective_at FROM warmcase_event_times"
            ):
                copy.write_row(row)
        with conn.cursor().copy("COPY warmcase_keys (subject, key) FROM STDIN") as copy:
            for row in source.execute("SELECT subject, key FROM warmcase_keys"):
                copy.write_row(row)
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('warmcase_events', 'notification_id'), "
            "(SELECT max(notification_id) FROM warmcase_events))"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    source.close()
    return events


def catch_up(url: str) -> dict[str, float]:
    """The four standard views folded from nothing by a worker: events/s."""
    app = warmcase.open(url)
    views_for(app.recorder)  # the table exists before timing
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM warmcase_views")
    worker = Worker(app, STANDARD)
    started = time.perf_counter()
    worker.run_once()
    seconds = time.perf_counter() - started
    events = app.history.last_position()
    assert all(r.events_behind == 0 for r in lag(app, STANDARD))
    app.close()
    return {"seconds": seconds, "events_per_s": events / seconds}


def raw_paged_reads(url: str) -> dict[str, float]:
    """The same rows read with psycopg, 1,000 per page, not decoded: rows/s."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        after, rows = 0, 0
        while True:
            page = conn.execute(
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                "e.state, t.recorded_at FROM warmcase_events AS e "
                "JOIN warmcase_event_times AS t ON t.position = e.notification_id "
                "WHERE e.notification_id > %s ORDER BY 1 LIMIT %s",
                (after, PAGE),
                prepare=True,
            ).fetchall()
            if not page:
                break
            rows += len(page)
            after = page[-1][0]
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": rows / seconds}


# ---------------------------------------------------------------- lag under load


def lag_under_load(url: str, seconds: float, writers: int = 2) -> dict[str, Any]:
    """A worker process follows while `writers` processes write: its lag, sampled."""
    app = warmcase.open(url)
    _lot(app, "L-SEED")
    log = Path(tempfile.mkstemp(prefix="warmcase-bench-worker-", suffix=".log")[1])
    with log.open("w") as output:
        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "warmcase_adapters.worker",
                "--store",
                url,
                "--poll-seconds",
                "1",
                "--report-seconds",
                "3600",
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    samples: list[tuple[int, float]] = []
    try:
        while any(r.events_behind for r in lag(app, STANDARD)):
            time.sleep(0.05)
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(writers)
        results: Queue[int] = context.Queue()
        opening = context.Lock()
        processes = [
            context.Process(target=warmcase_writer, args=(url, n, seconds, start, results, opening))
            for n in range(writers)
        ]
        for process in processes:
            process.start()
        while not any(p.is_alive() for p in processes):
            time.sleep(0.01)
        while any(p.is_alive() for p in processes):
            report = lag(app, STANDARD)
            worst = max(report, key=lambda r: r.events_behind)
            samples.append((worst.events_behind, worst.seconds_behind))
            time.sleep(0.2)
        written = sum(gather(results, processes))
        stopped = time.perf_counter()
        while any(r.events_behind for r in lag(app, STANDARD)):
            time.sleep(0.02)
        drained = time.perf_counter() - stopped
    finally:
        follower.terminate()
        follower.wait(timeout=30)
        app.close()
        log.unlink(missing_ok=True)
    behind = sorted(s[0] for s in samples)
    late = sorted(s[1] for s in samples)
    return {
        "writers": writers,
        "commands_per_s": written / seconds,
        "samples": len(samples),
        "median_events_behind": median(behind) if behind else 0,
        "max_events_behind": behind[-1] if behind else 0,
        "median_seconds_behind": median(late) if late else 0.0,
        "max_seconds_behind": late[-1] if late else 0.0,
        "seconds_to_current_after_writes": drained,
    }


# ---------------------------------------------------------------- the run


_STARTED = time.perf_counter()


def progress(done: str) -> None:
    """Say on stderr what is done, and when."""
    print(f"  [{time.perf_counter() - _STARTED:6.1f} s] {done}", file=sys.stderr, flush=True)


def measure(new_database: Callable[[], str], *, quick: bool = False) -> dict[str, Any]:
    """Every figure of the benchmark, on databases made by `new_database`."""
    rounds = 1 if quick else 3
    seconds = 1.0 if quick else 5.0
    events = 3_000 if quick else 100_000
    writers_url, raw_url, lag_url = new_database(), new_database(), new_database()
    # Tables are made once, before processes open the store at the same moment.
    for url in (writers_url, lag_url):
        warmcase.open(url).close()
    make_raw_table(raw_url)
    writes: dict[str, dict[int, list[float]]] = {
        "raw": {n: [] for n in WRITER_COUNTS},
        "warmcase": {n: [] for n in WRITER_COUNTS},
    }
    for number in range(rounds):
        for count in WRITER_COUNTS:
            writes["raw"][count].append(sustained(raw_writer, raw_url, count, seconds))
            writes["warmcase"][count].append(
                sustained(warmcase_writer, writers_url, count, seconds)
            )
        progress(f"writers, round {number + 1} of {rounds}")
    with tempfile.TemporaryDirectory(prefix="warmcase-bench-") as scratch:
        generated = Path(scratch) / "season.db"
        generate.generate(generated, events=events, seed=5)
        season_url = new_database()
        copied = copy_store(generated, season_url)
    progress(f"generated and copied a season of {copied:,} events")
    catch: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []
    for _ in range(rounds):
        raw.append(raw_paged_reads(season_url))
        catch.append(catch_up(season_url))
    progress("catch-up and raw reads")
    loaded = lag_under_load(lag_url, seconds=2.0 if quick else 10.0)
    progress("lag under load")
    table = {
        str(n): {
            "raw_writes_per_s": median(writes["raw"][n]),
            "warmcase_commands_per_s": median(writes["warmcase"][n]),
            "ratio": median(writes["warmcase"][n]) / median(writes["raw"][n]),
            "rounds_raw": writes["raw"][n],
            "rounds_warmcase": writes["warmcase"][n],
        }
        for n in WRITER_COUNTS
    }
    catch_rate = median([c["events_per_s"] for c in catch])
    raw_rate = median([r["rows_per_s"] for r in raw])
    return {
        "quick": quick,
        "rounds": rounds,
        "seconds_per_measurement": seconds,
        "writers": table,
        "catch_up": {
            "events": copied,
            "worker_events_per_s": catch_rate,
            "raw_paged_rows_per_s": raw_rate,
            "ratio": catch_rate / raw_rate,
            "rounds_worker": [c["events_per_s"] for c in catch],
            "rounds_raw": [r["rows_per_s"] for r in raw],
        },
        "lag": loaded,
    }


def render(figures: dict[str, Any]) -> str:
    """The figures as the Markdown tables of the deployment guide."""
    lines = [
        "| writer processes | raw psycopg writes/s (lock + insert) | warmcase commands/s "
        "(`reserve_lot`) | warmcase / raw |",
        "|---:|---:|---:|---:|",
    ]
    for count, row in figures["writers"].items():
        lines.append(
            f"| {count} | {row['raw_writes_per_s']:,.0f} | {row['warmcase_commands_per_s']:,.0f} "
            f"| {row['ratio']:.2f} |"
        )
    catch = figures["catch_up"]
    loaded = figures["lag"]
    lines += [
        "",
        "| worker | figure |",
        "|---|---:|",
        f"| catch-up, four standard views from nothing ({catch['events']:,} events) | "
        f"{catch['worker_events_per_s']:,.0f} events/s |",
        f"| raw paged reads of the same rows (psycopg, {PAGE:,} per page, not decoded) | "
        f"{catch['raw_paged_rows_per_s']:,.0f} rows/s |",
        f"| catch-up / raw reads | {catch['ratio']:.3f} |",
        f"| lag while {loaded['writers']} writers run ({loaded['commands_per_s']:,.0f} "
        f"commands/s): median / max events behind | {loaded['median_events_behind']:,.0f} / "
        f"{loaded['max_events_behind']:,.0f} |",
        f"| same: median / max recorded seconds behind | {loaded['median_seconds_behind']:.2f} / "
        f"{loaded['max_seconds_behind']:.2f} |",
        f"| current again after the writers stop | "
        f"{loaded['seconds_to_current_after_writes']:.2f} s |",
    ]
    return "\n".join(lines)


def publish(figures: dict[str, Any]) -> str:
    """Write ``docs/results/scale.json`` and the tables into ``docs/deployment.md``."""
    stamp = machine()
    results = DOCS / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "scale.json").write_text(
        json.dumps({"machine": stamp, **figures}, indent=2) + "\n", encoding="utf-8"
    )
    table = render(figures)
    page = DOCS / "deployment.md"
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- results:scale -->", "<!-- /results:scale -->"
    if start in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        body = (
            f"\n_Last run {stamp['measured_at']}, Python {stamp['python']}, "
            f"{stamp['cores']} cores._\n\n{table}\n"
        )
        page.write_text(before + start + body + end + after, encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    """Start a server, measure, publish."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, not published")
    arguments = parser.parse_args(argv)
    started = datetime.now(UTC)
    with server() as running:
        figures = measure(database_factory(running), quick=arguments.quick)
    if arguments.quick:
        print(render(figures))
    else:
        print(publish(figures))
    took = (datetime.now(UTC) - started) / timedelta(seconds=1)
    print(f"({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
