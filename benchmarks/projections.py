"""Projection rebuilds and as-of answers on a large SQLite store, against their baselines.

Full rebuild of the four standard projections (StockLevels, Coverage, DuplicateAid,
AuditTrail), in events of the store per second, three ways in the same run:

- (w) warmcase: ``app.rebuild()`` (one paged read of the store's history, each
  projection folded from it a page of its events at a time, a checkpoint of each saved
  at the end); also (w0), the same rebuild with no checkpoint saved, to show what saving
  costs, and (w2), ``app.rebuild(jobs=2)``: the projections in two groups of about equal
  cost, each rebuilt by the same path, one in the calling process and the other in a
  spawned process of its own (the time includes starting it; the peak is the parent's
  plus the child's);
- (a) eventsourcing's own replay path: ``recorder.select_notifications`` pages,
  ``mapper.to_domain_event`` per notification, recorded times per page from
  ``recorder.recorded_times``, and the same four projections' rules applied event by
  event (``Projection.apply``, as an eventsourcing projection processes events);
- (b) the floor: raw sqlite3 paged reads of (rowid, topic, state) and ``msgpack.unpackb``
  of each state, folding nothing; extension values (times, ids, sealed personal data)
  stay msgpack ``ExtType`` objects, and no key is read;
- (bc) the codec's floor: the same pages decoded as warmcase's reads decode them (its
  page codec: personal values left sealed until asked for), with no events built and
  nothing folded;
- (f) the rules alone: each projection's events read as a rebuild reads them, and only
  the folding timed, so that twice its rate bounds any rebuild of these rules on two
  cores, however cheap reading and saving become.

All folds run with the cycle collector off, as warmcase's own do. Each rebuild runs in
a fresh subprocess (its peak resident memory is ru_maxrss), and the rounds interleave
the variants so the machine's noise falls on all of them; the report quotes medians and
ratios. Then, in another fresh process, ``app.warm()`` folds the history once holding
snapshots (timed apart), and 100 random (as-of position, effective time) points per
projection are answered with ``app.query`` (nearest snapshot, short tail, backdated
entries); a few of them also by a full replay to the same point (the definition), whose
answers must be equal.

Run: ``python -m benchmarks.projections [--store PATH] [--events N]`` (generates the
store with ``benchmarks.generate`` if it is missing); ``--profile`` prints where each
projection's fold spends its time instead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgpack

import warmcase
from benchmarks import generate
from benchmarks.report import median, publish
from warmcase.app import Warmcase
from warmcase.events import Envelope
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.live import LiveViews, folding
from warmcase.projections.projection import Meta, Projection
from warmcase.projections.stock import StockLevels
from warmcase_adapters.codec import LeafCache, SealedPageCodec
from warmcase_adapters.history import key_window
from warmcase_adapters.parallel import attach

PAGE = 2_000
"""Rows per read in (a) and (b), as in warmcase's own history reads."""
VARIANTS = ("w", "w2", "w0", "a", "b", "bc", "f")
LABELS = {
    "w": "(w) warmcase `app.rebuild()`, checkpoints saved",
    "w2": "(w2) warmcase `app.rebuild(jobs=2)`",
    "w0": "(w0) the same rebuild, no checkpoint saved",
    "a": "(a) eventsourcing notifications + mapper + folds",
    "b": "(b) raw sqlite3 pages + msgpack decode, no fold",
    "bc": "(bc) raw sqlite3 pages + warmcase's page codec, no fold",
    "f": "(f) the four projections' rules alone, one core, reads not counted",
}
DEFAULT_STORE = Path("build/bench/store-1m.db")


def standard() -> list[Projection[Any]]:
    """The four standard projections, fresh."""
    return [StockLevels(), Coverage(), DuplicateAid(), AuditTrail()]


def _open(store: Path) -> Warmcase:
    return warmcase.open(f"sqlite:///{store}")


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS); for RUSAGE_CHILDREN, the largest child's.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(who).ru_maxrss / scale


def _fold_all(
    projections: Sequence[Projection[Any]], states: list[Any], event: Any, meta: Meta
) -> None:
    type_name = event.type_name
    for index, projection in enumerate(projections):
        if type_name in projection.reads:
            states[index] = projection.apply(states[index], event, meta)


# -- the rebuilds, one per child process ---------------------------------------------------


def rebuild_warmcase(app: Warmcase) -> dict[str, Any]:
    """(w): the application's own rebuild (checkpoints saved as it goes)."""
    started = time.perf_counter()
    report = app.rebuild()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "read": report.events, "checkpoints": report.checkpoints}


def rebuild_parallel(app: Warmcase, store: Path) -> dict[str, Any]:
    """(w2): the application's rebuild in two processes, one per group of projections
    (this one folds a group too)."""
    attach(app, f"sqlite:///{store}")
    started = time.perf_counter()
    report = app.rebuild(jobs=2)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "read": report.events,
        "checkpoints": report.checkpoints,
        "jobs": report.jobs,
        "children": report.jobs - 1,
        "groups": [
            {"projections": list(group.projections), "seconds": group.seconds}
            for group in report.groups
        ],
        "child_peak_mb": _peak_mb(resource.RUSAGE_CHILDREN),
    }


def rebuild_history(app: Warmcase) -> dict[str, Any]:
    """(w0): warmcase's rebuild (one read, page folds), nothing saved."""
    views = LiveViews(app.history, save_checkpoints=False)
    started = time.perf_counter()
    report = views.rebuild(standard())
    return {"seconds": time.perf_counter() - started, "read": report.events, "checkpoints": 0}


def rebuild_eventsourcing(app: Warmcase) -> dict[str, Any]:
    """(a): eventsourcing's notifications and mapper, the same four folds."""
    projections = standard()
    recorder: Any = app.recorder
    mapper = app.mapper
    started = time.perf_counter()
    states = [projection.initial() for projection in projections]
    read = 0
    start = 1
    # Cycle collection off, as in warmcase's own folds: like is compared with like.
    with folding():
        while True:
            page = recorder.select_notifications(start=start, limit=PAGE)
            if not page:
                break
            times = recorder.recorded_times(notification.id for notification in page)
            for notification in page:
                envelope: Envelope = mapper.to_domain_event(notification)  # type: ignore[assignment]
                meta = Meta(
                    position=notification.id,
                    recorded_at=times[notification.id],
                    stream_id=envelope.originator_id,
                    version=envelope.originator_version,
                )
                _fold_all(projections, states, envelope.event, meta)
                read += 1
            start = page[-1].id + 1
    return {"seconds": time.perf_counter() - started, "read": read, "checkpoints": 0}


def _raw_pages(store: Path, decode_page: Callable[[list[tuple[Any, ...]]], None]) -> dict[str, Any]:
    connection = sqlite3.connect(store)
    started = time.perf_counter()
    read = 0
    after = 0
    while True:
        rows = connection.execute(
            "SELECT rowid, topic, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, PAGE),
        ).fetchall()
        if not rows:
            break
        decode_page(rows)
        read += len(rows)
        after = rows[-1][0]
    seconds = time.perf_counter() - started
    connection.close()
    return {"seconds": seconds, "read": read, "checkpoints": 0}


def read_floor(store: Path) -> dict[str, Any]:
    """(b): raw sqlite3 pages and msgpack decoding, no fold."""
    unpack = msgpack.unpackb

    def decode_page(rows: list[tuple[Any, ...]]) -> None:
        for _, _, state in rows:
            unpack(state, use_list=False, raw=False, strict_map_key=False)

    return _raw_pages(store, decode_page)


def codec_floor(app: Warmcase, store: Path) -> dict[str, Any]:
    """(bc): raw sqlite3 pages decoded by warmcase's page codec, no event built, no fold."""
    window = key_window(app.mapper.codec.keyring)  # type: ignore[attr-defined]
    leaves = LeafCache()

    def decode_page(rows: list[tuple[Any, ...]]) -> None:
        window.next_page()
        decode = SealedPageCodec(window, leaves=leaves).decode
        for _, _, state in rows:
            decode(state)

    return _raw_pages(store, decode_page)


def rules_only(app: Warmcase) -> dict[str, Any]:
    """(f): the time the four projections' rules take, and nothing else.

    Each projection reads its events as a rebuild does (lists of decoded events, its
    state kept thawed) and only the folding of each list is timed: what is left when
    reading and saving cost nothing. With two cores shared perfectly, no rebuild of these
    rules can go faster than twice this rate.
    """
    history = app.history
    upto = history.last_position()
    spent: dict[str, float] = {}
    folded = 0
    clock = time.perf_counter
    with folding():
        for projection in standard():
            work = projection.thawed(projection.initial())
            seconds = 0.0
            for page in history.read_pages(after=0, upto=upto, types=projection.reads):
                folded += len(page)
                started = clock()
                work = projection.fold_thawed(work, page)
                seconds += clock() - started
            started = clock()
            projection.frozen(work)
            spent[projection.name] = seconds + clock() - started
            del work
    return {"seconds": sum(spent.values()), "read": folded, "checkpoints": 0, "rules_s": spent}


def child(variant: str, store: Path) -> dict[str, Any]:
    """Run one rebuild variant in this (fresh) process."""
    app = _open(store)
    try:
        if variant == "w":
            result = rebuild_warmcase(app)
        elif variant == "w2":
            result = rebuild_parallel(app, store)
        elif variant == "w0":
            result = rebuild_history(app)
        elif variant == "a":
            result = rebuild_eventsourcing(app)
        elif variant == "b":
            result = read_floor(store)
        elif variant == "bc":
            result = codec_floor(app, store)
        elif variant == "f":
            result = rules_only(app)
        elif variant == "idle":
            result = {"seconds": 0.0, "read": 0, "checkpoints": 0}
        elif variant == "asof":
            result = as_of_queries(
                app,
                points=int(os.environ["WARMCASE_BENCH_POINTS"]),
                brute=int(os.environ["WARMCASE_BENCH_BRUTE"]),
            )
        else:
            msg = f"unknown variant {variant!r}"
            raise ValueError(msg)
    finally:
        app.close()
    return {**result, "peak_mb": _peak_mb()}


def in_child(variant: str, store: Path, **env: str) -> dict[str, Any]:
    """Run `variant` in a fresh interpreter and return what it measured."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.projections", "--child", variant, "--store", str(store)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# -- as-of answers ---------------------------------------------------------------------


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def as_of_queries(app: Warmcase, *, points: int, brute: int) -> dict[str, Any]:
    """Latency of `points` random answers per projection; `brute` of them replayed in full."""
    history = app.history
    last = history.last_position()
    # A warm process: one read of the history holding snapshots in memory, timed apart.
    started = time.perf_counter()
    app.warm()
    warm_seconds = time.perf_counter() - started
    # Deterministic, so every run asks the same questions; nothing here is secret.
    rng = random.Random(2027)
    figures: dict[str, Any] = {}
    for projection in standard():
        latencies: list[float] = []
        replays: list[float] = []
        mismatches = 0
        for number in range(points):
            position = rng.randint(1, last)
            recorded = history.recorded_at(position)
            assert recorded is not None
            # Mostly a past effective time (what was true then, as known later).
            effective = (
                recorded - timedelta(days=rng.uniform(0, 20)) if rng.random() < 0.8 else recorded
            )
            started = time.perf_counter()
            answer = app.query(projection, as_of=position, effective=effective)
            latencies.append(time.perf_counter() - started)
            if number < brute:
                started = time.perf_counter()
                with folding():
                    replayed = projection.fold(
                        history.read_effective(
                            after=0,
                            upto=answer.basis.position,
                            effective_upto=answer.basis.effective,
                            types=projection.reads,
                        )
                    )
                replays.append(time.perf_counter() - started)
                mismatches += replayed != answer.state
        figures[projection.name] = {
            "latencies_s": latencies,
            "median_ms": median(latencies) * 1000,
            "p95_ms": _percentile(latencies, 0.95) * 1000,
            "max_ms": max(latencies) * 1000,
            "full_replay_s": replays,
            "median_full_replay_ms": median(replays) * 1000 if replays else None,
            "mismatches": mismatches,
        }
    return {
        "seconds": 0.0,
        "read": 0,
        "checkpoints": 0,
        "warm_up_s": warm_seconds,
        "projections": figures,
    }


# -- profiling ---------------------------------------------------------------------------


def profile(store: Path, top: int = 12) -> None:
    """Print where each projection's fold spends its time (the read is timed apart)."""
    app = _open(store)
    history = app.history
    last = history.last_position()
    for projection in standard():
        recorded = list(history.read(after=0, upto=last, types=projection.reads))
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        projection.fold(recorded)
        profiler.disable()
        seconds = time.perf_counter() - started
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        print(
            f"\n=== {projection.name}: {len(recorded):,} events folded in {seconds:.1f} s "
            f"(under the profiler) ==="
        )
        print(out.getvalue())
        del recorded
    app.close()


# -- the run -----------------------------------------------------------------------------


def ensure_store(store: Path, events: int) -> float | None:
    """Generate the store if it is missing; the seconds it took (None if it existed)."""
    if store.exists():
        return None
    store.parent.mkdir(parents=True, exist_ok=True)
    print(f"Generating a store of about {events:,} events at {store} ...", flush=True)
    started = time.perf_counter()
    generate.generate(store, events=events)
    return time.perf_counter() - started


def store_events(store: Path) -> int:
    """How many events the store holds."""
    connection = sqlite3.connect(store)
    try:
        return int(connection.execute("SELECT count(*) FROM stored_events").fetchone()[0])
    finally:
        connection.close()


def measure(store: Path, *, rounds: int, points: int, brute: int) -> dict[str, Any]:
    """Every figure of a run, on an existing store."""
    events = store_events(store)
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    for round_number in range(rounds):
        shift = round_number % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            result = in_child(variant, store)
            runs[variant].append(result)
            print(
                f"  round {round_number + 1}: {variant:<2} {result['seconds']:7.1f} s "
                f"{events / result['seconds']:>9,.0f} events/s  peak {result['peak_mb']:,.0f} MB",
                flush=True,
            )
    idle = in_child("idle", store)
    asof = in_child(
        "asof", store, WARMCASE_BENCH_POINTS=str(points), WARMCASE_BENCH_BRUTE=str(brute)
    )
    rate = {v: [events / r["seconds"] for r in runs[v]] for v in VARIANTS}
    medians = {v: median(rate[v]) for v in VARIANTS}
    return {
        "store_events": events,
        "rounds": rounds,
        "page_rows": PAGE,
        "rebuild": {
            variant: {
                "what": LABELS[variant],
                "events_per_s": rate[variant],
                "median_events_per_s": medians[variant],
                "seconds": [r["seconds"] for r in runs[variant]],
                "events_read": runs[variant][0]["read"],
                "checkpoints_saved": runs[variant][0]["checkpoints"],
                "peak_mb": [r["peak_mb"] for r in runs[variant]],
                "median_peak_mb": median([r["peak_mb"] for r in runs[variant]]),
                **_parallel_figures(runs[variant]),
                **_rules_figures(runs[variant]),
            }
            for variant in VARIANTS
        },
        "idle_process_peak_mb": idle["peak_mb"],
        "ratio_w_to_a": medians["w"] / medians["a"],
        "ratio_w_to_b": medians["w"] / medians["b"],
        "ratio_w2_to_a": medians["w2"] / medians["a"],
        "ratio_w2_to_b": medians["w2"] / medians["b"],
        "ratio_w0_to_a": medians["w0"] / medians["a"],
        "ratio_w0_to_b": medians["w0"] / medians["b"],
        "ratio_w_to_bc": medians["w"] / medians["bc"],
        "ratio_w2_to_bc": medians["w2"] / medians["bc"],
        "as_of": {
            "points_per_projection": points,
            "full_replays_per_projection": brute,
            "process_peak_mb": asof["peak_mb"],
            "warm_up_s": asof["warm_up_s"],
            **asof["projections"],
        },
    }


def _parallel_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The processes of a rebuild with several jobs: its groups' seconds, the children's
    peak (the parent folds a group too)."""
    if "jobs" not in runs[0]:
        return {}
    return {
        "jobs": runs[0]["jobs"],
        "children": runs[0]["children"],
        "groups": [run["groups"] for run in runs],
        "median_child_peak_mb": median([r["child_peak_mb"] for r in runs]),
    }


def _rules_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each projection's rules' seconds (median over the rounds), for (f)."""
    if "rules_s" not in runs[0]:
        return {}
    names = runs[0]["rules_s"]
    return {"median_rules_s": {name: median([r["rules_s"][name] for r in runs]) for name in names}}


def variant_label(variant: str) -> str:
    """The variant's short name, as the table's rows begin: "(w2)"."""
    return f"({variant})"


def _peak(row: dict[str, Any]) -> str:
    if "median_child_peak_mb" not in row:
        return f"{row['median_peak_mb']:,.0f} MB"
    return (
        f"{row['median_peak_mb']:,.0f} MB + {row['children']} x "
        f"{row['median_child_peak_mb']:,.0f} MB"
    )


def table(figures: dict[str, Any], generated: float | None) -> str:
    """The Markdown tables of a run."""
    events = figures["store_events"]
    rebuild = figures["rebuild"]
    lines = [
        f"Store: {events:,} events (SQLite file, `benchmarks.generate`)"
        + (f", generated in {generated:.0f} s" if generated else "")
        + f"; {figures['rounds']} interleaved rounds, each rebuild in a fresh process.",
        "",
        "| full rebuild of the 4 standard projections | median events/s | vs (a) | vs (b) "
        "| vs (bc) | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        row = rebuild[variant]
        rate = row["median_events_per_s"]
        vs_a = rate / rebuild["a"]["median_events_per_s"]
        vs_b = rate / rebuild["b"]["median_events_per_s"]
        vs_bc = rate / rebuild["bc"]["median_events_per_s"]
        lines.append(
            f"| {row['what']} | {rate:,.0f} | {vs_a:.2f} | {vs_b:.2f} | {vs_bc:.2f} "
            f"| {_peak(row)} |"
        )
    for variant in VARIANTS:
        row = rebuild[variant]
        if row.get("groups"):
            parts = "; ".join(
                f"{', '.join(group['projections'])} in {group['seconds']:,.1f} s"
                for group in row["groups"][0]
            )
            lines += [
                "",
                f"In {variant_label(variant)}, the processes' own times (first round): {parts}.",
            ]
    rules = rebuild["f"]
    ceiling = 2 * rules["median_events_per_s"]
    lines += [
        "",
        "In (f), each projection's rules alone (median seconds): "
        + "; ".join(f"{name} {seconds:,.1f} s" for name, seconds in rules["median_rules_s"].items())
        + f". With reads free and two cores shared perfectly, no rebuild of these rules goes "
        f"faster than twice (f): {ceiling:,.0f} events/s, "
        f"{ceiling / rebuild['b']['median_events_per_s']:.2f} of (b).",
    ]
    lines += [
        "",
        f"An idle process with the store open peaks at {figures['idle_process_peak_mb']:,.0f} MB.",
        "",
        f"As-of answers are asked of a warm process: `app.warm()` first folded the history "
        f"once, holding snapshots in memory, in {figures['as_of']['warm_up_s']:,.1f} s; "
        f"the process peaked at {figures['as_of']['process_peak_mb']:,.0f} MB.",
        "",
        "| as-of answer (`app.query`, random position and effective time) | median | p95 "
        "| max | full replay to the same point (median) | answers equal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    asof = figures["as_of"]
    for name in ("stock", "coverage", "duplicate_aid", "audit_trail"):
        row = asof.get(name)
        if row is None:
            continue
        replay = row["median_full_replay_ms"]
        checked = asof["full_replays_per_projection"]
        lines.append(
            f"| {name} ({asof['points_per_projection']} points) | {row['median_ms']:,.1f} ms "
            f"| {row['p95_ms']:,.1f} ms | {row['max_ms']:,.0f} ms "
            f"| {'-' if replay is None else f'{replay:,.0f} ms'} "
            f"| {checked - row['mismatches']}/{checked} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print and publish (or run one child, or profile)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--brute", type=int, default=3, help="as-of points also replayed in full")
    parser.add_argument("--profile", action="store_true", help="profile each projection's fold")
    parser.add_argument("--no-publish", action="store_true", help="print, write no docs")
    parser.add_argument("--child", choices=(*VARIANTS, "idle", "asof"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        print(json.dumps(child(arguments.child, arguments.store)))
        return 0
    generated = ensure_store(arguments.store, arguments.events)
    if arguments.profile:
        profile(arguments.store)
        return 0
    figures = measure(
        arguments.store, rounds=arguments.rounds, points=arguments.points, brute=arguments.brute
    )
    figures["generated_in_s"] = generated
    text = table(figures, generated)
    if arguments.no_publish:
        print(text)
    else:
        publish("projections", figures, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
