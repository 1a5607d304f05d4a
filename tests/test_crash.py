"""Crashes: the rotate, backfill and cleanup processes killed with SIGKILL at every step
boundary, inside the long steps, and at random moments. After each, every row is in the hot
store, the lake or both; a plain re-run then leaves hot ∪ lake equal to the rows before, each
key once, and `hotcold verify --deep` finds nothing wrong."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import hotcold
from hotcold.errors import StepFailed
from hotcold.ops.rotation import rotate
from hotcold.ops.verify import verify
from support import TALLY, demo_project, hot_conn, union_rows

pytestmark = pytest.mark.crash

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"
POINTS = [
    "stage.before", "stage.after", "export.before_copy", "export.after_copy", "export.after_verify",
    "publish.before_replace", "publish.between_days", "publish.after", "delete.before", "delete.after",
    "vacuum.before", "vacuum.after", "record.before", "record.after",
]


def cli(config, *args: str, fail_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
    if fail_at:
        env["HOTCOLD_FAIL_AT"] = fail_at
    return subprocess.run([sys.executable, "-m", "hotcold", *args, "--config", str(config.path)], env=env, capture_output=True, text=True, timeout=600)


def check_nothing_lost(config, before: list, table="market_data", cols=MD_COLS) -> None:
    hot, lake = union_rows(config, table, cols)
    missing = set(before) - set(hot) - set(lake)
    assert not missing, f"{len(missing)} rows lost"
    TALLY["rows lost"] += len(missing)


def check_exact(config, before: list, table="market_data", cols=MD_COLS, key=3, in_both=False) -> None:
    """hot ∪ lake equals `before`, each key once. With `in_both` (after a backfill, whose window
    rows go to both tiers) a key may be in both, but then with the same values, and never
    twice within a tier."""
    hot, lake = union_rows(config, table, cols)
    rows = hot + lake
    if in_both:
        rows = hot + [r for r in lake if r not in set(hot)]
        assert not {r[:key] for r in hot} & {r[:key] for r in rows[len(hot):]}, "a key has other values in the lake than in the hot store"
    keys = Counter(r[:key] for r in rows)
    dups = sum(n - 1 for n in keys.values() if n > 1) + len(lake) - len(set(lake)) + len(hot) - len(set(hot))
    TALLY["rows duplicated"] += dups
    assert dups == 0, f"{dups} keys twice across hot and lake"
    assert sorted(rows, key=repr) == sorted(before, key=repr), "hot ∪ lake differs from the rows before"
    report = verify(config, deep=True)
    assert report.ok, report.problems


def snapshot_all(config) -> list:
    hot, lake = union_rows(config, "market_data", MD_COLS)
    return sorted(hot + lake, key=repr)


@pytest.mark.parametrize("point", POINTS)
def test_rotate_killed_at_a_step_boundary_completes_on_rerun(pg_project, point):
    before = snapshot_all(pg_project)
    proc = cli(pg_project, "rotate", "--as-of", "2026-11-25", fail_at=f"{point}:kill")
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-2000:])
    TALLY["crash points tried"] += 1
    check_nothing_lost(pg_project, before)
    rotate(pg_project, as_of=AS_OF)
    check_exact(pg_project, before)


def test_a_failure_inside_the_delete_transaction_rolls_it_back(pg_project, monkeypatch):
    before = snapshot_all(pg_project)
    hot_before, _ = union_rows(pg_project, "market_data", MD_COLS)
    monkeypatch.setenv("HOTCOLD_FAIL_AT", "delete.in_transaction")
    with pytest.raises(StepFailed, match="delete.in_transaction"):
        rotate(pg_project, as_of=AS_OF)
    TALLY["crash points tried"] += 1
    hot_after, _ = union_rows(pg_project, "market_data", MD_COLS)
    assert sorted(hot_after, key=repr) == sorted(hot_before, key=repr), "the delete was rolled back whole"
    monkeypatch.delenv("HOTCOLD_FAIL_AT")
    rotate(pg_project, as_of=AS_OF)
    check_exact(pg_project, before)


def test_kills_at_random_moments_lose_and_duplicate_nothing(tmp_path, pg_dsn):
    # Enough rows that a rotation takes a few seconds, so random kills land inside COPY,
    # between published days, inside the delete.
    config = demo_project(tmp_path, "postgres", pg_dsn, symbols=40)
    before = snapshot_all(config)
    rng = random.Random(20261125)
    killed = 0
    for i in range(6):
        as_of = (AS_OF + timedelta(days=2 * i)).isoformat()  # each run has days of its own to move
        # The first run moves a year of history, the later ones two days each.
        delay = rng.uniform(0.1, 3.0) if i == 0 else rng.uniform(0.02, 0.6)
        proc = cli(config, "rotate", "--as-of", as_of, fail_at=f"stage.before:kill@{delay:.2f}")
        killed += proc.returncode == -9
        check_nothing_lost(config, before)
        rotate(config, as_of=as_of)
        check_exact(config, before)
    TALLY["random kills survived"] += killed
    assert killed >= 3, "most runs should have been killed mid-way"


def test_inside_copy(tmp_path, pg_dsn):
    config = demo_project(tmp_path, "postgres", pg_dsn, symbols=80)
    before = snapshot_all(config)
    proc = cli(config, "rotate", "--full", "--as-of", "2026-11-25", fail_at="export.before_copy:kill@0.3")
    assert proc.returncode == -9, proc.stderr[-2000:]
    staging = config.lake_root.parent / "_hotcold" / "staging"
    assert any(staging.rglob("*.parquet")), "the COPY had begun writing when the process died"
    TALLY["crash points tried"] += 1
    check_nothing_lost(config, before)
    rotate(config, as_of=AS_OF, full=True)
    check_exact(config, before)


HEADER = "symbol,interval,ts,open,high,low,close,volume,vwap\n"


def _bars(path: Path, days: int) -> list[tuple]:
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    rows = [("BFX", "1day", start + timedelta(days=d), 1.0, 2.0, 0.5, float(d), 100, 1.25) for d in range(days)]
    path.write_text(HEADER + "".join(",".join(str(v) if not isinstance(v, datetime) else v.isoformat() for v in r) + "\n" for r in rows))
    return rows


@pytest.mark.parametrize("point", POINTS)
def test_backfill_killed_completes_on_rerun(pg_project, tmp_path, point):
    before = snapshot_all(pg_project)
    path = tmp_path / "bars.csv"
    _bars(path, 180)
    proc = cli(pg_project, "backfill", "--table", "market_data", "--from", str(path), "--as-of", "2026-11-25", "--no-archive", fail_at=f"{point}:kill")
    assert proc.returncode == -9, proc.stderr[-2000:]
    TALLY["crash points tried"] += 1
    check_nothing_lost(pg_project, before)
    hotcold.backfill(pg_project, "market_data", [path], as_of=AS_OF)
    conn = hot_conn(pg_project)
    expected = conn.execute(f"select {MD_COLS} from read_csv(?, header = true, columns = {{'symbol': 'VARCHAR', 'interval': 'VARCHAR', 'ts': 'TIMESTAMPTZ', "
                            "'open': 'DOUBLE', 'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'BIGINT', 'vwap': 'DECIMAL(18,6)'})", [str(path)]).fetchall()
    conn.close()
    check_exact(pg_project, sorted(before + expected, key=repr), in_both=True)


@pytest.mark.parametrize("point", ["stage.after", "export.after_copy", "publish.between_days", "delete.after", "vacuum.after", "record.before"])
def test_cleanup_killed_completes_on_rerun(pg_project, point):
    before = snapshot_all(pg_project)
    proc = cli(pg_project, "cleanup", "--yes", "--table", "market_data", "--as-of", "2026-11-25", fail_at=f"{point}:kill")
    assert proc.returncode == -9, proc.stderr[-2000:]
    TALLY["crash points tried"] += 1
    check_nothing_lost(pg_project, before)
    proc = cli(pg_project, "cleanup", "--yes", "--table", "market_data", "--as-of", "2026-11-25")
    assert proc.returncode == 0, proc.stderr
    check_exact(pg_project, before)
