"""The projection benchmark measures every variant and renders its tables on a tiny store."""

from __future__ import annotations

from pathlib import Path

from benchmarks import generate, projections


def test_one_round_on_a_tiny_store_has_every_figure(tmp_path: Path) -> None:
    """Rebuild rates, peaks, ratios, the rules' own seconds, the warm-up and as-of latencies
    are all present; answers match."""
    store = tmp_path / "tiny.db"
    generate.generate(store, events=2_000, seed=3)
    figures = projections.measure(store, rounds=1, points=3, brute=1)
    assert figures["store_events"] > 1_000
    for variant in projections.VARIANTS:
        row = figures["rebuild"][variant]
        assert len(row["events_per_s"]) == 1
        assert row["median_events_per_s"] > 0
        assert row["median_peak_mb"] > 0
    assert figures["rebuild"]["b"]["events_read"] == figures["store_events"]
    assert figures["rebuild"]["bc"]["events_read"] == figures["store_events"]
    rules = figures["rebuild"]["f"]
    assert set(rules["median_rules_s"]) == {"stock", "coverage", "duplicate_aid", "audit_trail"}
    assert all(seconds > 0 for seconds in rules["median_rules_s"].values())
    # Each projection reads a part of the history; together they read more than all of it.
    assert rules["events_read"] > figures["store_events"]
    assert figures["ratio_w_to_a"] > 0
    assert figures["ratio_w2_to_bc"] > 0
    assert figures["as_of"]["warm_up_s"] > 0
    for name in ("stock", "coverage", "duplicate_aid", "audit_trail"):
        answers = figures["as_of"][name]
        assert len(answers["latencies_s"]) == 3
        assert answers["p95_ms"] >= answers["median_ms"] > 0
        assert answers["mismatches"] == 0
    text = projections.table(figures, generated=None)
    assert "(w) warmcase" in text
    assert "| vs (bc) |" in text
    assert "no rebuild of these rules goes faster than twice (f)" in text
    assert "| audit_trail (3 points) |" in text
    assert "`app.warm()`" in text
