"""Cleanup on a real PostgreSQL: the analysis equals direct SQL, "n" changes nothing,
--hot-days moves exactly the rows outside that window, and the sizes it reports are the
ones pg_total_relation_size gives."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone

import psycopg
import pytest
import yaml

import hotcold
from hotcold.ops.cleanup import analyze, cleanup
from support import demo_project, lake_files, snapshot, union_rows

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"
TABLES = ("features", "market_data", "news", "social_sentiment")
TIME = {"news": "published_at"}


def test_analysis_equals_direct_sql(pg_project, pg_dsn):
    report = analyze(pg_project, as_of=AS_OF, hot_days=20)
    cutoff = datetime(2026, 11, 5, tzinfo=timezone.utc)
    assert report.cutoff.startswith("2026-11-05")
    with psycopg.connect(pg_dsn) as conn:
        for table in TABLES:
            ts = TIME.get(table, "ts")
            interval = "interval" if table == "market_data" else "null::text"
            aged = f"{ts} < %(c)s" + (" or interval <> '1day'" if table == "market_data" else "")
            cols = [r[0] for r in conn.execute("select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped", [table])]
            size = "24 + " + " + ".join(f'coalesce(pg_column_size("{c}"), 0)' for c in cols)
            want = conn.execute(
                f"select {interval}, count(*), sum({size}), min({ts}), max({ts}), count(*) filter (where {aged}), "
                f"coalesce(sum({size}) filter (where {aged}), 0) from {table} t group by 1 order by 1 nulls first", {"c": cutoff}).fetchall()
            got = [(i.interval, i.rows, i.bytes, i.oldest, i.newest, i.aged_rows, i.aged_bytes) for i in report.tables[table].intervals]
            assert got == [(w[0], w[1], w[2], w[3].isoformat(), w[4].isoformat(), w[5], w[6]) for w in want], table
            size = conn.execute("select pg_total_relation_size(%s::regclass)", [table]).fetchone()[0]
            assert report.tables[table].bytes == size
            assert report.tables[table].aged_rows == sum(w[5] for w in want)
            assert 0 < report.tables[table].expected_bytes_after < size


@pytest.mark.parametrize("kind", ["postgres", "duckdb"])
def test_hot_days_moves_exactly_the_rows_outside_that_window(tmp_path, request, kind):
    project = demo_project(tmp_path, kind, request.getfixturevalue("pg_dsn") if kind == "postgres" else None)
    before = {t: snapshot(project, t, "*") for t in TABLES}
    report = cleanup(project, as_of=AS_OF, hot_days=10)
    assert report.mode == "live" and report.rotation is not None
    cutoff = datetime(2026, 11, 15, tzinfo=timezone.utc)
    for table in TABLES:
        hot, lake = union_rows(project, table, "*")
        assert sorted(hot + lake, key=repr) == sorted(before[table], key=repr), f"{table}: rows lost or duplicated"
        ts = 1 if table == "news" else 2
        stays = [r for r in before[table] if r[ts] >= cutoff and (table != "market_data" or r[1] == "1day")]
        assert sorted(hot, key=repr) == sorted(stays, key=repr), f"{table}: the hot store must hold exactly the 10-day window"
        assert report.tables[table].rows_after == len(stays)


def test_reclaim_full_reports_the_sizes_postgres_reports(pg_project, pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        sizes_before = {t: conn.execute("select pg_total_relation_size(%s::regclass)", [t]).fetchone()[0] for t in TABLES}
    report = cleanup(pg_project, as_of=AS_OF, reclaim="full")
    with psycopg.connect(pg_dsn) as conn:
        sizes_after = {t: conn.execute("select pg_total_relation_size(%s::regclass)", [t]).fetchone()[0] for t in TABLES}
    for t in TABLES:
        assert report.tables[t].bytes == sizes_before[t]
        assert report.tables[t].bytes_after == sizes_after[t]
        assert sizes_after[t] < sizes_before[t], f"{t}: VACUUM FULL should shrink a table that lost most of its rows"


def test_dry_run_and_a_refusal_change_nothing(pg_project):
    hot_before, lake_before = snapshot(pg_project, "market_data", MD_COLS), lake_files(pg_project)
    dry = cleanup(pg_project, as_of=AS_OF, dry_run=True)
    assert dry.mode == "dry-run" and dry.aged_rows > 0 and any(a.startswith("archive") for a in dry.actions)
    seen = []
    no = cleanup(pg_project, as_of=AS_OF, confirm=lambda plan: seen.append(plan.aged_rows) or False)
    assert no.mode == "cancelled" and seen == [dry.aged_rows] and no.rotation is None
    assert snapshot(pg_project, "market_data", MD_COLS) == hot_before and lake_files(pg_project) == lake_before


def _cli(*args: str, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", "hotcold.cli", "cleanup", *args], capture_output=True, text=True, timeout=300, stdin=stdin, env=env)


def test_cli_answering_n_at_the_prompt_changes_nothing(pg_project):
    hot_before, lake_before = snapshot(pg_project, "news", "*"), lake_files(pg_project)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hotcold.cli", "cleanup", "-c", str(pg_project.path), "--as-of", "2026-11-25"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    prompt = _read_until(master, b"Go ahead?", timeout=120)
    assert b"Go ahead?" in prompt, prompt
    os.write(master, b"n\n")
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, out
    assert "Cancelled: nothing was changed." in out and "will: archive" in out
    assert snapshot(pg_project, "news", "*") == hot_before and lake_files(pg_project) == lake_before


def test_cli_without_a_terminal_or_yes_refuses(pg_project):
    proc = _cli("-c", str(pg_project.path), stdin=subprocess.DEVNULL)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "no terminal" in errors[0] and "--yes" in proc.stderr
    bad = _cli("-c", str(pg_project.path), "--hot-days", "0", "--yes")
    assert bad.returncode == 1 and "--hot-days must be a whole number of days >= 1" in bad.stderr and "Traceback" not in bad.stderr
    bad = _cli("-c", str(pg_project.path), "--reclaim", "most", "--yes")
    assert bad.returncode == 1 and "--reclaim must be vacuum or full" in bad.stderr


def test_cli_analyze_only_json(pg_project, pg_dsn):
    import json

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("delete from social_sentiment")
    proc = _cli("-c", str(pg_project.path), "--analyze-only", "--json", "--as-of", "2026-11-25")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["mode"] == "analyze" and set(data["tables"]) == set(TABLES)
    assert data["tables"]["market_data"]["intervals"][0]["interval"] in ("1day", "1hour", "1min")
    empty = data["tables"]["social_sentiment"]
    assert empty["rows"] == 0 and empty["bytes"] > 0 and empty["intervals"] == [
        {"interval": None, "rows": 0, "bytes": 0, "oldest": None, "newest": None, "aged_rows": 0, "aged_bytes": 0, "aged_days": 0}]


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    got, end = b"", time.monotonic() + timeout
    while marker not in got and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                got += os.read(fd, 4096)
            except OSError:
                break
    return got


@pytest.mark.slow
def test_reclaim_full_gives_way_to_an_idle_transaction_and_names_it(pg_project, pg_dsn):
    """A session idle in a transaction that read the table holds a lock VACUUM FULL must wait
    for. cleanup does not queue every writer behind it for ever: it tries a few times under
    lock_timeout, then stops with one line naming that session; writers went on meanwhile."""
    from hotcold.store.strong_locks import LockWaitTimeout

    path = pg_project.path
    cfg = yaml.safe_load(path.read_text())
    cfg["storage"]["hot_store"]["lock_timeout_s"] = 0.3
    path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(path)
    idle = psycopg.connect(pg_dsn)
    try:
        idle.execute("SELECT count(*) FROM social_sentiment").fetchone()  # and then it idles, in its transaction
        blocker = idle.execute("SELECT pg_backend_pid()").fetchone()[0]
        writes, stop = [], threading.Event()

        def writer():
            with psycopg.connect(pg_dsn, autocommit=True) as w:
                while not stop.is_set():
                    t0 = time.monotonic()
                    w.execute("UPDATE social_sentiment SET score = score WHERE ctid = (SELECT min(ctid) FROM social_sentiment)")
                    writes.append(time.monotonic() - t0)
                    time.sleep(0.05)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            with pytest.raises(LockWaitTimeout) as caught:
                cleanup(config, as_of=AS_OF, tables=["social_sentiment"], reclaim="full", confirm=lambda plan: True)
        finally:
            stop.set()
            thread.join()
    finally:
        idle.close()
    error = caught.value
    # The idle session is named (the writer may be listed too, caught holding its row lock).
    idle_ones = [b for b in error.blockers if b["pid"] == blocker]
    assert idle_ones and idle_ones[0]["state"] == "idle in transaction" and idle_ones[0]["query"] == "SELECT pg_backend_pid()"
    assert f"pid {blocker} (idle in transaction" in error.problem and "pg_terminate_backend" in error.fix
    assert "in 4 tries of 0.3 s" in error.problem
    # Writers waited at most about one attempt's lock_timeout, never the whole time.
    assert len(writes) > 20 and max(writes) < 3
    # With the session gone, the same cleanup reclaims.
    report = cleanup(config, as_of=AS_OF, tables=["social_sentiment"], reclaim="full", confirm=lambda plan: True)
    assert report.mode == "live"
