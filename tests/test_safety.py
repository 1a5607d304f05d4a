"""What must never happen: losing a value's exactness, deleting a row changed after export,
or needing Python to be safe (plain `dbt build` keeps the same guarantee)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

import hotcold
from hotcold import faults
from hotcold.ops.rotation import rotate
from support import hot_conn, union_rows, write_config

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"
PROJECT = Path(__file__).resolve().parents[1]


def all_rows(config):
    hot, lake = union_rows(config, "market_data", MD_COLS)
    return hot, lake


@pytest.mark.slow
def test_rows_written_during_a_rotation_survive_and_are_archived_next_run(pg_project, pg_dsn):
    aged_ts = datetime(2026, 3, 2, tzinfo=timezone.utc)
    recent_ts = datetime(2026, 11, 20, tzinfo=timezone.utc)
    inserted: list[tuple] = []
    stop = threading.Event()

    def writer():
        # A second connection keeps writing late (aged) and new rows for the whole run.
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            i = 0
            while not stop.is_set() and i < 500:
                ts = (aged_ts if i % 2 else recent_ts) + timedelta(minutes=i)
                conn.execute("insert into market_data (symbol, interval, ts, close) values ('W', '1day', %s, %s)", [ts, float(i)])
                inserted.append(("W", "1day", ts))
                i += 1

    def mid_run_changes():
        # After export and verify, before publish and delete: update an aged row that is
        # already staged, and add a late row for an archived day.
        faults.on("publish.before_replace", None)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("update market_data set close = -1 where symbol = 'SYM0000' and interval = '1day' and ts = %s", [aged_ts])
            conn.execute("insert into market_data (symbol, interval, ts, close) values ('LATE', '1day', %s, 7)", [aged_ts])

    thread = threading.Thread(target=writer)
    faults.on("publish.before_replace", mid_run_changes)
    thread.start()
    try:
        first = rotate(pg_project, as_of=AS_OF)
    finally:
        stop.set()
        thread.join()
        faults.on("publish.before_replace", None)

    hot, lake = all_rows(pg_project)
    hot_keys = {r[:3] for r in hot}
    assert ("SYM0000", "1day", aged_ts) in hot_keys, "a row updated after export must not be deleted"
    assert ("LATE", "1day", aged_ts) in hot_keys, "a row inserted after export must not be deleted"
    assert first.tables["market_data"].deleted_rows == first.tables["market_data"].archived_rows - 1

    rotate(pg_project, as_of=AS_OF)
    hot, lake = all_rows(pg_project)
    keys = [r[:3] for r in hot + lake]
    assert len(keys) == len(set(keys)), "no key twice across hot and lake"
    assert set(inserted) <= set(keys), "every row the writer inserted is somewhere"
    updated = [r for r in lake if r[:3] == ("SYM0000", "1day", aged_ts)]
    assert len(updated) == 1 and updated[0][6] == -1, "the lake holds the latest version"
    assert all(r[2] >= datetime(2026, 10, 26, tzinfo=timezone.utc) for r in hot)


def delete_attempts(pg_dsn) -> list[int]:
    """Rows each DELETE of market_data removed, in order; -1 is a one-statement delete by
    snapshot that found the aged rows changed and rolled back for the exact way."""
    with psycopg.connect(pg_dsn) as conn:
        return [r[0] for r in conn.execute("select rows from hotcold.step_results where step = 'delete' and table_name = 'market_data' order by at")]


@pytest.mark.slow
def test_a_quiet_rotation_deletes_in_one_statement_by_snapshot(pg_project, pg_dsn):
    report = rotate(pg_project, as_of=AS_OF)
    assert delete_attempts(pg_dsn) == [report.tables["market_data"].deleted_rows] != [0]


@pytest.mark.slow
def test_a_row_from_a_transaction_open_across_the_stage_stays_hot_until_the_next_run(pg_project, pg_dsn):
    # The transaction holds an id below the stage snapshot's xmax but is still in progress
    # when the stage reads: its row is not staged. It commits before the delete, so only the
    # snapshot's in-progress list tells the one-statement delete to leave it.
    rotate(pg_project, as_of=AS_OF)
    ts = datetime(2026, 3, 3, tzinfo=timezone.utc)
    key = ("OPEN", "1day", ts)
    writer = psycopg.connect(pg_dsn)
    writer.execute("insert into market_data (symbol, interval, ts, close) values (%s, %s, %s, 1)", list(key))
    with psycopg.connect(pg_dsn, autocommit=True) as later:
        # A later transaction completes, so the snapshot's xmax passes the open one's id and
        # lists it as in progress (an open id above every completed one is simply >= xmax).
        later.execute("select pg_current_xact_id()")

    def commit_the_open_transaction():
        faults.on("publish.before_replace", None)
        writer.commit()

    faults.on("publish.before_replace", commit_the_open_transaction)
    try:
        report = rotate(pg_project, as_of=AS_OF + timedelta(days=1))
    finally:
        faults.on("publish.before_replace", None)
        writer.close()
    assert report.tables["market_data"].archived_rows > 0
    assert delete_attempts(pg_dsn)[-1] == report.tables["market_data"].deleted_rows, "one statement, nothing rolled back"
    hot, lake = all_rows(pg_project)
    assert key in {r[:3] for r in hot} and key not in {r[:3] for r in lake}

    rotate(pg_project, as_of=AS_OF + timedelta(days=1))
    hot, lake = all_rows(pg_project)
    keys = [r[:3] for r in hot + lake]
    assert key in {r[:3] for r in lake} and len(keys) == len(set(keys))


@pytest.mark.slow
def test_a_row_deleted_during_a_rotation_does_not_live_on_in_the_lake(pg_project, pg_dsn):
    gone_ts = datetime(2026, 3, 2, tzinfo=timezone.utc)
    hot, lake = all_rows(pg_project)
    before = [r for r in hot + lake if r[:3] != ("SYM0001", "1day", gone_ts)]

    def delete_a_staged_row():
        faults.on("publish.before_replace", None)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("delete from market_data where symbol = 'SYM0001' and interval = '1day' and ts = %s", [gone_ts])

    faults.on("publish.before_replace", delete_a_staged_row)
    try:
        report = rotate(pg_project, as_of=AS_OF)
    finally:
        faults.on("publish.before_replace", None)
    assert report.tables["market_data"].steps["reconcile"].rows == 1
    assert delete_attempts(pg_dsn) == [-1, report.tables["market_data"].deleted_rows], "the snapshot delete saw the change and rolled back"
    hot, lake = all_rows(pg_project)
    assert sorted(hot + lake, key=repr) == sorted(before, key=repr), "the deleted row is nowhere; every other row is once"
    assert hotcold.verify(pg_project, deep=True).ok


@pytest.mark.slow
def test_a_row_changed_during_a_run_then_deleted_is_withdrawn_by_the_next_run(pg_project, pg_dsn):
    ts = datetime(2026, 3, 4, tzinfo=timezone.utc)
    key = ("SYM0002", "1day", ts)

    def update_a_staged_row():
        faults.on("publish.before_replace", None)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("update market_data set close = -5 where symbol = %s and interval = %s and ts = %s", key)

    faults.on("publish.before_replace", update_a_staged_row)
    try:
        rotate(pg_project, as_of=AS_OF)
    finally:
        faults.on("publish.before_replace", None)
    hot, lake = all_rows(pg_project)
    assert [r[6] for r in hot if r[:3] == key] == [-5] and len([r for r in lake if r[:3] == key]) == 1, "kept hot, old version in the lake"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("delete from market_data where symbol = %s and interval = %s and ts = %s", key)
    report = rotate(pg_project, as_of=AS_OF + timedelta(days=1))
    hot, lake = all_rows(pg_project)
    assert not [r for r in hot + lake if r[:3] == key], "the deleted row does not live on in the lake"
    assert report.tables["market_data"].steps["reconcile"].rows == 1
    assert hotcold.verify(pg_project, deep=True).ok


ODD_DDL = """
create table oddities (
  id integer primary key, ts timestamptz not null, big numeric, exact numeric(38,18),
  f double precision, label text, doc jsonb, d date)
"""
ODD_ROWS = [
    (1, "2026-01-01 00:00:00+00", Decimal("12345678901234567890.123456789012345678901234"), Decimal("12345678901234567890.123456789012345678"), float("nan"), "a/b/c", {"k": [1, 2, {"x": None}]}, date(2024, 2, 29)),
    (2, "2024-02-29 23:59:59.999999+00", Decimal("-0.000000000000000000000001"), Decimal("-0.000000000000000001"), float("inf"), "ünïcødé ✓ 日本", {"quote": "it's \"q\""}, None),
    (3, "2026-03-29 01:30:00+00", Decimal("NaN"), None, float("-inf"), "it's; drop table x; --", [], date(1900, 1, 1)),
    (4, "1970-01-01 00:00:00+00", None, Decimal("0"), None, None, None, date(9999, 12, 31)),
    (5, "1901-12-14 20:45:52+00", Decimal("1e-40"), Decimal("99999999999999999999.999999999999999999"), -0.0, "", {}, None),
    (6, "2026-03-08 07:00:00+00", Decimal("1.10"), Decimal("-1.5"), 1e308, "DST starts in New York: 02:00 EST is 03:00 EDT", {"u": "é ✓ 日本", "n": -0.0}, None),
    (7, "2026-11-01 06:00:00+00", Decimal("-7"), Decimal("7"), 5e-324, "DST ends: 01:00-01:59 happen twice", None, date(2026, 11, 1)),
    (8, "2400-02-29 12:00:00+00", Decimal("3.14159265358979323846264338327950288419716939937510"), Decimal("1"), float("nan"), "far future stays hot", {"hot": True}, None),
    (9, "2026-11-24 23:59:59.999999+00", Decimal("-0"), None, float("-inf"), "recent stays hot 'q' \"dq\" \\ /", [1, "two"], None),
]
N_AGED = 6  # ids 1-6 are older than the window; 7 (1 Nov), 8 and 9 stay hot


def test_values_survive_the_trip_exactly(tmp_path, pg_dsn):
    path = write_config(tmp_path, "postgres", pg_dsn)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["oddities"] = {"time_column": "ts", "key": ["id"]}
    path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(ODD_DDL)
        with conn.cursor() as cur:
            cur.executemany("insert into oddities values (%s, %s, %s, %s, %s, %s, %s, %s)",
                            [(*r[:6], psycopg.types.json.Jsonb(r[6]) if r[6] is not None else None, r[7]) for r in ODD_ROWS])
        before = conn.execute("select id, ts, big, exact, f, label, doc, d from oddities order by id").fetchall()

    report = rotate(config, as_of=AS_OF, tables=["oddities"])
    assert report.tables["oddities"].archived_rows == N_AGED
    assert "created index" in report.tables["oddities"].steps["index"].detail
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select count(*) from oddities").fetchone()[0] == len(ODD_ROWS) - N_AGED
        assert conn.execute("select count(*) from pg_indexes where tablename = 'oddities' and indexdef like '%(ts)%'").fetchone()[0] == 1

    conn = hot_conn(config)
    lake = conn.execute(
        f"select id, ts, big, exact, f, label, doc, d from read_parquet('{config.lake_root}/oddities/*/*/*/*.parquet', hive_partitioning = false) order by id"
    ).fetchall()
    conn.close()
    assert [r[0] for r in lake] == [r[0] for r in before[:N_AGED]]
    for got, want in zip(lake, before):
        assert_same_values(got, want)
    # And back out through the query layer: the engine (lake) and the router (both tiers).
    engine_rows = hotcold.ColdStorageQueryEngine(config).query("oddities").to_pylist()
    with hotcold.StorageRouter(config) as router:
        routed = router.query("oddities")
    assert routed.tiers == ("hot", "cold")
    for rows, want_rows in ((engine_rows, before[:N_AGED]), (routed.table.to_pylist(), before)):
        rows = sorted(rows, key=lambda r: r["id"])
        assert [r["id"] for r in rows] == [w[0] for w in want_rows]
        for got, want in zip(rows, want_rows):
            assert_same_values(tuple(got[c] for c in ("id", "ts", "big", "exact", "f", "label", "doc", "d")), want)


def assert_same_values(got, want):
    assert got[0] == want[0] and got[1] == want[1], (got, want)
    assert (got[2] is None and want[2] is None) or Decimal(got[2]).compare_total(want[2]) == 0 or (Decimal(got[2]).is_nan() and want[2].is_nan()), (got, want)
    assert got[3] == want[3], (got, want)
    assert (got[4] is None and want[4] is None) or (math.isnan(want[4]) and math.isnan(got[4])) or (got[4] == want[4] and math.copysign(1, got[4]) == math.copysign(1, want[4])), (got, want)
    assert got[5] == want[5]
    assert (got[6] is None and want[6] is None) or json.loads(got[6]) == want[6], (got, want)
    assert got[7] == want[7]


@pytest.mark.slow
def test_plain_dbt_build_rotates_with_the_same_guarantees(pg_project):
    hot, lake = all_rows(pg_project)
    before = sorted(hot + lake, key=repr)
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "HOTCOLD_CONFIG": str(pg_project.path)}
    env.pop("HOTCOLD_LOCK_HELD", None)
    proc = subprocess.run(
        [str(dbt), "build", "--select", "tag:rotation", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
         "--target-path", str(pg_project.path.parent / "target"), "--log-path", str(pg_project.path.parent / "dbt-logs"),
         "--vars", "{as_of: 2026-11-25}"],
        env=env, capture_output=True, text=True, cwd=pg_project.path.parent, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    hot, lake = all_rows(pg_project)
    assert lake and sorted(hot + lake, key=repr) == before
    assert len({r[:3] for r in hot + lake}) == len(before)
    assert "step=run" in pg_project.log_file.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["publish.before_replace", "publish.between_days"])
def test_a_rotation_killed_mid_publish_completes_on_rerun(pg_project, point):
    hot, lake = all_rows(pg_project)
    before = sorted(hot + lake, key=repr)
    env = {**os.environ, "HOTCOLD_FAIL_AT": f"{point}:kill"}
    env.pop("HOTCOLD_LOCK_HELD", None)
    hotcold_bin = Path(sys.executable).with_name("hotcold")
    proc = subprocess.run([str(hotcold_bin), "rotate", "--config", str(pg_project.path), "--as-of", "2026-11-25"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    hot, lake = all_rows(pg_project)
    assert set(before) == set(hot) | set(lake), "after the kill every row is in hot, lake or both"

    report = rotate(pg_project, as_of=AS_OF)
    hot, lake = all_rows(pg_project)
    assert sorted(hot + lake, key=repr) == before, "the re-run loses nothing and duplicates nothing"
    assert report.tables["market_data"].deleted_rows > 0
    staging = pg_project.lake_root.parent / "_hotcold" / "staging"
    assert list(staging.iterdir()) == [], "the dead run's staging folder is cleared"
    runs = hotcold.archival_status(pg_project, as_of=AS_OF).tables["market_data"].last_run
    assert runs.outcome == "ok"
