"""`hotcold partition`: a plain hot table becomes range-partitioned on its time column while a
writer writes, and every rotation after makes its partitions ahead.

The conversion is checked with a writer inserting and updating rows the whole time (each
write also goes to `truth`, a plain table nothing converts): afterwards `bars` holds exactly
`truth`, the writer saw no error, and the swap's lock time is reported. Each refusal is one
line before anything changes; a session idle in a transaction stops it after bounded retries,
named by pid; late rows land in the DEFAULT partition and the next rotation archives them.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
import yaml

import hotcold
from hotcold import faults
from hotcold.errors import HotColdError
from hotcold.ops.partition import convert
from hotcold.ops.rotation import rotate
from hotcold.store.strong_locks import LockWaitTimeout
from support import TALLY, union_rows, write_config

AS_OF = date(2026, 11, 25)
SYMBOLS = ("AAA", "BBB", "CCC")


def bars_config(tmp_path, dsn, *, lock_timeout_s: float = 5, premake_days: int = 7, time_column: str = "ts", **lifecycle):
    path = write_config(tmp_path, "postgres", dsn, **lifecycle)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["bars"] = {"time_column": time_column, "key": ["symbol", "interval", time_column], "interval_column": "interval"}
    cfg["storage"]["rotation"]["tables"] = ["bars"]
    cfg["storage"]["hot_store"].update(lock_timeout_s=lock_timeout_s, partitions={"premake_days": premake_days})
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def create_bars(conn, ts_type: str = "timestamptz", first: date = date(2026, 9, 1), last: date = AS_OF) -> None:
    """A plain `bars` (identity id, a serial, a CHECK, a primary key with the time, an index on
    it, an expression index, a grant), daily bars of three symbols `first` to `last`, and
    `truth`: the same rows in a table no conversion touches."""
    conn.execute(f"CREATE TABLE bars (id bigint GENERATED ALWAYS AS IDENTITY, n serial, symbol text NOT NULL, interval text NOT NULL,"
                 f" ts {ts_type} NOT NULL, close numeric(18,6) CHECK (close >= 0), volume bigint DEFAULT 0, PRIMARY KEY (symbol, interval, ts))")
    conn.execute("CREATE INDEX bars_ts_idx ON bars (ts)")
    conn.execute("CREATE INDEX bars_lower_symbol ON bars (lower(symbol)) WHERE volume > 0")
    conn.execute("GRANT SELECT ON bars TO PUBLIC")
    conn.execute("CREATE TABLE truth (symbol text, interval text, ts timestamptz, close numeric(18,6), PRIMARY KEY (symbol, interval, ts))")
    for table in ("bars", "truth"):
        conn.execute(f"INSERT INTO {table} (symbol, interval, ts, close) SELECT s, '1day', d, 100 + extract(day from d)::int"
                     " FROM unnest(%s::text[]) s, generate_series(%s::timestamptz, %s::timestamptz, interval '1 day') d",
                     [list(SYMBOLS), first, last])


def rows_of(conn, table: str) -> list:
    return sorted(conn.execute(f"SELECT symbol, interval, ts::timestamptz, close FROM {table}").fetchall())


def partitions_of(conn, table: str = "bars") -> dict:
    return dict(conn.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                             " WHERE i.inhparent = %s::regclass ORDER BY 1", [table]).fetchall())


class Writer(threading.Thread):
    """Inserts a new 1min bar of the as-of day, or updates an existing bar, about every 2 ms,
    each in one transaction with the same change to `truth`; records errors and how long
    each write took."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn, self.stop, self.errors, self.latencies = dsn, threading.Event(), [], []

    def run(self) -> None:
        rnd = random.Random(18)
        start = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=timezone.utc)
        with psycopg.connect(self.dsn) as conn:
            k = 0
            while not self.stop.is_set():
                k += 1
                t0 = time.monotonic()
                try:
                    with conn.transaction():
                        if k % 3 == 0:  # a correction of a bar the table held before, or one written since
                            key = (rnd.choice(SYMBOLS), "1day", start - timedelta(days=rnd.randrange(80))) if k % 2 else \
                                  (f"W{rnd.randrange(5)}", "1min", start + timedelta(minutes=rnd.randrange(max(1, k // 3))))
                            for table in ("bars", "truth"):
                                conn.execute(f"UPDATE {table} SET close = close + 1 WHERE symbol = %s AND interval = %s AND ts = %s", key)
                        else:
                            for table in ("bars", "truth"):
                                conn.execute(f"INSERT INTO {table} (symbol, interval, ts, close) VALUES (%s, '1min', %s, %s)"
                                             " ON CONFLICT (symbol, interval, ts) DO UPDATE SET close = excluded.close",
                                             [f"W{k % 5}", start + timedelta(minutes=k // 5), k])
                except Exception as exc:  # the point of the test: there must be none
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.latencies.append(time.monotonic() - t0)
                time.sleep(0.002)

    def writes(self) -> int:
        return len(self.latencies)


# --- conversion with a writer writing ---------------------------------------------------------

@pytest.mark.parametrize("by", ["day", "month"])
def test_a_plain_table_is_converted_while_a_writer_inserts_and_updates(tmp_path, pg_dsn, by):
    config = bars_config(tmp_path, pg_dsn, premake_days=10)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn)
        ids_before = conn.execute("SELECT max(id), max(n) FROM bars").fetchone()
    writer = Writer(pg_dsn)
    writer.start()
    try:
        while writer.writes() < 100:
            time.sleep(0.01)
        report = convert(config, "bars", by, as_of=AS_OF)
        during = writer.writes()
        while writer.writes() < during + 200:
            time.sleep(0.01)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.errors == [], writer.errors[:3]

    boundary = date(2026, 11, 27) if by == "day" else date(2026, 12, 1)
    assert report.mode == "live" and report.boundary == boundary
    assert report.scan_skipped is True, "ATTACH read the old rows under the lock instead of trusting the validated CHECK"
    assert 0 < report.lock_seconds < 1 and report.lock_attempts == 1
    expected = [f"bars_p{d:%Y%m%d}" for d in (boundary + timedelta(days=i) for i in range(9))] if by == "day" else ["bars_p202612"]
    assert report.partitions == expected  # to as_of + 10 days: 2026-12-05
    # Writers wait for the swap's lock (and the CHECK's moment): never a lock_timeout's worth.
    assert max(writer.latencies) < config.hot.lock_timeout_s

    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'bars'::regclass").fetchone()[0] == "p"
        parts = partitions_of(conn)
        assert parts.pop("bars_legacy") == f"FOR VALUES FROM (MINVALUE) TO ('{boundary} 00:00:00+00')"
        assert parts.pop("bars_default") == "DEFAULT"
        assert sorted(parts) == expected
        # Every row written, once, in its latest version; ids unique and going on from the old ones.
        assert rows_of(conn, "bars") == rows_of(conn, "truth")
        assert conn.execute("SELECT count(*) = count(DISTINCT id) FROM bars").fetchone()[0]
        new = conn.execute("INSERT INTO bars (symbol, interval, ts, close) VALUES ('NEW', '1day', %s, 1) RETURNING id, n, tableoid::regclass::text",
                           [boundary + timedelta(days=1)]).fetchone()
        assert new[0] > conn.execute("SELECT max(id) FROM bars_legacy").fetchone()[0] and new[1] > ids_before[1]
        assert new[2] == (f"bars_p{boundary + timedelta(days=1):%Y%m%d}" if by == "day" else "bars_p202612")
        conn.rollback()
        # The names, grants and constraints are the table's own again; the CHECK is gone.
        indexes = {r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'bars'::regclass")}
        assert indexes == {"bars_pkey", "bars_ts_idx", "bars_lower_symbol"}
        assert conn.execute("SELECT relacl::text LIKE '%%=r/%%' FROM pg_class WHERE oid = 'bars'::regclass").fetchone()[0]
        assert {r[0] for r in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'bars_legacy'::regclass AND contype = 'c'")} == {"bars_close_check"}
        assert conn.execute("SELECT by FROM hotcold.partitioned_by WHERE schema_name = 'public' AND table_name = 'bars'").fetchone()[0] == by
        assert conn.execute("SELECT pg_get_serial_sequence('bars', 'n')").fetchone()[0] == "public.bars_n_seq"
    TALLY["partition conversions under a writer"] += 1
    TALLY["partition conversions under a writer: writes, none refused"] += writer.writes()


@pytest.mark.parametrize("ts_type", ["date", "timestamp", "timestamptz"])
def test_each_time_type_is_attached_without_a_scan(tmp_path, pg_dsn, ts_type):
    config = bars_config(tmp_path, pg_dsn, premake_days=0)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, ts_type)
    report = convert(config, "bars", "day", as_of=AS_OF)
    assert report.scan_skipped is True and report.partitions == ["bars_p20261127"]  # at least the first, with premake_days 0
    with psycopg.connect(pg_dsn) as conn:
        assert rows_of(conn, "bars") == rows_of(conn, "truth")
        bound = partitions_of(conn)["bars_legacy"]
        assert bound.startswith("FOR VALUES FROM (MINVALUE) TO ('2026-11-27")


def test_the_boundary_is_after_the_newest_row_and_a_dry_run_changes_nothing(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn, premake_days=3)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, last=date(2026, 12, 10))  # rows already written for days ahead
    plan = convert(config, "bars", "day", as_of=AS_OF, dry_run=True)
    assert plan.mode == "dry-run" and plan.boundary == date(2026, 12, 11) and plan.partitions == ["bars_p20261211"]
    assert plan.newest.startswith("2026-12-10") and plan.lock_seconds is None
    assert any("VALIDATE" in a for a in plan.actions) and any("ATTACH bars_legacy" in a for a in plan.actions)
    cancelled = convert(config, "bars", "month", as_of=AS_OF, confirm=lambda p: False)
    assert cancelled.mode == "cancelled" and cancelled.boundary == date(2027, 1, 1)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'bars'::regclass").fetchone()[0] == "r"
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'bars\\_%%' AND relkind IN ('r', 'p')").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'hotcold%%'").fetchone()[0] == 0


# --- refusals ---------------------------------------------------------------------------------

REFUSALS = {
    "missing": ("", "not found in the hot store"),
    "partitioned": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz, PRIMARY KEY (symbol, interval, ts)) PARTITION BY RANGE (ts);"
                    " CREATE TABLE bars_d PARTITION OF bars DEFAULT", "already partitioned"),
    "null times": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz); INSERT INTO bars VALUES ('A', '1day', now()), ('A', '1day', NULL)",
                   "holds 1 rows whose ts is NULL"),
    "referenced": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz, PRIMARY KEY (symbol, interval, ts));"
                   " CREATE TABLE notes (symbol text, interval text, ts timestamptz, FOREIGN KEY (symbol, interval, ts) REFERENCES bars)",
                   "foreign keys reference public.bars: notes"),
    "key without time": ("CREATE TABLE bars (id bigserial PRIMARY KEY, symbol text, interval text, ts timestamptz)",
                         "primary key bars_pkey of public.bars does not include its time column ts"),
    "unique without time": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz); CREATE UNIQUE INDEX bars_u ON bars (symbol, interval)",
                            "unique index bars_u"),
    "text time": ("CREATE TABLE bars (symbol text, interval text, ts text)", "public.bars.ts is text"),
    "bigint time": ("CREATE TABLE bars (symbol text, interval text, ts bigint)", "public.bars.ts is bigint"),
    "view": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz); CREATE VIEW recent AS SELECT * FROM bars", "views or rules read public.bars (recent)"),
    "trigger": ("CREATE TABLE bars (symbol text, interval text, ts timestamptz); CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
                " CREATE TRIGGER t BEFORE INSERT ON bars FOR EACH ROW EXECUTE FUNCTION f()", "has triggers (t)"),
}


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`hotcold <args>` in this process, as its entry point runs it: exit code, stdout, stderr."""
    from hotcold.cli.app import main

    monkeypatch.setattr(sys, "argv", ["hotcold", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_each_table_it_cannot_convert_is_refused_in_one_line_before_anything_changes(tmp_path, pg_dsn, monkeypatch, capsys):
    config = bars_config(tmp_path, pg_dsn)
    for case, (setup, fragment) in REFUSALS.items():
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            if setup:
                conn.execute(setup)
            before = conn.execute("SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1").fetchall()
        with pytest.raises(HotColdError) as caught:
            convert(config, "bars", "day", as_of=AS_OF)
        assert fragment in caught.value.problem and caught.value.fix, (case, caught.value.problem)
        code, out, err = run_cli(monkeypatch, capsys, "partition", "bars", "--by", "day", "--yes", "--config", str(config.path))
        errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
        assert code == 1 and len(errors) == 1 and fragment in errors[0] and "fix:" in err and out == "", (case, err)
        code, out, err = run_cli(monkeypatch, capsys, "partition", "bars", "--by", "day", "--yes", "--json", "--config", str(config.path))
        error = json.loads(out)["error"]
        assert code == 1 and error["type"] == "HotColdError" and fragment in error["problem"] and error["fix"], case
        with psycopg.connect(pg_dsn) as conn:
            after = conn.execute("SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1").fetchall()
        assert after == before, case
        TALLY["partition refusals checked"] += 1


def test_a_duckdb_hot_store_and_a_wrong_by_are_refused(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path, "duckdb")
    code, out, err = run_cli(monkeypatch, capsys, "partition", "market_data", "--by", "day", "--yes", "--config", str(path))
    assert code == 1 and "converts PostgreSQL tables" in err and "DuckDB tables have no partitions" in err
    code, out, err = run_cli(monkeypatch, capsys, "partition", "market_data", "--by", "week", "--yes", "--json", "--config", str(path))
    assert code == 1 and json.loads(out)["error"]["problem"].startswith("hotcold partition converts PostgreSQL tables")


def test_without_a_terminal_it_asks_for_yes(tmp_path, pg_dsn):
    """As a user runs it: a process of its own, no terminal, the environment without HOTCOLD_*."""
    config = bars_config(tmp_path, pg_dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn)
    proc = subprocess.run([sys.executable, "-m", "hotcold.cli", "partition", "bars", "--by", "day", "--config", str(config.path)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no terminal to ask on" in proc.stderr and "--yes" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "hotcold.cli", "partition", "bars", "--by", "month", "--as-of", "2026-11-25", "--yes", "--config", str(config.path)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "swap held the ACCESS EXCLUSIVE lock" in proc.stdout and "bars_p202612" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "hotcold.cli", "partition", "bars", "--by", "month", "--yes", "--config", str(config.path)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, env=env)
    assert proc.returncode == 1 and "is already partitioned (by hotcold partition --by month)" in proc.stderr


# --- a session in the way ---------------------------------------------------------------------

@pytest.mark.slow
def test_an_idle_transaction_on_the_table_stops_the_conversion_naming_its_pid(tmp_path, pg_dsn):
    """The CHECK needs a moment's ACCESS EXCLUSIVE lock: a session idle in a transaction that
    read the table holds it off. After four tries it stops, naming that session, and leaves the
    table as it was."""
    config = bars_config(tmp_path, pg_dsn, lock_timeout_s=0.2)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn)
    idle = psycopg.connect(pg_dsn)
    try:
        idle.execute("SELECT count(*) FROM bars").fetchone()
        pid = idle.execute("SELECT pg_backend_pid()").fetchone()[0]
        t0 = time.monotonic()
        with pytest.raises(LockWaitTimeout) as caught:
            convert(config, "bars", "day", as_of=AS_OF)
        took = time.monotonic() - t0
    finally:
        idle.close()
    error = caught.value
    assert f"pid {pid} (idle in transaction" in error.problem and "in 4 tries of 0.2 s" in error.problem
    assert error.problem.endswith("the table is as it was") and "pg_terminate_backend" in error.fix and "\n" not in error.problem
    assert took < 15
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'bars'::regclass").fetchone()[0] == "r"
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'bars\\_%%' AND relkind IN ('r', 'p')").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'hotcold%%'").fetchone()[0] == 0
    # With the session gone, it converts.
    assert convert(config, "bars", "day", as_of=AS_OF).mode == "live"


@pytest.mark.slow
def test_a_session_that_turns_up_before_the_swap_stops_it_and_a_second_run_finishes(tmp_path, pg_dsn):
    """The CHECK is in place and validated when a session starts idling on the table: the swap
    gives way four times, then stops naming it; the CHECK cannot be taken off either (the same
    session holds the table), and the message says so and what to do. Run again once the
    session is gone, the conversion goes on from the validated CHECK."""
    config = bars_config(tmp_path, pg_dsn, lock_timeout_s=0.2)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn)
    idle = psycopg.connect(pg_dsn)
    pids = []

    def start_idling():
        idle.execute("SELECT count(*) FROM bars").fetchone()
        pids.append(idle.execute("SELECT pg_backend_pid()").fetchone()[0])

    faults.on("partition.before_swap", start_idling)
    try:
        with pytest.raises(LockWaitTimeout) as caught:
            convert(config, "bars", "day", as_of=AS_OF)
    finally:
        faults.on("partition.before_swap", None)
        idle.close()
    problem = caught.value.problem
    assert "the swap of bars for its partitioned table could not lock \"public\".\"bars\" in 4 tries" in problem and f"pid {pids[0]}" in problem
    assert "still carries CHECK hotcold_before_20261127, which refuses rows at 2026-11-27 or later" in problem
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'bars'::regclass").fetchone()[0] == "r"
        assert conn.execute("SELECT to_regclass('bars_hotcold_new') IS NULL AND to_regclass('bars_default') IS NULL").fetchone()[0]
    again = convert(config, "bars", "day", as_of=AS_OF)
    assert again.mode == "live" and again.validate_seconds is None, "the validated CHECK was validated again"
    with psycopg.connect(pg_dsn) as conn:
        assert rows_of(conn, "bars") == rows_of(conn, "truth")
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'hotcold%%'").fetchone()[0] == 0


# --- partitions ahead, and late rows ----------------------------------------------------------

@pytest.mark.slow
def test_rotations_make_partitions_ahead_and_a_late_row_lands_in_default_and_is_archived(tmp_path, pg_dsn):
    config = bars_config(tmp_path, pg_dsn, premake_days=2, hot_days=5, lock_timeout_s=1)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_bars(conn, first=AS_OF - timedelta(days=20))
    report = convert(config, "bars", "day", as_of=AS_OF)
    assert report.partitions == ["bars_p20261127"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # A row written ahead of every partition: it lands in the default partition, and the
        # partition for its day can no longer be attached (the rotation says so and goes on).
        for table in ("bars", "truth"):
            conn.execute(f"INSERT INTO {table} (symbol, interval, ts, close) VALUES ('AAA', '1day', '2026-12-04', 7)")
        assert conn.execute("SELECT tableoid::regclass::text FROM bars WHERE ts = '2026-12-04'").fetchone()[0] == "bars_default"

    # Night 1 (as of 12-02): a session idles on the default partition, so no partition can be
    # attached (ATTACH must lock the default partition to check its rows): each is skipped.
    idle = psycopg.connect(pg_dsn)
    try:
        idle.execute("SELECT count(*) FROM bars_default").fetchone()
        first = rotate(config, as_of=date(2026, 12, 2))
    finally:
        idle.close()
    premake = first.tables["bars"].steps["premake"]
    assert premake.rows == 0
    assert "public.bars_p20261202: not made, the lock on bars or its default partition was not had within 1000 ms" in premake.detail
    assert "bars_p20261204: not made, the default partition public.bars_default already holds rows from 2026-12-04 to 2026-12-05" in premake.detail
    assert first.tables["bars"].archived_rows > 0
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert "bars_p20261202" not in partitions_of(conn)
        # Every row of the old table has aged out (the boundary 11-27 is the cutoff): once its
        # partition is gone, a late row for those days has no partition but the default.
        assert conn.execute("SELECT count(*) FROM bars WHERE ts < '2026-11-27'").fetchone()[0] == 0
        conn.execute("DROP TABLE IF EXISTS bars_legacy")
        for table in ("bars", "truth"):
            conn.execute(f"INSERT INTO {table} (symbol, interval, ts, close) VALUES ('LATE', '1day', '2026-11-15 09:30', 42)")
        assert conn.execute("SELECT tableoid::regclass::text FROM bars WHERE symbol = 'LATE'").fetchone()[0] == "bars_default"

    # Night 2 (as of 12-03): partitions up to 12-05, but not 12-04's; the late row is archived.
    second = rotate(config, as_of=date(2026, 12, 3))
    premake = second.tables["bars"].steps["premake"]
    assert premake.rows == 2 and "made 2 partitions ahead: public.bars_p20261203, public.bars_p20261205" in premake.detail
    assert "bars_p20261204: not made, the default partition" in premake.detail
    with psycopg.connect(pg_dsn) as conn:
        parts = partitions_of(conn)
        assert {"bars_p20261203", "bars_p20261205", "bars_default"} <= set(parts) and "bars_p20261204" not in parts
        assert parts["bars_p20261203"] == "FOR VALUES FROM ('2026-12-03 00:00:00+00') TO ('2026-12-04 00:00:00+00')"
        assert conn.execute("SELECT count(*) FROM bars WHERE symbol = 'LATE'").fetchone()[0] == 0
        truth = [r[:3] + (r[3],) for r in rows_of(conn, "truth")]
    hot, lake = union_rows(config, "bars", "symbol, interval, ts, close")
    assert ("LATE", "1day", datetime(2026, 11, 15, 9, 30, tzinfo=timezone.utc)) in {r[:3] for r in lake}
    assert sorted(hot + lake) == truth and not {r[:3] for r in hot} & {r[:3] for r in lake}
    assert hotcold.verify(config, deep=True).ok
    # A third night with nothing to make logs no premake step.
    third = rotate(config, as_of=date(2026, 12, 3))
    assert "premake" not in third.tables["bars"].steps
    TALLY["partitions ahead: rotations checked"] += 3
