"""The benchmark itself, at a small size: it must run end to end on a fresh database and
report every ratio. It checks inside that both sides of each comparison did the same work
(the rows rotate archived equal the aged rows, each cold query's rows equal PostgreSQL's);
times are reported, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]


def bench_databases(dsn) -> set[str]:
    with psycopg.connect(dsn) as pg:
        return {r[0] for r in pg.execute("select datname from pg_database where datname like 'hotcold_bench_%'")}


def test_bench_runs_end_to_end_and_reports_every_ratio(pg_server_dsn, tmp_path):
    out = tmp_path / "bench.json"
    before = bench_databases(pg_server_dsn)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--rows", "100000", "--repeat", "1", "--days", "1",
                           "--dsn", pg_server_dsn, "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    a = r["archive"]
    assert a["aged_rows"] > 90_000 and a["bare_delete"]["rows"] == a["aged_rows"]
    assert len(a["raw_copy_runs_s"]) == 2 and a["raw_copy_s"] > 0
    assert set(a["rotate"]["steps"]) >= {"stage", "export", "verify", "publish", "delete", "vacuum"}
    assert [q["query"] for q in r["cold_queries"]] == [
        "one symbol's daily history", "one day across all symbols", "one day across all symbols, via StorageRouter",
        "monthly OHLC per symbol for a year", "a week of 1min bars resampled to 1h"]
    assert all(q["rows"] > 0 for q in r["cold_queries"])
    assert r["cold_queries"][1]["rows"] == r["cold_queries"][2]["rows"]
    assert set(r["commands"]) == {"--help", "status", "rotate --dry-run", "verify"} and all(t > 0 for t in r["commands"].values())
    assert "hotcold status" in proc.stdout
    assert r["daily"]["10x"]["table_rows"] > 9 * r["daily"]["1x"]["table_rows"]
    assert r["memory"]["small_peak_rss_mb"] > 0 and r["memory"]["large_peak_rss_mb"] > 0
    p = r["partitioned"]
    assert set(p) == {"rows_per_day", "1x_partitioned", "1x_plain", "10x_partitioned", "10x_plain"}
    assert p["10x_plain"]["table_rows"] > 5 * p["1x_plain"]["table_rows"] and all(p[k]["first_s"] > 0 and p[k]["daily_s"] > 0 for k in p if k != "rows_per_day")
    for line in ("export (stage + COPY) vs raw binary COPY", "delete + vacuum vs bare DELETE + VACUUM", "rotate peak RSS",
                 "partitioned 10x: daily rotation, hot side vs plain DELETE+VACUUM", "partitioned: daily hot side, 10x vs 1x history"):
        assert line in proc.stdout
    assert bench_databases(pg_server_dsn) <= before  # it dropped the database it made
