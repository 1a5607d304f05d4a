"""Hot tables that are already range-partitioned on their time column rotate like plain ones.

Daily and monthly partitions, with and without a default partition, and sub-partitions by
interval: five consecutive nightly rotations, new rows written between them (late ones too),
and after each, every row is once in the hot store or the lake, in its latest version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import psycopg
import pytest
import yaml

import hotcold
from hotcold import faults
from hotcold.ops.rotation import rotate
from support import TALLY, union_rows, write_config

START = date(2026, 11, 25)


def bars_config(tmp_path, dsn, **lifecycle):
    path = write_config(tmp_path, "postgres", dsn, **lifecycle)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["bars"] = {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"}
    cfg["storage"]["rotation"]["tables"] = ["bars"]
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def create_bars(conn, layout: str) -> None:
    """`bars` partitioned by range on ts: `daily`, `monthly`, `daily+default`, or `by_interval`
    (monthly partitions, each sub-partitioned by list on interval); and `truth`, a plain table
    of the same columns (see write_bars)."""
    conn.execute("CREATE TABLE truth (symbol text, interval text, ts timestamptz, close numeric(18,6), volume bigint, PRIMARY KEY (symbol, interval, ts))")
    conn.execute("CREATE TABLE bars (symbol text NOT NULL, interval text NOT NULL, ts timestamptz NOT NULL, close numeric(18,6), volume bigint,"
                 " PRIMARY KEY (symbol, interval, ts)) PARTITION BY RANGE (ts)")
    first = date(2026, 8, 25)  # the rows run from 2026-09-01 to the last night, 2026-11-29
    if layout.startswith("daily"):
        for i in range(100):
            d = first + timedelta(days=i)
            conn.execute(f"CREATE TABLE bars_{d:%Y%m%d} PARTITION OF bars FOR VALUES FROM ('{d}') TO ('{d + timedelta(days=1)}')")
        if layout.endswith("default"):
            conn.execute("CREATE TABLE bars_default PARTITION OF bars DEFAULT")
        return
    for m in range(8, 13):
        lo, hi = date(2026, m, 1), date(2026 + (m == 12), m % 12 + 1, 1)
        if layout == "monthly":
            conn.execute(f"CREATE TABLE bars_{lo:%Y%m} PARTITION OF bars FOR VALUES FROM ('{lo}') TO ('{hi}')")
        else:
            conn.execute(f"CREATE TABLE bars_{lo:%Y%m} PARTITION OF bars FOR VALUES FROM ('{lo}') TO ('{hi}') PARTITION BY LIST (interval)")
            conn.execute(f"CREATE TABLE bars_{lo:%Y%m}_day PARTITION OF bars_{lo:%Y%m} FOR VALUES IN ('1day')")
            conn.execute(f"CREATE TABLE bars_{lo:%Y%m}_other PARTITION OF bars_{lo:%Y%m} DEFAULT")


def write_bars(conn, first: date, last: date, tag: int) -> None:
    """Daily bars for three symbols and 6-hourly 1hour bars for one, `first` to `last`, into
    `bars` and into `truth` (a plain table no rotation touches: what the two tiers must hold
    together); an existing key takes the new close."""
    for table in ("bars", "truth"):
        conn.execute(
            f"INSERT INTO {table} SELECT s, '1day', d, 100 + %(tag)s + extract(day from d)::int, 1000 FROM unnest(array['AAA','BBB','CCC']) s,"
            " generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d"
            " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close", {"tag": tag, "first": first, "last": last})
        conn.execute(
            f"INSERT INTO {table} SELECT 'AAA', '1hour', d, 50 + %(tag)s, 10 FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '6 hours') d"
            " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close", {"tag": tag, "first": first, "last": last})


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["daily", "daily+default", "monthly", "by_interval"])
def test_a_partitioned_table_rotates_night_after_night_keeping_every_row_once(tmp_path, pg_dsn, layout):
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, layout)
        write_bars(conn, date(2026, 9, 1), START, 0)
    for night in range(5):
        as_of = START + timedelta(days=night)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            # Today's bars, and a late correction of a day the lake already holds (night 0: not yet).
            write_bars(conn, as_of, as_of, night + 1)
            write_bars(conn, as_of - timedelta(days=40), as_of - timedelta(days=40), 1000 + night)
            truth = sorted(tuple(r) for r in conn.execute("SELECT symbol, interval, ts, close FROM truth").fetchall())
        report = rotate(config, as_of=as_of)
        assert report.tables["bars"].archived_rows > 0
        hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
        assert not {r[:3] for r in hot} & {r[:3] for r in lake}, "a key in both tiers after the rotation"
        assert sorted(hot + lake) == truth, f"night {night}: a row lost, duplicated or not in its latest version"
        TALLY["partitioned tables: nightly rotations checked"] += 1
    with psycopg.connect(pg_dsn) as conn:
        in_pg = conn.execute("SELECT count(*) FROM bars").fetchone()[0]
        oldest = conn.execute("SELECT min(ts) FROM bars WHERE interval = '1day'").fetchone()[0]
    last = START + timedelta(days=4)
    assert oldest.date() >= last - timedelta(days=config.hot_days), "daily bars older than the window left the hot store"
    status = hotcold.archival_status(config, last).tables["bars"]
    assert status.hot.rows == in_pg and status.hot.disk_bytes > 0 and status.hot.aging_rows == 0
    assert status.lake.rows == len(lake) and status.last_run.outcome == "ok"
    assert hotcold.verify(config, deep=True).ok


def test_the_indexes_the_rotation_reads_through_are_made_on_each_partition(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "monthly")
        write_bars(conn, date(2026, 9, 1), START, 0)
    report = rotate(config, as_of=START)
    detail = report.tables["bars"].steps["index"].detail
    assert "bars_202611" in detail and "hotcold_aging_" in detail
    with psycopg.connect(pg_dsn) as conn:
        made = {r[0] for r in conn.execute("SELECT t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                                           " JOIN pg_class t ON t.oid = i.indrelid WHERE c.relname LIKE 'hotcold_aging_%%'")}
        leaves = {r[0] for r in conn.execute("SELECT relid::regclass::text FROM pg_partition_tree('bars') WHERE isleaf")}
    # August and September left whole; the default partition made for late rows is indexed too.
    assert made == leaves == {"bars_202610", "bars_202611", "bars_202612", "bars_default"}
    # The next run finds them and changes nothing.
    again = rotate(config, as_of=START)
    assert not (again.tables["bars"].steps.get("index") and again.tables["bars"].steps["index"].detail)


def leaves_of(conn, table="bars") -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT relid::regclass::text FROM pg_partition_tree('{table}') WHERE isleaf")}


def test_whole_partitions_leave_by_drop_and_a_late_row_for_a_dropped_day_lands_in_the_default(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn, hot_intervals=["1day", "1hour"])  # so no row ages out inside the window
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "daily")
        write_bars(conn, date(2026, 9, 1), START, 0)
        before = leaves_of(conn)
    report = rotate(config, as_of=START)  # cutoff 2026-10-26: 2026-08-25 to 10-25 are wholly before it
    steps = report.tables["bars"].steps
    gone = {f"bars_{date(2026, 8, 25) + timedelta(days=i):%Y%m%d}" for i in range(62)}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        after = leaves_of(conn)
        assert before - after == gone and after - before == {"bars_default"}
        assert not conn.execute("SELECT count(*) FROM pg_class WHERE relname = ANY(%s)", [sorted(gone)]).fetchone()[0], "a partition detached but not dropped"
        # Every aged row went with its partition: no row-level delete, so no VACUUM.
        assert "62 partitions left whole" in steps["delete"].detail and "row by row" not in steps["delete"].detail
        assert steps["vacuum"].detail == "no rows deleted row by row: no VACUUM"
        # A writer's late row for a day already dropped is neither refused nor lost.
        conn.execute("INSERT INTO bars VALUES ('LATE', '1day', '2026-09-05', 1.5, 1)")
        conn.execute("INSERT INTO truth VALUES ('LATE', '1day', '2026-09-05', 1.5, 1)")
        assert conn.execute("SELECT tableoid::regclass::text FROM bars WHERE symbol = 'LATE'").fetchone()[0] == "bars_default"
        truth = sorted(tuple(r) for r in conn.execute("SELECT symbol, interval, ts, close FROM truth").fetchall())
    again = rotate(config, as_of=START + timedelta(days=1))
    assert "bars_default" in again.tables["bars"].steps["vacuum"].detail  # the late row left row by row
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert sorted(hot + lake) == truth and ("LATE", "1day") in {r[:2] for r in lake}
    assert hotcold.verify(config, deep=True).ok


def test_keep_detached_moves_whole_partitions_to_the_archive_schema(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn)
    raw = yaml.safe_load(config.path.read_text())
    raw["storage"]["hot_store"]["partitions"] = {"keep_detached": True, "archive_schema": "bars_archive"}
    config.path.write_text(yaml.safe_dump(raw))
    config = hotcold.load_config(config.path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "monthly")
        write_bars(conn, date(2026, 9, 1), START, 0)
        aged = conn.execute("SELECT count(*) FROM bars WHERE ts < '2026-10-01'").fetchone()[0]
    report = rotate(config, as_of=START)
    assert "detached into bars_archive" in report.tables["bars"].steps["delete"].detail
    with psycopg.connect(pg_dsn) as conn:
        kept = {r[0] for r in conn.execute("SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'bars_archive'")}
        assert {"bars_202608", "bars_202609"} <= kept and not {"bars_202608", "bars_202609"} & leaves_of(conn)
        assert conn.execute("SELECT count(*) FROM bars_archive.bars_202609").fetchone()[0] + conn.execute("SELECT count(*) FROM bars_archive.bars_202608").fetchone()[0] == aged
    assert hotcold.verify(config, deep=True).ok


def test_a_partition_written_to_after_the_stage_stays_and_gives_up_its_staged_rows_row_by_row(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "monthly")
        write_bars(conn, date(2026, 9, 1), START, 0)

    def late_writer():
        faults.on("publish.before_replace", None)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            for table in ("bars", "truth"):
                conn.execute(f"INSERT INTO {table} VALUES ('LATE', '1day', '2026-09-07', 2.5, 1)")

    faults.on("publish.before_replace", late_writer)
    try:
        report = rotate(config, as_of=START)
    finally:
        faults.on("publish.before_replace", None)
    detail = report.tables["bars"].steps["delete"].detail
    assert "1 partitions left whole" in detail and "bars_202609: deleted (kept attached: 1 of its" in detail
    with psycopg.connect(pg_dsn) as conn:
        assert "bars_202609" in leaves_of(conn) and "bars_202608" not in leaves_of(conn)
        assert conn.execute("SELECT symbol FROM bars_202609").fetchall() == [("LATE",)]
        truth = sorted(tuple(r) for r in conn.execute("SELECT symbol, interval, ts, close FROM truth").fetchall())
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert sorted(hot + lake) == truth
    # The next night the late row goes, and its partition with it.
    rotate(config, as_of=START + timedelta(days=1))
    with psycopg.connect(pg_dsn) as conn:
        assert "bars_202609" not in leaves_of(conn)
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert sorted(hot + lake) == truth


def test_a_session_holding_the_table_makes_the_detach_give_way_to_the_row_delete(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn)
    raw = yaml.safe_load(config.path.read_text())
    raw["storage"]["hot_store"]["lock_timeout_s"] = 0.3
    config.path.write_text(yaml.safe_dump(raw))
    config = hotcold.load_config(config.path)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "monthly")
        conn.execute("CREATE TABLE bars_default PARTITION OF bars DEFAULT")
        write_bars(conn, date(2026, 9, 1), START, 0)
        truth = sorted(tuple(r) for r in conn.execute("SELECT symbol, interval, ts, close FROM truth").fetchall())
    with psycopg.connect(pg_dsn) as idle:  # idle in transaction, holding ACCESS SHARE on bars
        idle.execute("SELECT count(*) FROM bars")
        pid = idle.info.backend_pid
        report = rotate(config, as_of=START)
        idle.rollback()
    detail = report.tables["bars"].steps["delete"].detail
    assert f"sessions holding the table: pid {pid} (idle in transaction" in detail
    assert "partitions left whole" not in detail
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert sorted(hot + lake) == truth


def test_status_and_the_dry_run_name_the_partitions_the_rotation_then_drops(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "daily+default")
        write_bars(conn, date(2026, 9, 1), START, 0)
        # A row that never ages out (infinite time) keeps its partition, the default, attached.
        conn.execute("INSERT INTO bars VALUES ('INF', '1day', '-infinity', 1, 1)")
    plan = rotate(config, as_of=START, dry_run=True).tables["bars"]
    status = hotcold.archival_status(config, START).tables["bars"].hot
    assert plan.partitions == status.partitions
    leaving = {p.name: p.rows for p in plan.partitions.leaving}
    assert len(leaving) == 62 and sum(leaving.values()) + plan.partitions.rows_by_delete == plan.rows
    report = rotate(config, as_of=START)
    with psycopg.connect(pg_dsn) as conn:
        dropped = {r[0]: r[1] for r in conn.execute(
            "SELECT partition, rows FROM hotcold.partition_log WHERE table_name = 'bars' AND action = 'dropped'")}
        deleted = conn.execute("SELECT coalesce(sum(rows), 0) FROM hotcold.partition_log WHERE table_name = 'bars' AND action = 'deleted'").fetchone()[0]
    assert dropped == leaving and deleted == plan.partitions.rows_by_delete
    assert report.tables["bars"].deleted_rows == plan.rows
    # Nothing is left to leave whole: the plan now says so.
    after = rotate(config, as_of=START, dry_run=True).tables["bars"].partitions
    assert after.leaving == [] and after.rows_by_delete == 0


@pytest.mark.crash
@pytest.mark.parametrize("point", ["delete.in_transaction", "delete.after:kill"])
def test_a_rotation_killed_around_the_partition_drop_with_a_live_writer_completes_on_rerun(tmp_path, pg_dsn, point):
    """SIGKILL (or a failure inside the delete's transaction) at each boundary around the
    DETACH and DROP, while a writer inserts new and late rows and updates aged ones; the re-run
    leaves every row once, in its latest version."""
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "daily")
        write_bars(conn, date(2026, 9, 1), START, 0)
    stop = threading.Event()

    def writer():
        n = 0
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            while not stop.is_set():
                n += 1
                day = [START, START - timedelta(days=50 + n % 20), START - timedelta(days=10)][n % 3]  # new, late (dropped range or not), in window
                with conn.transaction():
                    for table in ("bars", "truth"):
                        conn.execute(f"INSERT INTO {table} VALUES ('W', '1day', %s::date + %s * interval '1 minute', %s, 1)"
                                     " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close", [day, n, n])
                        conn.execute(f"UPDATE {table} SET close = close + 1 WHERE symbol = 'AAA' AND interval = '1day' AND ts = %s", [START - timedelta(days=45 + n % 5)])
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
        env["HOTCOLD_FAIL_AT"] = point
        proc = subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--as-of", START.isoformat(), "--config", str(config.path)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == (-9 if point.endswith(":kill") else 1), proc.stderr[-2000:]
    finally:
        stop.set()
        thread.join()
    TALLY["crash points tried"] += 1
    with psycopg.connect(pg_dsn) as conn:
        truth = sorted(tuple(r) for r in conn.execute("SELECT symbol, interval, ts, close FROM truth").fetchall())
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    lost = {r[:3] for r in truth} - {r[:3] for r in hot} - {r[:3] for r in lake}
    TALLY["rows lost"] += len(lost)
    assert not lost, f"{len(lost)} rows lost"
    rotate(config, as_of=START)
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    dups = len(hot) + len(lake) - len({r[:3] for r in hot + lake})
    TALLY["rows duplicated"] += dups
    assert dups == 0 and sorted(hot + lake) == truth
    # A night whose staged rows changed during the run deletes by key and drops nothing; the
    # next night, quiet, the partitions wholly aged leave whole.
    rotate(config, as_of=START + timedelta(days=1))
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert sorted(hot + lake) == truth
    with psycopg.connect(pg_dsn) as conn:
        assert not {f"bars_{date(2026, 8, 25) + timedelta(days=i):%Y%m%d}" for i in range(60)} & leaves_of(conn), "partitions wholly aged still attached"
    assert hotcold.verify(config, deep=True).ok


@pytest.mark.slow
def test_a_new_empty_partition_is_indexed_beside_an_idle_transaction_and_an_invalid_index_is_rebuilt(tmp_path, pg_dsn):
    """CREATE INDEX CONCURRENTLY waits for every older transaction in the database: a premade
    (empty) partition takes a plain CREATE INDEX instead, so an idle session elsewhere does not
    hang the rotation; an index a cut-short CONCURRENTLY build left invalid is built again."""
    config = bars_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, "monthly")
        write_bars(conn, date(2026, 9, 1), START, 0)
    rotate(config, as_of=START)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bars_202701 PARTITION OF bars FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')")
    with psycopg.connect(pg_dsn) as idle:
        # Idle in a repeatable-read transaction: its snapshot is older than any index build.
        idle.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        idle.execute("SELECT count(*) FROM truth")
        report = rotate(config, as_of=START + timedelta(days=1))
        idle.rollback()
    assert "bars_202701" in report.tables["bars"].steps["index"].detail
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX bars_202611_ts_hotcold_idx")
        with pytest.raises(psycopg.errors.UniqueViolation):  # three symbols share each ts: the build fails, the index stays invalid
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY bars_202611_ts_hotcold_idx ON bars_202611 (ts)")
    report = rotate(config, as_of=START + timedelta(days=1))
    assert "bars_202611_ts_hotcold_idx, left invalid" in report.tables["bars"].steps["index"].detail
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT t.relname::text, c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                            " JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname IN ('bars_202701', 'bars_202611') AND c.relname LIKE '%%hotcold%%'").fetchall()
    assert {(t, v) for t, _, v in rows} == {("bars_202701", True), ("bars_202611", True)} and len(rows) == 4
