"""Writing benchmark results where the docs show them.

Each benchmark writes ``docs/results/<name>.json`` (every figure of the run) and
replaces its section of ``docs/benchmarks.md`` between ``<!-- results:<name> -->``
markers, so the page always shows the latest run next to how to rerun it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"


def median(values: Sequence[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def publish(name: str, figures: dict[str, Any], table: str) -> None:
    """Write the JSON figures and put `table` into the benchmark's section of the docs."""
    results = DOCS / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(
        json.dumps({"machine": machine(), **figures}, indent=2, ensure_ascii=False) + "\n"
    )
    page = DOCS / "benchmarks.md"
    text = page.read_text(encoding="utf-8")
    start, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    stamp = machine()
    body = (
        f"\n_Last run {stamp['measured_at']}, Python {stamp['python']}, "
        f"{stamp['cores']} cores._\n\n{table}\n"
    )
    page.write_text(before + start + body + end + after, encoding="utf-8")
    print(table)
