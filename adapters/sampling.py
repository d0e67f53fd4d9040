"""The after-festival audit sample: a reproducible, stratified draw of visited households.

Inspectors call or knock at no fewer than a set share (10%) of the visited households of
each community. The draw must be one anyone can redo, by hand if need be, and later
check against the books:

- the population is the households of a campaign reached by a completed visit at a
  pinned basis (as coverage counts them: a merged duplicate under its survivor, at the
  survivor's address);
- a stratum is the area path of a household down to the chosen level
  (``"Gulou/Dongjie/Wenquan"`` for a community), so equal names under different
  streets stay apart;
- a stratum of ``n`` households gives ``ceil(rate * n)`` of them, computed exactly
  (``rate`` is a decimal fraction, never a float): those whose
  ``sha256(f"{seed}|{stratum}|{ref}")`` (UTF-8, hex) is the smallest;
- a stratum's fingerprint is the sha256 of its sorted references, each followed by a
  newline; the population's is the sha256 of the sorted ``stratum|ref`` lines.

The record keeps the basis, the parameters, the seed, each stratum's population, draw
and fingerprint, and a hint of the store it came from. :func:`verify` redraws it from a
store, folding the history itself rather than trusting saved checkpoints.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import attrs
from pyrsistent import pset

from warmcase.app import Warmcase
from warmcase.projections.answering import state_at
from warmcase.projections.basis import AsOf, Basis, Effective
from warmcase.projections.coverage import LEVELS, Coverage, CoverageState, area_text
from warmcase.projections.history import DelegatingHistory

FORMAT = "warmcase.audit-sample"
VERSION = 1
DEFAULT_BY = "community"
DEFAULT_RATE = "0.10"

#: The method in words, written into every record so the file explains itself.
METHOD = (
    "population: households of the campaign reached by a completed visit at the basis "
    "(a merged duplicate counts under its survivor); stratum: the household's area path "
    "down to `by`, names joined by '/'; per stratum of n households draw ceil(rate * n), "
    "computed exactly, taking those with the smallest sha256(seed + '|' + stratum + '|' + "
    "ref) in UTF-8 hex; population_sha256 of a stratum: sha256 of its references sorted "
    "by code point, each followed by a newline; population.sha256: the same over the "
    "lines 'stratum|ref'."
)


class SampleError(ValueError):
    """A rate, level, seed or record the sample cannot be drawn or checked with."""


# ---------------------------------------------------------------- the method


def parse_rate(text: str) -> Fraction:
    """The share to draw, from a decimal (``"0.10"``) or a percentage (``"10%"``).

    Kept as an exact fraction: ``0.1 * 30`` is ``3.0000000000000004`` in floating
    point, and its ceiling would draw one household too many.
    """
    written = text.strip()
    try:
        rate = (
            Fraction(Decimal(written[:-1].strip())) / 100
            if written.endswith("%")
            else Fraction(Decimal(written))
        )
    except (InvalidOperation, ValueError, OverflowError):
        msg = f"rate {text!r} is not a decimal such as 0.10 or a percentage such as 10%"
        raise SampleError(msg) from None
    if not 0 < rate <= 1:
        msg = f"rate {text!r} is outside (0, 1]: draw a share above nothing and at most all"
        raise SampleError(msg)
    return rate


def check_by(by: str) -> str:
    """`by` when it names an area level."""
    if by not in LEVELS:
        msg = f"cannot stratify by {by!r}: choose one of {', '.join(LEVELS)}"
        raise SampleError(msg)
    return by


def check_seed(seed: str) -> str:
    """`seed` when it can be typed again exactly: printable, no blanks at either end."""
    if not seed or seed != seed.strip() or not seed.isprintable():
        msg = f"seed {seed!r} must be non-empty printable text without blanks at either end"
        raise SampleError(msg)
    return seed


def new_seed() -> str:
    """A fresh seed from the operating system's randomness (128 bits, hex)."""
    return os.urandom(16).hex()


def quota(rate: Fraction, size: int) -> int:
    """How many of a stratum of `size` households to draw: ``ceil(rate * size)``."""
    return math.ceil(rate * size)


def rank(seed: str, stratum: str, ref: str) -> str:
    """A household's place in its stratum's draw: the smaller, the sooner drawn."""
    return hashlib.sha256(f"{seed}|{stratum}|{ref}".encode()).hexdigest()


def fingerprint(lines: Iterable[str]) -> str:
    """sha256 of `lines` sorted by code point, each followed by a newline."""
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()


def population_fingerprint(strata: Mapping[str, Iterable[str]]) -> str:
    """The fingerprint of a whole population: its ``stratum|ref`` lines."""
    return fingerprint(f"{name}|{ref}" for name, refs in strata.items() for ref in refs)


@attrs.frozen(kw_only=True)
class Stratum:
    """One stratum: its households, the ones drawn (in draw order) and its fingerprint."""

    name: str
    population: tuple[str, ...]
    """Sorted by code point."""
    sample: tuple[str, ...]
    """By rank: the first drawn first."""

    @property
    def size(self) -> int:
        """Households in the stratum."""
        return len(self.population)

    @property
    def drawn(self) -> int:
        """Households drawn from it."""
        return len(self.sample)

    @property
    def population_sha256(self) -> str:
        """The stratum's fingerprint."""
        return fingerprint(self.population)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "stratum": self.name,
            "size": self.size,
            "drawn": self.drawn,
            "sample": list(self.sample),
            "population_sha256": self.population_sha256,
            "population": list(self.population),
        }


def draw_stratum(name: str, refs: Iterable[str], *, seed: str, rate: Fraction) -> Stratum:
    """Draw from one stratum: the ``ceil(rate * n)`` households of smallest rank."""
    population = tuple(sorted(set(refs)))
    ranked = sorted(population, key=lambda ref: (rank(seed, name, ref), ref))
    return Stratum(
        name=name, population=population, sample=tuple(ranked[: quota(rate, len(ranked))])
    )


def draw(strata: Mapping[str, Iterable[str]], *, seed: str, rate: Fraction) -> tuple[Stratum, ...]:
    """Draw from every stratum, in the order of their names."""
    return tuple(draw_stratum(name, strata[name], seed=seed, rate=rate) for name in sorted(strata))


# ---------------------------------------------------------------- the population


def visited(state: CoverageState, campaign: str, by: str) -> dict[str, set[str]]:
    """The households of `campaign` reached by a completed visit, by stratum.

    Counted as coverage counts "reached": each enrolled record under the survivor of
    its merges, reached when a completed visit of the campaign went to any record of
    it, placed at the survivor's address.
    """
    depth = LEVELS.index(check_by(by)) + 1
    survivors = {_survivor(state, ref) for ref in state.enrolled.get(campaign, pset())}
    reached: set[str] = set()
    for ref in state.campaign_visits.get(campaign, pset()):
        visit = state.visits[ref]
        if visit.completed is not None and visit.household is not None:
            reached.add(_survivor(state, visit.household))
    strata: dict[str, set[str]] = {}
    for ref in survivors & reached:
        info = state.households.get(ref)
        name = area_text(info.area[:depth]) if info is not None else ""
        strata.setdefault(name or "(no area)", set()).add(ref)
    return strata


def _survivor(state: CoverageState, ref: str) -> str:
    seen = [ref]
    info = state.households.get(ref)
    while info is not None and info.merged_into is not None and info.merged_into not in seen:
        seen.append(info.merged_into)
        info = state.households.get(info.merged_into)
    return seen[-1]


class EventsOnly(DelegatingHistory):
    """A history whose saved checkpoints are ignored: an audit folds the events themselves,
    so a saved state that disagrees with them cannot hide the disagreement."""

    def checkpoint(self, name: str, *, at_or_before: int) -> tuple[int, Any] | None:
        """None: start from the first event."""
        return None

    def save_checkpoint(self, name: str, position: int, state: Any) -> None:
        """Nothing: verifying writes nothing to the store."""

    def drop_checkpoints(self, name: str) -> None:
        """Nothing: verifying writes nothing to the store."""


# ---------------------------------------------------------------- the record


@attrs.frozen(kw_only=True)
class StoreHint:
    """Which store a sample came from, to tell a reader; a redraw need not match it."""

    location: str
    first_recorded_at: datetime | None
    last_position: int

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "location": self.location,
            "first_recorded_at": _iso(self.first_recorded_at),
            "last_position": self.last_position,
        }


@attrs.frozen(kw_only=True)
class Sample:
    """An audit sample and everything needed to redraw it."""

    campaign: str
    basis: Basis
    rate: str
    """The rate as written (``"0.10"``, ``"10%"``); see :func:`parse_rate`."""
    by: str
    seed: str
    strata: tuple[Stratum, ...]
    store: StoreHint

    @property
    def size(self) -> int:
        """Households in the population."""
        return sum(stratum.size for stratum in self.strata)

    @property
    def drawn(self) -> int:
        """Households drawn."""
        return sum(stratum.drawn for stratum in self.strata)

    @property
    def population_sha256(self) -> str:
        """The whole population's fingerprint."""
        return population_fingerprint({s.name: s.population for s in self.strata})

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON has it."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "method": METHOD,
            "store": self.store.to_dict(),
            "campaign": self.campaign,
            "basis": self.basis.to_dict(),
            "rate": self.rate,
            "by": self.by,
            "seed": self.seed,
            "population": {
                "households": self.size,
                "drawn": self.drawn,
                "sha256": self.population_sha256,
            },
            "strata": [stratum.to_dict() for stratum in self.strata],
        }


def take(
    app: Warmcase,
    campaign: str,
    *,
    rate: str = DEFAULT_RATE,
    by: str = DEFAULT_BY,
    seed: str | None = None,
    as_of: AsOf = None,
    effective: Effective = None,
    location: str = "",
) -> Sample:
    """Draw the audit sample of `campaign` at the basis `as_of` and `effective` name.

    Raises NotFound when the campaign was not opened by then, SampleError for a bad
    rate, level or seed.
    """
    share = parse_rate(rate)
    check_by(by)
    seed = new_seed() if seed is None else check_seed(seed)
    # The coverage report resolves dates in the campaign's time zone and refuses an
    # unknown campaign; its basis then pins the population.
    basis = app.coverage(campaign, as_of=as_of, effective=effective).basis
    state = app.query(Coverage(), as_of=basis.position, effective=basis.effective).state
    return Sample(
        campaign=campaign,
        basis=basis,
        rate=rate.strip(),
        by=by,
        seed=seed,
        strata=draw(visited(state, campaign, by), seed=seed, rate=share),
        store=StoreHint(
            location=location,
            first_recorded_at=app.history.recorded_at(1) if basis.position else None,
            last_position=app.history.last_position(),
        ),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# ---------------------------------------------------------------- reading a record


@attrs.frozen(kw_only=True)
class RecordedStratum:
    """A stratum as the record has it, fingerprint included (it may disagree)."""

    name: str
    population: tuple[str, ...]
    sample: tuple[str, ...]
    population_sha256: str


@attrs.frozen(kw_only=True)
class Record:
    """A sample record as read from its file, before anything is believed."""

    campaign: str
    basis: Basis
    rate: str
    by: str
    seed: str
    strata: tuple[RecordedStratum, ...]
    population_sha256: str
    store: Mapping[str, Any]


def read_record(data: Any) -> Record:
    """A record from its JSON values; SampleError when it is not one this version reads."""
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            msg = f'not a warmcase audit sample (no "format": "{FORMAT}")'
            raise SampleError(msg)
        if data.get("version") != VERSION:
            msg = f"audit sample version {data.get('version')!r}; this warmcase reads {VERSION}"
            raise SampleError(msg)
        basis = data["basis"]
        recorded_at = basis["recorded_at"]
        record = Record(
            campaign=_text(data["campaign"]),
            basis=Basis(
                position=_count(basis["position"]),
                recorded_at=None if recorded_at is None else _moment(recorded_at),
                effective=_moment(basis["effective"]),
            ),
            rate=_text(data["rate"]),
            by=_text(data["by"]),
            seed=_text(data["seed"]),
            strata=tuple(
                RecordedStratum(
                    name=_text(stratum["stratum"]),
                    population=tuple(_text(ref) for ref in stratum["population"]),
                    sample=tuple(_text(ref) for ref in stratum["sample"]),
                    population_sha256=_text(stratum["population_sha256"]),
                )
                for stratum in data["strata"]
            ),
            population_sha256=_text(data["population"]["sha256"]),
            store=dict(data.get("store") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, SampleError):
            raise
        msg = (
            f"the audit sample record is incomplete or malformed ({type(error).__name__}: {error})"
        )
        raise SampleError(msg) from None
    parse_rate(record.rate)
    check_by(record.by)
    check_seed(record.seed)
    return record


def _text(value: Any) -> str:
    if not isinstance(value, str):
        msg = f"expected text, got {value!r}"
        raise TypeError(msg)
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"expected a position, got {value!r}"
        raise TypeError(msg)
    return value


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        msg = f"time {value!r} has no offset"
        raise ValueError(msg)
    return moment


# ---------------------------------------------------------------- verifying


SAME = "same"
POPULATION_DIFFERS = "population differs"
DRAW_DIFFERS = "draw differs"


@attrs.frozen(kw_only=True)
class StratumCheck:
    """One stratum of a record against its redraw from the store."""

    name: str
    status: str
    """SAME, POPULATION_DIFFERS or DRAW_DIFFERS."""
    recorded_size: int
    size: int
    added: tuple[str, ...] = ()
    """Visited at the basis in the store, absent from the record's population."""
    removed: tuple[str, ...] = ()
    """In the record's population, not visited at the basis in the store."""
    drawn_now: tuple[str, ...] = ()
    """Drawn by the redraw, not in the record's sample."""
    not_drawn_now: tuple[str, ...] = ()
    """In the record's sample, not drawn by the redraw."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            field.name: _listed(getattr(self, field.name)) for field in attrs.fields(StratumCheck)
        }


@attrs.frozen(kw_only=True)
class Verification:
    """What redrawing a record from a store found."""

    record: Record
    basis: Basis
    """The basis as the store has it (recorded time read from the store)."""
    problems: tuple[str, ...]
    """Everything that differs, in words; empty when the sample is confirmed."""
    strata: tuple[StratumCheck, ...]
    notes: tuple[str, ...]
    """What differs without mattering (the store hint)."""

    @property
    def identical(self) -> bool:
        """Whether the store gives the identical population and draw."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "identical": self.identical,
            "campaign": self.record.campaign,
            "basis": self.basis.to_dict(),
            "problems": list(self.problems),
            "notes": list(self.notes),
            "strata": [check.to_dict() for check in self.strata],
        }


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def self_check(record: Record) -> list[str]:
    """What in the record disagrees with itself: fingerprints, or a draw its own population
    and seed do not give (an edited file)."""
    share = parse_rate(record.rate)
    problems = []
    for stratum in record.strata:
        if fingerprint(stratum.population) != stratum.population_sha256:
            problems.append(
                f"stratum {stratum.name}: the record's population list does not match its "
                f"population_sha256 (the file was edited)"
            )
        redrawn = draw_stratum(stratum.name, stratum.population, seed=record.seed, rate=share)
        if set(redrawn.sample) != set(stratum.sample):
            problems.append(
                f"stratum {stratum.name}: the record's sample is not the draw its own population "
                f"and seed give (the file was edited)"
            )
    whole = population_fingerprint({s.name: s.population for s in record.strata})
    if whole != record.population_sha256:
        problems.append(
            "the record's population lists do not match its population sha256 (the file was edited)"
        )
    return problems


def verify(app: Warmcase, record: Record, *, location: str = "") -> Verification:
    """Redraw `record` from `app`'s store at its basis and compare, stratum by stratum."""
    problems = self_check(record)
    history = EventsOnly(app.history)
    last = history.last_position()
    position = record.basis.position
    recorded_at = history.recorded_at(position) if position else None
    if last < position:
        problems.append(
            f"the store ends at position {last}, before the sample's basis at position "
            f"{position}: it does not hold the history the sample was drawn from"
        )
    elif recorded_at != record.basis.recorded_at:
        problems.append(
            f"position {position} was recorded at {_iso(recorded_at)} in this store, "
            f"not at {_iso(record.basis.recorded_at)} as the sample says"
        )
    basis = Basis(position=position, recorded_at=recorded_at, effective=record.basis.effective)
    state = state_at(Coverage(), history, basis)
    if record.campaign not in state.campaigns:
        problems.append(f"campaign {record.campaign} is not in this store at the sample's basis")
    redrawn = {
        s.name: s
        for s in draw(
            visited(state, record.campaign, record.by),
            seed=record.seed,
            rate=parse_rate(record.rate),
        )
    }
    recorded = {s.name: s for s in record.strata}
    checks = []
    for name in sorted(recorded.keys() | redrawn.keys()):
        check = _check(name, recorded.get(name), redrawn.get(name))
        checks.append(check)
        if check.status != SAME:
            problems.append(_described(check))
    return Verification(
        record=record,
        basis=basis,
        problems=tuple(problems),
        strata=tuple(checks),
        notes=tuple(_hint_notes(app, record, location)),
    )


def _check(name: str, recorded: RecordedStratum | None, redrawn: Stratum | None) -> StratumCheck:
    population = set(() if recorded is None else recorded.population)
    sample = set(() if recorded is None else recorded.sample)
    population_now = set(() if redrawn is None else redrawn.population)
    sample_now = set(() if redrawn is None else redrawn.sample)
    fingerprint_now = fingerprint(population_now)
    if recorded is None or recorded.population_sha256 != fingerprint_now:
        status = POPULATION_DIFFERS
    elif sample != sample_now:
        status = DRAW_DIFFERS
    else:
        status = SAME
    return StratumCheck(
        name=name,
        status=status,
        recorded_size=len(population),
        size=len(population_now),
        added=tuple(sorted(population_now - population)),
        removed=tuple(sorted(population - population_now)),
        drawn_now=tuple(sorted(sample_now - sample)),
        not_drawn_now=tuple(sorted(sample - sample_now)),
    )


def _described(check: StratumCheck) -> str:
    parts = [f"stratum {check.name}: {check.status}"]
    if check.status == POPULATION_DIFFERS:
        parts.append(
            f"{check.size} visited households in the store, {check.recorded_size} recorded"
        )
    for label, refs in (
        ("visited now but not recorded", check.added),
        ("recorded but not visited now", check.removed),
        ("drawn now but not in the recorded sample", check.drawn_now),
        ("in the recorded sample but not drawn now", check.not_drawn_now),
    ):
        if refs:
            parts.append(f"{label}: {', '.join(refs)}")
    return "; ".join(parts)


def _hint_notes(app: Warmcase, record: Record, location: str) -> Iterator[str]:
    hint = record.store
    first = app.history.recorded_at(1) if app.history.last_position() else None
    if hint.get("first_recorded_at") not in (None, _iso(first)):
        yield (
            f"the store's first event was recorded at {_iso(first)}, the sample's store's at "
            f"{hint.get('first_recorded_at')}: a different store (not required to match)"
        )
    if hint.get("location") and location and hint.get("location") != location:
        yield f"drawn from {hint.get('location')}, redrawn from {location}"
