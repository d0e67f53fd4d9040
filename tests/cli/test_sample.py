"""`warmcase sample`: the audit sample drawn, redrawn and verified through the console script."""

from __future__ import annotations

import json
import math
import re
import shlex
import sqlite3
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import warmcase
from tests.cli.console import copy_store
from tests.cli.console import warmcase as run

GUIDE = Path(__file__).parents[2] / "docs" / "audit-sample.md"
EXPECTED_EXIT = re.compile(r"#\s*exit (\d)\s*$")
CAMPAIGN = "SF-2027"
COMMUNITIES = ("Beiyuan", "Dongjie", "Hualin", "Nanmen", "Wenquan", "Xihu")
# The scenario's 93 + 1,861 + 42 targets, less H-0700 whose enrolment is refused; every
# enrolled household is visited by the end of the season (the late correction's household
# twice, counted once).
VISITED = 1_995


@pytest.fixture(scope="module")
def drawn(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the demo store and the sample drawn from it at 10% by community, seed 2027."""
    folder = tmp_path_factory.mktemp("sample")
    store = copy_store(demo_store, folder)
    record = folder / "sample.json"
    result = run(
        "sample",
        "--store",
        str(store),
        "--campaign",
        CAMPAIGN,
        "--rate",
        "0.10",
        "--by",
        "community",
        "--seed",
        "2027",
        "--output",
        str(record),
    )
    assert result.returncode == 0, result.stderr
    return store, record


def read(path: Path) -> dict[str, Any]:
    """A sample record's JSON."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def verify(store: Path, record: Path) -> subprocess.CompletedProcess[str]:
    """`warmcase sample --verify RECORD --store STORE`."""
    return run("sample", "--verify", str(record), "--store", str(store))


def test_the_sample_takes_a_tenth_of_each_communitys_visited_households(
    drawn: tuple[Path, Path],
) -> None:
    """Six communities, every visited household in one of them, each giving ceil(10%) of its
    own; the record holds the seed, rate, level and a basis inside the store."""
    _, path = drawn
    record = read(path)
    expected = [f"Gulou/Dongjie/{community}" for community in COMMUNITIES]
    assert expected == [stratum["stratum"] for stratum in record["strata"]]
    assert record["population"]["households"] == VISITED
    for stratum in record["strata"]:
        assert stratum["drawn"] == math.ceil(Fraction(1, 10) * stratum["size"])
        assert set(stratum["sample"]) <= set(stratum["population"])
    expected_parameters = (CAMPAIGN, "0.10", "community", "2027")
    assert expected_parameters == (
        record["campaign"],
        record["rate"],
        record["by"],
        record["seed"],
    )
    assert record["basis"]["position"] == record["store"]["last_position"]


def test_the_population_is_the_reached_households_of_the_coverage_report(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    """Each community's population size equals the coverage report's reached households at
    the record's basis."""
    store, path = drawn
    record = read(path)
    app = warmcase.open(f"sqlite:///{copy_store(store, tmp_path)}")
    try:
        answer = app.coverage(CAMPAIGN, as_of=record["basis"]["position"])
    finally:
        app.close()
    reached = {
        line.key: line.households.reached for line in answer.areas if line.level == "community"
    }
    assert reached == {s["stratum"]: s["size"] for s in record["strata"]}


def test_a_sample_redrawn_from_its_file_is_identical(drawn: tuple[Path, Path]) -> None:
    """No row edited: --verify redraws the identical households (exit 0), and a fresh draw
    with the record's seed at its basis gives the record's strata, household for household."""
    store, path = drawn
    result = verify(store, path)
    assert result.returncode == 0, result.stderr
    assert "identical" in result.stdout
    assert f"same {VISITED:,} visited households" in result.stdout
    record = read(path)
    again = run(
        "sample",
        "--store",
        str(store),
        "--campaign",
        CAMPAIGN,
        "--seed",
        "2027",
        "--as-of",
        str(record["basis"]["position"]),
        "--format",
        "json",
    )
    assert again.returncode == 0, again.stderr
    assert record["strata"] == json.loads(again.stdout)["strata"]


def test_a_store_with_a_visit_deleted_after_the_draw_does_not_verify(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    """What an auditor faces: the office hands over its database, and the completion and
    payment rows of a drawn household's visit were deleted after the draw (say, to keep the
    inspectors from calling a visit that never happened). The record stays as it was, so
    --verify at its pinned basis sees a different population: exit 1, naming the community,
    the household now missing and the one drawn in its place."""
    store, path = drawn
    record = read(path)
    beiyuan = record["strata"][0]
    target = beiyuan["sample"][0]
    tampered = copy_store(store, tmp_path)
    app = warmcase.open(f"sqlite:///{tampered}")
    try:
        entries = app.audit_trail(target).entries
    finally:
        app.close()
    rows = [
        e.position for e in entries if e.event_type in {"visit.completed", "household.aid_paid"}
    ]
    assert len(rows) == 2
    with sqlite3.connect(tampered) as database:
        database.executemany("DELETE FROM stored_events WHERE rowid = ?", [(row,) for row in rows])
    database.close()
    result = verify(tampered, path)
    assert result.returncode == 1, result.stdout
    problems = result.stderr
    assert "does not verify" in problems
    assert "stratum Gulou/Dongjie/Beiyuan: population differs" in problems
    assert f"recorded but not visited now: {target}" in problems
    assert "drawn now but not in the recorded sample: H-" in problems
    assert "Gulou/Dongjie/Dongjie" not in problems


def test_an_edited_sample_file_does_not_verify(drawn: tuple[Path, Path], tmp_path: Path) -> None:
    """A drawn household swapped in the file for an undrawn one of the same community:
    exit 1, the record contradicts its own seed, both households are named."""
    store, path = drawn
    record = read(path)
    xihu = record["strata"][-1]
    chosen = xihu["sample"][0]
    other = next(ref for ref in xihu["population"] if ref not in xihu["sample"])
    xihu["sample"][0] = other
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(record), encoding="utf-8")
    result = verify(store, edited)
    assert result.returncode == 1, result.stdout
    assert "the file was edited" in result.stderr
    assert f"drawn now but not in the recorded sample: {chosen}" in result.stderr
    assert f"in the recorded sample but not drawn now: {other}" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (("--campaign", CAMPAIGN, "--rate", "0"), 2, "outside (0, 1]"),
        (("--campaign", CAMPAIGN, "--rate", "1.5"), 2, "outside (0, 1]"),
        (("--campaign", CAMPAIGN, "--rate", "a tenth"), 2, "not a decimal"),
        (("--campaign", CAMPAIGN, "--by", "household"), 2, "household"),
        (("--campaign", CAMPAIGN, "--as-of", "yesterday"), 2, "--as-of"),
        (("--rate", "0.10"), 2, "--campaign"),
        (("--campaign", "SF-2026"), 1, "NotFound: campaign SF-2026"),
        (("--verify", "missing.json"), 2, "no sample record at missing.json"),
        (("--verify", "sample.json", "--seed", "7"), 2, "--seed cannot be combined"),
    ],
)
def test_bad_options_and_refusals_exit_as_the_cli_conventions_say(
    demo_store: Path, tmp_path: Path, arguments: tuple[str, ...], code: int, message: str
) -> None:
    """Usage errors exit 2 with the option named; a campaign not in the books is refused with
    exit 1 and the typed message."""
    store = copy_store(demo_store, tmp_path)
    result = run("sample", "--store", str(store), *arguments, cwd=tmp_path)
    assert result.returncode == code, result.stdout
    assert message in " ".join(result.stderr.split())


def test_a_file_that_is_not_a_sample_record_is_a_usage_error(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    """--verify on another JSON file exits 2, saying what it is not."""
    store, _ = drawn
    other = tmp_path / "report.json"
    other.write_text('{"report": "coverage"}', encoding="utf-8")
    result = verify(store, other)
    assert result.returncode == 2
    assert "not a warmcase audit sample" in result.stderr


# ---------------------------------------------------------------- the guide


def guide_blocks(language: str) -> list[tuple[int, str]]:
    """The lines of the guide's ```LANGUAGE blocks, with the line number each block opens."""
    blocks: list[tuple[int, str]] = []
    lines: list[str] | None = None
    start = 0
    for number, line in enumerate(GUIDE.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            if lines is None and line.strip() == f"```{language}":
                lines, start = [], number
            elif lines is not None:
                blocks.append((start, "\n".join(lines)))
                lines = None
            continue
        if lines is not None:
            lines.append(line)
    return blocks


def test_the_guide_runs_as_shown(demo_store: Path, tmp_path: Path) -> None:
    """docs/audit-sample.md: each `$ warmcase` line exits 0 or its `# exit N`, in order, on a
    copy of the demo store; then the hand redraw in Python confirms the record it wrote."""
    store = copy_store(demo_store, tmp_path)
    commands = [
        (start, line.removeprefix("$ "))
        for start, block in guide_blocks("sh")
        for line in block.splitlines()
        if line.startswith("$ warmcase ")
    ]
    assert len(commands) >= 4
    for start, line in commands:
        expected = EXPECTED_EXIT.search(line)
        result = run(
            *shlex.split(line, comments=True)[1:],
            env={"WARMCASE_STORE": str(store)},
            cwd=tmp_path,
        )
        code = int(expected.group(1)) if expected else 0
        assert result.returncode == code, f"block at line {start}: {line}\n{result.stderr}"
    ((_, script),) = guide_blocks("python")
    by_hand = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert by_hand.returncode == 0, by_hand.stderr
    assert by_hand.stdout.count("redrawn by hand, identical") == len(COMMUNITIES)
