"""Exact answers across hot and cold (issue "Exact answers"): every query equals PostgreSQL's
answer over a reference copy of the same rows, with keys in both tiers in different versions,
several filters on one column, local times at DST changes, and a rotation moving rows while
the query runs.

The module's table `quotes` is rotated once: days before 2025-11-05 are in the lake, later
ones hot. Then some archived keys get a newer version in the hot store (a late correction),
and `ref_quotes` in PostgreSQL holds the truth: every key once, in its newest version.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import psycopg
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotcold
from hotcold import faults
from hotcold.ops import catalog
from hotcold.ops.rotation import rotate
from support import TALLY, scratch_database, write_config

AS_OF = date(2025, 12, 5)  # cutoff 2025-11-05 00:00 UTC
CUTOFF = datetime(2025, 11, 5, tzinfo=timezone.utc)
FIRST = datetime(2025, 10, 20, tzinfo=timezone.utc)
LAST = datetime(2025, 11, 15, tzinfo=timezone.utc)
SYMS = ["AA", "BB", "CC", "DD"]
COLS = "sym, ts, px, qty"
SPEC = {"time_column": "ts", "key": ["sym", "ts"], "symbol_column": "sym"}


def quotes_config(tmp_path, dsn, table="quotes"):
    path = write_config(tmp_path, "postgres", dsn)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"][table] = dict(SPEC)
    cfg["storage"]["rotation"]["tables"] = [table]
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def fill_quotes(conn, table="quotes", first=FIRST, last=LAST):
    # Half-hourly quotes: prices spread over 100-130 so filters cut through every day.
    conn.execute(f"CREATE TABLE {table} (sym text, ts timestamptz, px numeric(12,4), qty int, PRIMARY KEY (sym, ts))")
    conn.execute(f"INSERT INTO {table} SELECT s, t, 100 + (extract(epoch FROM t)::bigint / 1800 * 7 + ascii(s)) %% 3000 / 100.0, (extract(epoch FROM t)::bigint / 1800) %% 50"
                 f" FROM unnest(%s::text[]) s, generate_series(%s::timestamptz, %s::timestamptz - interval '30 minutes', interval '30 minutes') t", [SYMS, first, last])


@pytest.fixture(scope="module")
def project(pg_server_dsn, tmp_path_factory):
    with scratch_database(pg_server_dsn) as dsn:
        config = quotes_config(tmp_path_factory.mktemp("answers"), dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            fill_quotes(conn)
            # Two spring nights whose local times are skipped: New York's and Lord Howe's.
            for first, last in [("2025-03-08", "2025-03-10"), ("2025-10-04", "2025-10-06")]:
                conn.execute("INSERT INTO quotes SELECT s, t, 100 + extract(hour FROM t)::int, 1 FROM unnest(%s::text[]) s,"
                             " generate_series(%s::timestamptz, %s::timestamptz, interval '15 minutes') t", [SYMS, first, last])
            conn.execute("CREATE TABLE ref_quotes AS SELECT * FROM quotes")
        rotate(config, as_of=AS_OF, tables=["quotes"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            # Late corrections of archived rows: their newest version is hot. Some move into a
            # filter's range, some out of it (the lake's version passes px > 120, the hot fails).
            conn.execute("INSERT INTO quotes SELECT sym, ts, CASE WHEN px > 120 THEN px - 25 ELSE px + 25 END, qty + 1000 FROM ref_quotes"
                         " WHERE ts < %s AND extract(minute FROM ts) = 0 AND extract(hour FROM ts) IN (3, 15)", [CUTOFF])
            conn.execute("UPDATE ref_quotes r SET px = q.px, qty = q.qty FROM quotes q WHERE (q.sym, q.ts) = (r.sym, r.ts)")
            assert conn.execute("SELECT count(*) FROM quotes WHERE ts < %s", [CUTOFF]).fetchone()[0] > 100
        yield config, dsn


def truth(dsn, where_sql="true", params=(), zone="UTC"):
    """PostgreSQL's answer over the reference copy, as sorted (sym, ts UTC, px text, qty)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f"SET TimeZone = '{zone}'")
        rows = conn.execute(f"SELECT sym, ts, px::text, qty FROM ref_quotes WHERE {where_sql}", list(params)).fetchall()
    return sorted((s, t.astimezone(timezone.utc), p, q) for s, t, p, q in rows)


def answer(table: pa.Table):
    out = []
    for r in table.select(["sym", "ts", "px", "qty"]).to_pylist():
        out.append((r["sym"], r["ts"].astimezone(timezone.utc), f"{r['px']:.4f}", r["qty"]))
    return sorted(out)


def cli_query(config, *args, in_process=False):
    """`hotcold query quotes ... --format json`'s rows, as answer() gives them: run as a user
    runs it, or in this process (typer's runner, for the property test's many examples)."""
    argv = ["query", "quotes", "--format", "json", "--limit", "0", "--config", str(config.path), *args]
    if in_process:
        from typer.testing import CliRunner

        from hotcold.cli.app import app

        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, result.output
        out = result.stdout
    else:
        proc = subprocess.run([sys.executable, "-m", "hotcold", *argv], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
    rows = json.loads(out)
    return sorted((r["sym"], datetime.fromisoformat(r["ts"]).astimezone(timezone.utc), f"{float(r['px']):.4f}", r["qty"]) for r in rows)


def unified(config, where_sql="true", params=()):
    con = catalog.open_catalog(config)
    try:
        return answer(con.execute(f"SELECT * FROM unified.quotes WHERE {where_sql}", list(params)).to_arrow_table())
    finally:
        con.close()


# -- 1. filters compose like SQL ----------------------------------------------------------
@pytest.mark.slow
def test_two_filters_on_one_column_both_apply_everywhere(project):
    config, dsn = project
    start, end = CUTOFF - timedelta(days=3), CUTOFF + timedelta(days=3)
    want = truth(dsn, "ts >= %s AND ts < %s AND sym = 'AA' AND px >= 110 AND px < 115", [start, end])
    assert 0 < len(want) < len(truth(dsn, "ts >= %s AND ts < %s AND sym = 'AA'", [start, end])) / 2
    with hotcold.StorageRouter(config) as router:
        for where in (["px>=110", "px<115"], [("px", ">=", 110), ("px", "<", 115)], {"px": [(">=", 110), ("<", 115)]}):
            assert answer(router.query("quotes", start, end, symbols=["AA"], where=where).table) == want, where
    got = cli_query(config, "--start", start.isoformat(), "--end", end.isoformat(), "-s", "AA", "--where", "px>=110", "--where", "px<115")
    assert got == want
    # Membership: OR within one column.
    want = truth(dsn, "ts >= %s AND ts < %s AND sym IN ('AA', 'CC') AND qty IN (3, 1004)", [start, end])
    assert cli_query(config, "--start", start.isoformat(), "--end", end.isoformat(), "--where", "sym in AA,CC", "--where", "qty in 3,1004") == want
    # Cold only: the engine composes them alike.
    cold_end = CUTOFF - timedelta(days=1)
    want = truth(dsn, "ts >= %s AND ts < %s AND px > 105 AND px <= 106 AND qty < 1000", [FIRST, cold_end])
    with hotcold.ColdStorageQueryEngine(config) as engine:
        lake = answer(engine.query("quotes", FIRST, cold_end, where=["px>105", "px<=106", "qty<1000"]))
    assert lake == want and want


# -- 2. deduplicate first, filter after ---------------------------------------------------
def test_a_hot_version_that_fails_a_filter_hides_the_lake_version(project):
    config, dsn = project
    with psycopg.connect(dsn) as conn:
        moved_out = conn.execute("SELECT count(*) FROM quotes q JOIN ref_quotes r USING (sym, ts) WHERE q.ts < %s AND q.px <= 120", [CUTOFF]).fetchone()[0]
    assert moved_out > 0  # keys whose lake version passes px > 120 and whose hot one does not
    start, end = FIRST, LAST
    want = truth(dsn, "ts >= %s AND px > 120", [FIRST])
    with hotcold.StorageRouter(config) as router:
        res = router.query("quotes", start, end, where={"px": (">", 120)})
        assert res.tiers == ("hot", "cold")
        assert answer(res.table) == want
        # And the aggregate buckets count the newest versions only.
        agg = router.aggregate("quotes", "1d", metrics={"n": ("count", "px")}, start=start, end=end, where=["px>120"]).table.to_pylist()
    with psycopg.connect(dsn) as conn:
        per_day = dict(((s, d), n) for s, d, n in conn.execute(
            "SELECT sym, date_trunc('day', ts AT TIME ZONE 'UTC'), count(*) FROM ref_quotes WHERE ts >= %s AND px > 120 GROUP BY 1, 2", [FIRST]).fetchall())
    assert {(r["sym"], r["ts"].astimezone(timezone.utc).replace(tzinfo=None)): r["n"] for r in agg} == per_day
    assert cli_query(config, "--start", start.isoformat(), "--end", end.isoformat(), "--where", "px>120") == want
    assert unified(config, "ts >= ? AND px > 120", [FIRST]) == want


# -- 3. one consistent answer during a rotation --------------------------------------------
def test_a_rotation_at_the_worst_moment_of_a_query_loses_no_row(tmp_path, pg_dsn):
    # The router has listed the lake's files; a rotation then publishes the next days and
    # deletes them from the hot store before the router reads it. The delete must wait.
    config = quotes_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        fill_quotes(conn)
        conn.execute("CREATE TABLE ref_quotes AS SELECT * FROM quotes")
    rotate(config, as_of=AS_OF, tables=["quotes"])
    rotation: dict = {}

    def rotate_now():
        try:
            rotation["report"] = rotate(config, as_of=AS_OF + timedelta(days=5), tables=["quotes"])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            rotation["error"] = exc

    def mid_query():
        faults.on("router.planned", None)  # once
        worker = threading.Thread(target=rotate_now)
        worker.start()
        rotation["thread"] = worker
        # Wait until the rotation either waits for this query's lock or has finished: polled
        # in PostgreSQL, not slept on.
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            while worker.is_alive():
                waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]
                if waiting:
                    rotation["waited"] = True
                    return
                worker.join(0.05)

    faults.on("router.planned", mid_query)
    try:
        with hotcold.StorageRouter(config) as router:
            res = router.query("quotes", CUTOFF - timedelta(days=2), CUTOFF + timedelta(days=7))
    finally:
        faults.on("router.planned", None)
    rotation["thread"].join(600)
    assert "error" not in rotation, rotation.get("error")
    assert rotation["report"].tables["quotes"].deleted_rows == 5 * 48 * len(SYMS)
    want = truth(pg_dsn, "ts >= %s AND ts < %s", [CUTOFF - timedelta(days=2), CUTOFF + timedelta(days=7)])
    got = answer(res.table)
    TALLY["rotation during query: rows missing"] += len(set(want) - set(got))
    TALLY["rotation during query: rows duplicated"] += len(got) - len(set(got))
    assert (len(set(want) - set(got)), len(got) - len(set(got))) == (0, 0)
    assert got == want and rotation.get("waited")


@pytest.mark.slow
def test_queries_in_a_loop_while_rotations_run_see_every_row_once(tmp_path, pg_dsn):
    config = quotes_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        fill_quotes(conn)
        conn.execute("CREATE TABLE ref_quotes AS SELECT * FROM quotes")
    done = threading.Event()
    errors: list = []

    def rotations():
        try:
            for day in range(0, 8, 2):  # each run moves two days into the lake
                rotate(config, as_of=AS_OF + timedelta(days=day), tables=["quotes"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    start, end = CUTOFF - timedelta(days=1), CUTOFF + timedelta(days=9)
    want = truth(pg_dsn, "ts >= %s AND ts < %s", [start, end])
    worker = threading.Thread(target=rotations)
    worker.start()
    answers = missing = duplicated = 0
    with hotcold.StorageRouter(config) as router:
        while not done.is_set() or answers == 0:
            got = answer(router.query("quotes", start, end).table)
            missing += len(set(want) - set(got))
            duplicated += len(got) - len(set(got))
            answers += 1
    worker.join()
    assert not errors, errors
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT min(ts) FROM quotes").fetchone()[0] >= CUTOFF + timedelta(days=6)
    TALLY["stress loop: straddling queries"] += answers
    TALLY["stress loop: rows missing"] += missing
    TALLY["stress loop: rows duplicated"] += duplicated
    assert (missing, duplicated) == (0, 0) and answers > 1


# -- 4. time zones as PostgreSQL reads them ---------------------------------------------------
@pytest.mark.parametrize("zone, start, end", [
    ("America/New_York", "2025-11-02 01:30", "2025-11-02 03:00"),  # 01:30 happens twice
    ("America/New_York", "2025-11-02 00:00", "2025-11-02 01:30"),
    ("Europe/London", "2025-10-26 01:30", "2025-10-26 02:30"),
    ("America/New_York", "2025-03-09 02:30", "2025-03-09 04:00"),  # 02:30 never happens
    ("Australia/Lord_Howe", "2025-10-05 02:15", "2025-10-05 04:00"),  # a skipped half hour
    ("Australia/Lord_Howe", "2025-10-05 01:00", "2025-10-05 02:15"),
])
def test_local_times_at_dst_changes_mean_what_postgres_takes_them_to_mean(project, zone, start, end):
    config, dsn = project
    want = truth(dsn, "ts >= %s::timestamptz AND ts < %s::timestamptz", [start, end], zone=zone)
    assert want
    with hotcold.StorageRouter(config) as router:
        assert answer(router.query("quotes", start, end, tz=zone).table) == want
    assert cli_query(config, "--start", start, "--end", end, "--tz", zone) == want


# -- the differential property test --------------------------------------------------------
moments = st.datetimes(min_value=datetime(2025, 10, 3), max_value=datetime(2025, 11, 17)).map(lambda d: d.replace(second=0, microsecond=0))
filters = st.lists(st.one_of(
    st.tuples(st.just("px"), st.sampled_from([">", ">=", "<", "<=", "!="]), st.integers(100, 130)),
    st.tuples(st.just("qty"), st.sampled_from([">", "<", "="]), st.integers(0, 1050)),
), max_size=3)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=moments, hours=st.integers(1, 24 * 30), symbols=st.one_of(st.none(), st.lists(st.sampled_from(SYMS), min_size=1, max_size=2, unique=True)),
       where=filters, zone=st.sampled_from(["UTC", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe"]),
       every=st.sampled_from([None, "1h", "1d"]))
@pytest.mark.slow
def test_router_engine_cli_and_unified_view_equal_postgres(project, start, hours, symbols, where, zone, every):
    config, dsn = project
    end = start + timedelta(hours=hours)
    local = "ts >= %s::timestamptz AND ts < %s::timestamptz"
    params = [start.isoformat(sep=" "), end.isoformat(sep=" ")]
    sql = local + (" AND sym = ANY(%s)" if symbols else "") + "".join(f" AND {c} {op} {v}" for c, op, v in where)
    want = truth(dsn, sql, params + ([symbols] if symbols else []), zone=zone)
    with hotcold.StorageRouter(config) as router:
        assert answer(router.query("quotes", start, end, symbols=symbols, where=where, tz=zone).table) == want
        if every:
            # Resampled: buckets of the UTC wall clock, counted and summed over the newest versions.
            got = router.aggregate("quotes", every, metrics={"n": ("count", "px"), "total": ("sum", "qty")}, start=start, end=end, symbols=symbols, where=where, tz=zone).table
            buckets = {(r["sym"], r["ts"].astimezone(timezone.utc).replace(tzinfo=None)): (r["n"], r["total"]) for r in got.to_pylist()}
            unit = {"1h": "hour", "1d": "day"}[every]
            with psycopg.connect(dsn) as conn:
                conn.execute(f"SET TimeZone = '{zone}'")
                rows = conn.execute(f"SELECT sym, date_trunc('{unit}', ts AT TIME ZONE 'UTC'), count(px), sum(qty) FROM ref_quotes WHERE {sql} GROUP BY 1, 2",
                                    params + ([symbols] if symbols else [])).fetchall()
            assert buckets == {(s, b): (n, t) for s, b, n, t in rows}
    args = ["--start", params[0], "--end", params[1], "--tz", zone, *(["-s", ",".join(symbols)] if symbols else [])]
    assert cli_query(config, *args, *[a for c, op, v in where for a in ("--where", f"{c}{op}{v}")], in_process=True) == want
    with psycopg.connect(dsn) as conn:
        conn.execute(f"SET TimeZone = '{zone}'")
        lo, hi = conn.execute("SELECT %s::timestamptz, %s::timestamptz", params).fetchone()
    view = "ts >= ? AND ts < ?" + (" AND sym IN (" + ", ".join("?" * len(symbols)) + ")" if symbols else "") + "".join(f" AND {c} {op} {v}" for c, op, v in where)
    assert unified(config, view, [lo, hi, *(symbols or [])]) == want
    if hi <= CUTOFF:
        # Before the cutoff the lake alone answers, but for the keys corrected since.
        corrected = {(s, t) for s, t, _, q in truth(dsn, "qty >= 1000")}
        with hotcold.ColdStorageQueryEngine(config) as engine:
            lake = [r for r in answer(engine.query("quotes", start, end, symbols=symbols, where=where, tz=zone)) if (r[0], r[1]) not in corrected]
        assert lake == [r for r in want if (r[0], r[1]) not in corrected]
