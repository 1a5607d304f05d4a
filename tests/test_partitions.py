"""Hot tables that are already range-partitioned on their time column rotate like plain ones.

Daily and monthly partitions, with and without a default partition, and sub-partitions by
interval: five consecutive nightly rotations, new rows written between them (late ones too),
and after each, every row is once in the hot store or the lake, in its latest version.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
import yaml

import hotcold
from hotcold.ops.rotation import rotate
from support import TALLY, union_rows, write_config

START = date(2026, 11, 25)


def bars_config(tmp_path, dsn):
    path = write_config(tmp_path, "postgres", dsn)
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
        made = {r[0] for r in conn.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                                           " JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname LIKE 'bars_2026%%' AND c.relname LIKE 'hotcold_aging_%%'")}
        partitions = conn.execute("SELECT count(*) FROM pg_partition_tree('bars') WHERE isleaf").fetchone()[0]
    assert len(made) == partitions == 5
    # The next run finds them and changes nothing.
    again = rotate(config, as_of=START)
    assert not (again.tables["bars"].steps.get("index") and again.tables["bars"].steps["index"].detail)
