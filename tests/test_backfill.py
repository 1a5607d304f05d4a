"""Backfill on a real PostgreSQL (and the embedded store): files and sources go through the
rotation's own stage, export, verify and publish; every row lands in the lake once, the
window's hot-interval rows in the hot store, and a bad file changes nothing anywhere."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import psycopg
import pytest

import hotcold
from hotcold.errors import HotColdError
from support import demo_project, hot_conn, hot_rel, union_rows

AS_OF = date(2026, 11, 25)
CUTOFF = datetime(2026, 10, 26, tzinfo=timezone.utc)  # AS_OF - 30 days
COLUMNS = {
    "market_data": ("symbol, interval, ts, open, high, low, close, volume, vwap", 3, 2),
    "news": ("id, published_at, symbol, source, headline, body, sentiment, tags", 1, 1),
    "features": ("symbol, feature, ts, value", 3, 2),
    "social_sentiment": ("symbol, source, ts, mentions, score", 3, 2),
}


def hot_window(table: str, rows: list) -> list:
    """The rows the hot store should hold: in the window and, for bars, of a hot interval."""
    _, _, ts = COLUMNS[table]
    return [r for r in rows if r[ts] >= CUTOFF and (table != "market_data" or r[1] == "1day")]


def export_files(config, table: str, fmt: str, folder: Path) -> list[Path]:
    """The hot table written out as a user's files: two files (odd and even rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    conn = hot_conn(config)
    out = []
    try:
        for part in (0, 1):
            path = folder / f"{table}_{part}.{fmt}"
            opts = "format csv, header" if fmt == "csv" else "format parquet"
            conn.execute(f"copy (select * from {hot_rel(config, table)} t where hash(t) % 2 = {part}) to '{path}' ({opts})")
            out.append(path)
    finally:
        conn.close()
    return out


def lake_state(config) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in config.lake_root.rglob("*.parquet")} if config.lake_root.exists() else {}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_backfill_of_all_four_types_puts_every_row_in_the_lake_once_and_the_window_in_postgres(pg_project, pg_dsn, tmp_path, fmt):
    config = pg_project
    before = {t: union_rows(config, t, COLUMNS[t][0])[0] for t in COLUMNS}
    files = {t: export_files(config, t, fmt, tmp_path / "in" / t) for t in COLUMNS}
    # market_data keeps its hot rows (the backfill meets them); the others start empty.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for t in ("news", "features", "social_sentiment"):
            conn.execute(f"truncate {t}")

    reports = {}
    for t in COLUMNS:
        source = [files[t][0].parent] if t == "market_data" else files[t]  # a folder, and files
        reports[t] = hotcold.backfill(config, t, source, as_of=AS_OF)

    for t, (cols, nkey, _) in COLUMNS.items():
        hot, lake = union_rows(config, t, cols)
        assert sorted(lake, key=repr) == sorted(before[t], key=repr), f"{t}: the lake must hold every row exactly"
        keys = [r[:nkey] for r in lake]
        assert len(keys) == len(set(keys)), f"{t}: a key appears twice in the lake"
        assert sorted(hot, key=repr) == sorted(hot_window(t, before[t]), key=repr), f"{t}: the hot store must hold exactly the window"
        r = reports[t].to_dict()
        assert r["rows"] == len(before[t]) and r["archive"] is not None, "archive_on_backfill is true: the table was rotated"
    # market_data's aged hot rows were archived by the rotation after the backfill.
    assert reports["market_data"].archive.tables["market_data"].archived_rows > 0
    assert reports["market_data"].to_dict()["written_to_hot"] > 0


def bar(symbol: str, ts: datetime, close: float, interval: str = "1day") -> str:
    return f"{symbol},{interval},{ts.isoformat()},1.0,2.0,0.5,{close},100,1.25\n"


HEADER = "symbol,interval,ts,open,high,low,close,volume,vwap\n"
OLD = datetime(2026, 3, 2, tzinfo=timezone.utc)
RECENT = datetime(2026, 11, 16, tzinfo=timezone.utc)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgres", "duckdb"])
def test_a_corrected_row_replaces_its_old_version_everywhere(tmp_path, request, kind):
    config = demo_project(tmp_path, kind, request.getfixturevalue("pg_dsn") if kind == "postgres" else None, symbols=2)
    first, fixed = tmp_path / "first.csv", tmp_path / "fixed.csv"
    first.write_text(HEADER + bar("ZZZ", OLD, 10.0) + bar("ZZZ", RECENT, 10.0) + bar("ZZZ", RECENT, 99.0, "1min"))
    fixed.write_text(HEADER + bar("ZZZ", OLD, 11.0) + bar("ZZZ", RECENT, 12.0))

    hotcold.backfill(config, "market_data", [first], as_of=AS_OF, archive=False)
    hotcold.backfill(config, "market_data", [fixed], as_of=AS_OF, archive=False)

    hot, lake = union_rows(config, "market_data", "symbol, interval, ts, close")
    assert sorted(r for r in lake if r[0] == "ZZZ") == [("ZZZ", "1day", OLD, 11.0), ("ZZZ", "1day", RECENT, 12.0), ("ZZZ", "1min", RECENT, 99.0)]
    assert [r for r in hot if r[0] == "ZZZ"] == [("ZZZ", "1day", RECENT, 12.0)], "only the window's hot-interval row is hot, corrected"

    # In one command, the later file's version wins; an aged row the hot store still holds
    # takes the new version there too, so the next rotation archives the new one.
    aged = datetime(2026, 10, 1, tzinfo=timezone.utc)
    conn = hot_conn(config)
    hot_before = conn.execute(f"select close from {hot_rel(config, 'market_data')} where symbol = 'SYM0000' and interval = '1day' and ts = ?", [aged]).fetchall()
    conn.close()
    assert hot_before, "the demo's aged row is still hot (nothing rotated yet)"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + bar("SYM0000", aged, 1.0))
    b.write_text(HEADER + bar("SYM0000", aged, 2.0))
    report = hotcold.backfill(config, "market_data", [a, b], as_of=AS_OF)
    assert report.archive is not None
    hot, lake = union_rows(config, "market_data", "symbol, interval, ts, close")
    assert [r for r in hot if r[0] == "SYM0000" and r[2] == aged] == []
    assert [r for r in lake if r[0] == "SYM0000" and r[1] == "1day" and r[2] == aged] == [("SYM0000", "1day", aged, 2.0)]


BAD_FILES = {
    "bad_value.csv": (HEADER + bar("ZZZ", OLD, 1.0) + "ZZZ,1day,2026-03-03T00:00:00+00:00,1,2,0.5,abc,100,1.25\n", ["bad_value.csv", "line 3", "close", "'abc'"]),
    "bad_time.csv": (HEADER + "ZZZ,1day,not-a-time,1,2,0.5,1,100,1.25\n", ["bad_time.csv", "line 2", "'ts'", "not-a-time"]),
    "null_key.csv": (HEADER + bar("ZZZ", OLD, 1.0) + bar("", OLD + timedelta(days=1), 1.0), ["null_key.csv", "line 3", "'symbol'", "key or time column"]),
    "wrong_columns.csv": ("symbol,ts,price\nZZZ,2026-03-02,1\n", ["wrong_columns.csv", "wrong columns", "missing interval", "unexpected price"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_stops_before_anything_changes(pg_project, tmp_path, name):
    config = pg_project
    hotcold.backfill(config, "market_data", [_write(tmp_path / "good0.csv", HEADER + bar("ZZZ", OLD - timedelta(days=7), 5.0))], as_of=AS_OF, archive=False)
    lake_before, hot_before = lake_state(config), union_rows(config, "market_data", "*")[0]
    text, fragments = BAD_FILES[name]
    good = _write(tmp_path / "good.csv", HEADER + bar("YYY", OLD, 1.0) + bar("YYY", RECENT, 1.0))
    with pytest.raises(HotColdError) as exc:
        hotcold.backfill(config, "market_data", [good, _write(tmp_path / name, text)], as_of=AS_OF)
    for fragment in fragments:
        assert fragment in str(exc.value)
    assert lake_state(config) == lake_before, "no lake file may change"
    assert union_rows(config, "market_data", "*")[0] == hot_before, "no hot row may change"


def test_a_bad_parquet_file_names_the_row(pg_project, tmp_path):
    path = tmp_path / "bars.parquet"
    duckdb.sql(f"copy (select 'ZZZ' as symbol, '1day' as interval, timestamptz '2026-03-02' + to_days(i::int) as ts, 1.0 as open, 2.0 as high, 0.5 as low, "
               f"case when i = 6 then 'n/a' else '1.5' end as close, 100 as volume, 1.25 as vwap from range(10) t(i)) to '{path}' (format parquet)")
    with pytest.raises(HotColdError, match=r"bars.parquet, row 7: column 'close' holds 'n/a'"):
        hotcold.backfill(pg_project, "market_data", [path], as_of=AS_OF)


@pytest.mark.slow
def test_a_source_streams_into_the_lake_only_outside_the_hot_intervals(pg_project):
    bars = hotcold.SyntheticBars(["QQQ", "SPY"], RECENT.date(), RECENT.date() + timedelta(days=2), interval="1min")
    assert isinstance(bars, hotcold.Source)
    report = hotcold.backfill(pg_project, "market_data", [bars], as_of=AS_OF).to_dict()
    assert report["rows"] == 2 * 2 * 7 * 60 and report["written_to_hot"] == 0 and report["lake_days"] == 2
    hot, lake = union_rows(pg_project, "market_data", "symbol, interval")
    assert not [r for r in hot if r[0] in ("QQQ", "SPY")]
    assert len([r for r in lake if r[0] in ("QQQ", "SPY")]) == report["rows"]


@pytest.mark.slow
def test_cli_backfill_json_and_errors(pg_project, tmp_path):
    good = _write(tmp_path / "good.csv", HEADER + bar("ZZZ", OLD, 1.0) + bar("ZZZ", RECENT, 2.0))
    cfg = str(pg_project.path)
    run = lambda *a: subprocess.run([sys.executable, "-m", "hotcold.cli", *a], capture_output=True, text=True, timeout=300)
    ok = run("backfill", "-c", cfg, "--table", "market_data", "--from", str(good), "--as-of", "2026-11-25", "--no-archive", "--json")
    assert ok.returncode == 0, ok.stderr
    import json

    data = json.loads(ok.stdout)
    assert data["rows"] == 2 and data["written_to_hot"] == 1 and data["archive"] is None
    for args, fragment in [
        (["--table", "nope", "--from", str(good)], "unknown table 'nope'"),
        (["--table", "market_data", "--from", str(tmp_path / "missing.csv")], "does not exist"),
        (["--table", "market_data", "--from", str(_write(tmp_path / "x.txt.bak", "x"))], "neither a CSV nor a Parquet"),
        (["--table", "market_data", "--from", str(_write(tmp_path / "bad.csv", HEADER + "ZZZ,1day,2026-03-02,1,2,0.5,oops,1,1\n"))], "bad.csv, line 2"),
    ]:
        proc = run("backfill", "-c", cfg, "--as-of", "2026-11-25", *args)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
        assert proc.returncode == 1 and len(errors) == 1 and fragment in errors[0] and "Traceback" not in proc.stderr, proc.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
