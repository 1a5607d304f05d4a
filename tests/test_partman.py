"""A hot table managed by pg_partman (4.7, native daily partitions with partman's default
partition) rotates without fighting it: partman keeps making partitions ahead, hotcold drops
the partitions wholly before its cutoff once their rows are in the lake, and neither breaks
the other's bookkeeping.

Each night, as a cron job would, partman.run_maintenance() runs and then the rotation. partman
reads the clock: create_parent premakes from the real now, run_maintenance premakes ahead of
the newest row (infinite_time_partitions false) and its retention counts back from the real
now. So the nights here are today and the four days after it (UTC, the server's clock), and
partman's retention cutoff stays where today puts it while the nights advance.

With partman's retention set shorter than hot_days it drops (or, retention_keep_table, detaches)
partitions whose rows hotcold has not archived yet: those rows are lost by partman, never by
hotcold, whose rotation carries every row it still finds. README.md, "Alongside pg_partman",
says how to set retention so that this cannot happen.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
import yaml

import hotcold
from hotcold.ops.rotation import rotate
from support import TALLY, union_rows, write_config

HISTORY_DAYS = 44  # rows from today - 44 days: partman's start partition
PREMAKE = 4
COLUMNS = "symbol, interval, ts, close"
CONFIG_COLUMNS = ("parent_table, control, partition_type, partition_interval, premake, retention, retention_keep_table,"
                  " infinite_time_partitions, datetime_string, template_table, automatic_maintenance")


def bars_config(tmp_path, dsn):
    # Both intervals stay hot for the whole window: the aged rows are exactly the days before
    # the cutoff, which leave with their partitions.
    path = write_config(tmp_path, "postgres", dsn, hot_intervals=["1day", "1hour"])
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["bars"] = {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"}
    cfg["storage"]["rotation"]["tables"] = ["bars"]
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def connect(dsn):
    conn = psycopg.connect(dsn, autocommit=True)
    # partman cuts days in the session's zone; hotcold's days are UTC.
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def create_bars(conn, retention: str | None = None, keep_table: bool = True) -> date:
    """pg_partman in schema `partman`, `bars` made daily by partman.create_parent from
    HISTORY_DAYS ago with PREMAKE days ahead and partman's default partition; `truth`, a plain
    table of the same columns. Returns today (UTC, the server's clock)."""
    today = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0]
    conn.execute("CREATE SCHEMA partman")
    conn.execute("CREATE EXTENSION pg_partman SCHEMA partman")
    conn.execute("CREATE TABLE truth (symbol text, interval text, ts timestamptz, close numeric(18,6), volume bigint, PRIMARY KEY (symbol, interval, ts))")
    conn.execute("CREATE TABLE bars (symbol text NOT NULL, interval text NOT NULL, ts timestamptz NOT NULL, close numeric(18,6), volume bigint,"
                 " PRIMARY KEY (symbol, interval, ts)) PARTITION BY RANGE (ts)")
    conn.execute("SELECT partman.create_parent('public.bars', 'ts', 'native', 'daily', p_premake := %s, p_start_partition := %s)",
                 [PREMAKE, str(today - timedelta(days=HISTORY_DAYS))])
    conn.execute("UPDATE partman.part_config SET retention = %s, retention_keep_table = %s WHERE parent_table = 'public.bars'", [retention, keep_table])
    return today


def write_bars(conn, first: date, last: date, tag: int, symbols=("AAA", "BBB", "CCC")) -> None:
    """Daily bars for `symbols` and 6-hourly 1hour bars for the first, `first` to `last`, into
    `bars` and into `truth` (what the two tiers must hold together); an existing key takes the
    new close."""
    for table in ("bars", "truth"):
        conn.execute(
            f"INSERT INTO {table} SELECT s, '1day', d, 100 + %(tag)s + extract(day from d)::int, 1000 FROM unnest(%(symbols)s::text[]) s,"
            " generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d"
            " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close", {"tag": tag, "first": first, "last": last, "symbols": list(symbols)})
        conn.execute(
            f"INSERT INTO {table} SELECT %(symbol)s, '1hour', d, 50 + %(tag)s, 10 FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '6 hours') d"
            " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close", {"tag": tag, "first": first, "last": last, "symbol": symbols[0]})


def write_night(conn, night: date, n: int) -> None:
    """The night's rows: today's bars, a late correction of a day 40 days back (in the lake and
    its partition dropped, from the second night on), and a late row and a correction for a
    day still in its partition."""
    write_bars(conn, night, night, n + 1)
    write_bars(conn, night - timedelta(days=40), night - timedelta(days=40), 1000 + n)
    write_bars(conn, night - timedelta(days=3), night - timedelta(days=3), 2000 + n)
    write_bars(conn, night - timedelta(days=5), night - timedelta(days=5), 3000 + n, symbols=(f"LATE{n}",))


def partitions(conn) -> dict[str, tuple[date, int]]:
    """bars' partitions but the default, by partman's name: (the day it holds, its rows)."""
    names = [r[0] for r in conn.execute("SELECT partition_tablename FROM partman.show_partitions('public.bars')")]
    return {name: (date.fromisoformat(name.removeprefix("bars_p").replace("_", "-")),
                   conn.execute(f'SELECT count(*) FROM public."{name}"').fetchone()[0]) for name in names}


def truth_rows(conn) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(f"SELECT {COLUMNS} FROM truth").fetchall())


def dropped_by_hotcold(conn) -> dict[str, int]:
    """hotcold.partition_log's partitions dropped (every run so far): name -> rows."""
    if not conn.execute("SELECT to_regclass('hotcold.partition_log')").fetchone()[0]:
        return {}
    return {r[0].removeprefix("public."): r[1] for r in conn.execute(
        "SELECT partition, rows FROM hotcold.partition_log WHERE table_name = 'bars' AND action = 'dropped'")}


def part_config(conn) -> tuple:
    return conn.execute(f"SELECT {CONFIG_COLUMNS} FROM partman.part_config WHERE parent_table = 'public.bars'").fetchone()


@pytest.mark.slow
@pytest.mark.parametrize("retention", [None, "45 days"], ids=["retention NULL", "retention 45 days, keep_table"])
def test_a_partman_table_rotates_night_after_night_and_partman_keeps_premaking(tmp_path, pg_dsn, retention):
    """The recommended settings: partman's retention NULL (hotcold drops), or well beyond
    hot_days (30) with retention_keep_table, so partman never reaches a partition hotcold has
    not archived."""
    config = bars_config(tmp_path, pg_dsn)
    with connect(pg_dsn) as conn:
        today = create_bars(conn, retention=retention, keep_table=True)
        write_bars(conn, today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1), 0)
        settings = part_config(conn)
        assert conn.execute("SELECT partition_tablename FROM partman.show_partitions('public.bars', p_include_default := true) LIMIT 1").fetchone()[0] == "bars_default"
    assert hotcold.archival_status(config, today).tables["bars"].hot.partman_retention is None  # a safe setting: no warning
    seen = {}
    for n in range(5):
        night = today + timedelta(days=n)
        cutoff = night - timedelta(days=config.hot_days)
        with connect(pg_dsn) as conn:
            write_night(conn, night, n)
            conn.execute("SELECT partman.run_maintenance()")  # what partman's cron job runs
            before = partitions(conn)
            truth = truth_rows(conn)
        report = rotate(config, as_of=night)
        assert report.tables["bars"].archived_rows > 0
        with connect(pg_dsn) as conn:
            after = partitions(conn)
            dropped = dropped_by_hotcold(conn)
            # hotcold dropped exactly the partitions wholly before its cutoff, each with all its rows.
            gone = {name for name, (day, _) in before.items() if day < cutoff}
            assert set(before) - set(after) == gone and gone, f"night {n}: partitions dropped other than those before {cutoff}"
            assert {k: dropped.get(k) for k in gone} == {k: before[k][1] for k in gone}, f"night {n}: hotcold.partition_log disagrees"
            assert set(dropped) - set(seen) == gone
            seen = dropped
            # partman's premake honoured: a partition for every day from the cutoff to night + PREMAKE.
            days = sorted(day for day, _ in after.values())
            assert days[0] == cutoff and days[-1] == night + timedelta(days=PREMAKE)
            assert days == [cutoff + timedelta(days=i) for i in range(len(days))], "a gap in partman's partitions"
            # partman's bookkeeping untouched: same config, its default partition empty (the late
            # rows for dropped days left with the rotation), and maintenance runs clean.
            assert part_config(conn) == settings
            assert conn.execute("SELECT * FROM partman.check_default()").fetchall() == []
            conn.execute("SELECT partman.run_maintenance('public.bars')")
            assert partitions(conn).keys() == after.keys()
        hot, lake = union_rows(config, "bars", COLUMNS)
        assert not {r[:3] for r in hot} & {r[:3] for r in lake}, "a key in both tiers after the rotation"
        assert sorted(hot + lake) == truth, f"night {n}: a row lost, duplicated or not in its latest version"
        TALLY["pg_partman tables: nightly rotations checked"] += 1
    assert hotcold.verify(config, deep=True).ok


@pytest.mark.slow
@pytest.mark.parametrize("keep_table", [False, True], ids=["retention_keep_table false", "retention_keep_table true"])
def test_partman_retention_shorter_than_hot_days_loses_rows_hotcold_never_had(tmp_path, pg_dsn, keep_table):
    """partman's retention set wrong (10 days, hot_days 30): the first night's maintenance
    drops, or detaches, the partitions from 44 to 11 days back before hotcold ever saw them.
    The rotation archives every row still in the table and reports nothing amiss: it cannot
    see rows that left the table before it ran. Fixed (retention NULL; a detached partition
    attached again), the next night's rotation carries on, and what partman dropped stays lost."""
    config = bars_config(tmp_path, pg_dsn)
    with connect(pg_dsn) as conn:
        today = create_bars(conn, retention="10 days", keep_table=keep_table)
        write_bars(conn, today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1), 0)
        write_night(conn, today, 0)
        before = partitions(conn)
        conn.execute("SELECT partman.run_maintenance()")
        after = partitions(conn)
        by_partman = {name: day for name, (day, _) in before.items() if name not in after}
        assert sorted(by_partman.values()) == [today - timedelta(days=HISTORY_DAYS - i) for i in range(HISTORY_DAYS - 10)]
        handed = sorted(tuple(r) for r in conn.execute(f"SELECT {COLUMNS} FROM bars").fetchall())  # what the rotation is given
        truth = truth_rows(conn)
    # status says so: the retention can drop partitions hotcold has not archived.
    assert hotcold.archival_status(config, today).tables["bars"].hot.partman_retention == "10 days"
    report = rotate(config, as_of=today)
    assert report.warnings == [] and hotcold.verify(config, deep=True).ok  # hotcold sees nothing wrong
    hot, lake = union_rows(config, "bars", COLUMNS)
    assert sorted(hot + lake) == handed, "hotcold lost or duplicated a row it was given"
    lost = sorted(set(truth) - set(hot + lake))
    assert lost and {r[2].date() for r in lost} == set(by_partman.values()), "rows lost other than in partitions partman dropped"
    with connect(pg_dsn) as conn:
        assert not dropped_by_hotcold(conn), "hotcold dropped a partition: it had none wholly before its cutoff left"
        kept = {r[0] for r in conn.execute("SELECT relname::text FROM pg_class WHERE relname LIKE 'bars\\_p%' AND relkind = 'r' AND NOT relispartition")}
        if keep_table:
            # Detached, not dropped: the rows wait in partman's leftover tables, outside both tiers.
            assert kept == set(by_partman)
            assert sorted(tuple(r) for name in kept for r in conn.execute(f'SELECT {COLUMNS} FROM "{name}"')) == lost
        else:
            assert not kept
        # The fix: no retention (hotcold drops), and the detached partitions back in the table.
        conn.execute("UPDATE partman.part_config SET retention = NULL WHERE parent_table = 'public.bars'")
        for name in kept:
            day = by_partman[name]
            conn.execute(f"ALTER TABLE bars ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')")
        night = today + timedelta(days=1)
        write_night(conn, night, 1)  # its correction 40 days back lands in the default if partman dropped that day
        conn.execute("SELECT partman.run_maintenance()")
        truth = truth_rows(conn)
    rotate(config, as_of=night)
    hot, lake = union_rows(config, "bars", COLUMNS)
    if keep_table:
        assert sorted(hot + lake) == truth, "the partitions attached again did not rotate"
    else:
        # The night's correction 40 days back brought those keys back (through the default partition).
        corrected = datetime.combine(night - timedelta(days=40), datetime.min.time(), timezone.utc)
        assert sorted(set(truth) - set(hot + lake)) == [r for r in lost if r[2] != corrected]
    with connect(pg_dsn) as conn:
        assert conn.execute("SELECT * FROM partman.check_default()").fetchall() == []


@pytest.mark.slow
def test_partman_maintenance_keeps_working_when_every_partition_has_aged_out(tmp_path, pg_dsn):
    """The writers stop; 40 nights later every partition partman made, the ones made ahead
    too, is wholly before hotcold's cutoff. partman (infinite_time_partitions false, its
    default) premakes only ahead of the newest row, so none is made meanwhile. hotcold keeps
    the newest partition (store/partitions.py), as partman's own retention does, so
    run_maintenance() still has one to go on from."""
    config = bars_config(tmp_path, pg_dsn)
    with connect(pg_dsn) as conn:
        today = create_bars(conn)
        write_bars(conn, today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1), 0)
        conn.execute("SELECT partman.run_maintenance()")
        truth = truth_rows(conn)
    rotate(config, as_of=today + timedelta(days=40))
    hot, lake = union_rows(config, "bars", COLUMNS)
    assert sorted(hot + lake) == truth
    with connect(pg_dsn) as conn:
        conn.execute("SELECT partman.run_maintenance()")
        assert partitions(conn), "partman's set has no partition left but its default"
