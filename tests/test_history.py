"""The history index against real PostgreSQL, dbt, DuckDB and Parquet: it answers exactly what
the day files answer, only while it matches them, and catches up by re-reading changed days."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest
import yaml

import hotcold
from hotcold import ColdStorageQueryEngine
from hotcold.errors import HotColdError
from hotcold.ops.rotation import rotate
from hotcold.query import history
from hotcold.store import lake
from support import DEMO_AS_OF, write_config

UTC = timezone.utc
SYMBOLS = ["SYM0000", "SYM0001", "SYM0002"]
START, END = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)


def on_files(config):
    return ColdStorageQueryEngine(dataclasses.replace(config, history_index=False), cache_mb=0)


def assert_same_answers(config, engine, tables=("market_data", "features")):
    files = on_files(config)
    for symbols in (["SYM0001"], SYMBOLS[:2], ["NOPE"]):
        for table in tables:
            got = engine.query(table, START, END, symbols=symbols)
            assert got.equals(files.query(table, START, END, symbols=symbols)), (table, symbols)
        bars = dict(every="1mo", start=START, end=END, symbols=symbols, where={"interval": "1day"})
        assert engine.aggregate("market_data", **bars).equals(files.aggregate("market_data", **bars))


def uses_index(engine, table="market_data"):
    return engine.explain(table, START, END, symbols=["SYM0001"])["history_index"]


def index_days(config, table):
    with duckdb.connect(str(history.index_path(config.lake_root)), read_only=True) as con:
        return con.execute(f'select _day, count(*) from "{table}" group by 1 order by 1').fetchall()


def lake_days(config, table):
    with duckdb.connect() as con:
        return con.execute(
            "select strptime(regexp_extract(filename, '_([0-9]{8})[.]parquet$', 1), '%Y%m%d')::date, count(*) "
            "from read_parquet(?, filename = true, hive_partitioning = false) group by 1 order by 1",
            [str(config.lake_root / table / "*" / "*" / "*" / "*.parquet")]).fetchall()


@pytest.fixture
def rotated(pg_project):
    rotate(pg_project, as_of=DEMO_AS_OF, full=True)
    return pg_project


@pytest.mark.slow
def test_rotation_builds_the_index_and_symbol_queries_read_it(rotated):
    config = rotated
    engine = ColdStorageQueryEngine(config, cache_mb=0)
    assert uses_index(engine) and uses_index(engine, "features")
    assert_same_answers(config, engine)
    for table in ("market_data", "news", "features", "social_sentiment"):
        assert index_days(config, table) == lake_days(config, table) != []
    # Queries without symbols read the day files, as before.
    assert not engine.explain("market_data", START, END)["history_index"]


@pytest.mark.slow
def test_the_next_rotation_adds_exactly_its_new_days(rotated):
    config = rotated
    before = index_days(config, "market_data")
    rotate(config, as_of=DEMO_AS_OF + timedelta(days=3))
    after = index_days(config, "market_data")
    # The new days' daily bars join the 1min bars the lake already held for them.
    assert after == lake_days(config, "market_data") and sum(n for _, n in after) > sum(n for _, n in before)
    assert history.refresh(config, ["market_data"])[0].days_read == 0  # already current
    assert_same_answers(config, ColdStorageQueryEngine(config, cache_mb=0))


@pytest.mark.slow
def test_a_changed_day_file_sends_queries_to_the_files_until_refreshed(rotated):
    config = rotated
    engine = ColdStorageQueryEngine(config, cache_mb=0)
    day = date(2026, 3, 2)
    path = lake.day_file(config.lake_root, "market_data", day)
    tmp = path.with_name("rewrite.tmp")
    with duckdb.connect() as con:
        con.execute(f"copy (select * replace (close + 1000 as close) from read_parquet('{path}', hive_partitioning = false)) to '{tmp}' (format parquet)")
    lake.store_for(config.lake_root).replace(tmp, path)

    assert not uses_index(engine)
    rows = engine.query("market_data", day, day + timedelta(days=1), symbols=["SYM0001"], where={"interval": "1day"})
    assert rows.column("close")[0].as_py() > 1000  # the file's new value, not the index's old one
    done = history.refresh(config, ["market_data"])[0]
    assert (done.days_read, done.days_dropped, done.current, done.skipped) == (1, 0, True, None)
    assert uses_index(engine)
    assert engine.query("market_data", day, day + timedelta(days=1), symbols=["SYM0001"], where={"interval": "1day"}).equals(rows)
    assert_same_answers(config, engine)


@pytest.mark.slow
def test_a_removed_day_file_leaves_the_index_too(rotated):
    config = rotated
    day = date(2026, 3, 2)
    lake.store_for(config.lake_root).remove(lake.day_file(config.lake_root, "market_data", day))
    done = history.refresh(config, ["market_data"])[0]
    assert (done.days_read, done.days_dropped) == (0, 1)
    assert index_days(config, "market_data") == lake_days(config, "market_data")
    assert day not in dict(index_days(config, "market_data"))


@pytest.mark.slow
def test_a_publish_that_died_half_way_keeps_queries_on_the_files(pg_project, monkeypatch):
    config = pg_project
    rotate(config, as_of=DEMO_AS_OF - timedelta(days=60))
    monkeypatch.setenv("HOTCOLD_FAIL_AT", "publish.between_days")
    with pytest.raises(HotColdError):
        rotate(config, as_of=DEMO_AS_OF)
    monkeypatch.delenv("HOTCOLD_FAIL_AT")
    assert lake.generation(config.lake_root, "market_data").startswith(lake.CHANGING)
    engine = ColdStorageQueryEngine(config, cache_mb=0)
    assert not uses_index(engine)
    assert_same_answers(config, engine, ["market_data"])
    assert "being changed" in history.refresh(config, ["market_data"])[0].skipped
    rotate(config, as_of=DEMO_AS_OF)  # the next run finishes the job, and the index catches up
    assert uses_index(engine)
    assert index_days(config, "market_data") == lake_days(config, "market_data")
    assert_same_answers(config, engine, ["market_data"])


@pytest.mark.slow
def test_a_busy_index_is_skipped_never_waited_on(rotated):
    config = rotated
    path = history.index_path(config.lake_root)
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        engine = ColdStorageQueryEngine(config, cache_mb=0)
        assert not uses_index(engine)
        assert_same_answers(config, engine)
        assert "in use" in history.refresh(config, ["market_data"])[0].skipped
        cli = subprocess.run([sys.executable, "-m", "hotcold", "index", "-c", str(config.path)], capture_output=True, text=True)
        assert cli.returncode == 1 and "Traceback" not in cli.stderr
        assert cli.stderr.strip().splitlines()[0].startswith("Error: history index in use")
    finally:
        holder.kill()
        holder.wait()
    assert history.refresh(config, ["market_data"])[0].current
    assert uses_index(ColdStorageQueryEngine(config, cache_mb=0))


@pytest.mark.slow
def test_appended_days_are_sorted_in_once_they_pass_the_threshold(rotated, monkeypatch):
    config = rotated
    monkeypatch.setattr(history, "RESORT_MIN_ROWS", 0)
    monkeypatch.setattr(history, "RESORT_SHARE", 0.0)
    rotate(config, as_of=DEMO_AS_OF + timedelta(days=2))
    done = history.refresh(config, ["market_data"], rebuild=False)[0]
    assert done.days_read == 0  # the rotation's own refresh read the new days and re-sorted
    with duckdb.connect(str(history.index_path(config.lake_root)), read_only=True) as con:
        symbols = [r[0] for r in con.execute('select symbol from market_data').fetchall()]
    assert symbols == sorted(symbols)
    assert_same_answers(config, ColdStorageQueryEngine(config, cache_mb=0))


@pytest.mark.slow
def test_cli_index_reports_and_rebuilds(rotated):
    config = rotated
    cli = subprocess.run([sys.executable, "-m", "hotcold", "index", "-c", str(config.path), "--rebuild", "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    got = {t["table"]: t for t in out["tables"]}
    assert got["market_data"]["days_read"] == len(lake_days(config, "market_data")) and got["market_data"]["current"]
    assert got["market_data"]["rows"] == sum(n for _, n in lake_days(config, "market_data"))


@pytest.mark.slow
def test_cli_query_says_which_copy_of_the_lake_answered(rotated):
    def query(*args):
        cli = subprocess.run([sys.executable, "-m", "hotcold", "query", "market_data", "-c", str(rotated.path), "--tier", "cold",
                              "--start", START.date().isoformat(), "--end", END.date().isoformat(), "-f", "csv", *args], capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        return cli.stderr, cli.stdout

    by_symbol, rows = query("--symbol", "SYM0001")
    assert "(the history index)" in by_symbol and rows.count("SYM0001") > 100
    every, _ = query()
    assert "lake day files)" in every and "history index" not in every


@pytest.mark.slow
def test_the_index_is_as_private_as_the_lake(rotated):
    path = history.index_path(rotated.lake_root)
    assert path.stat().st_mode & 0o777 == rotated.lake_file_mode


@pytest.mark.slow
def test_with_the_index_off_there_is_none(pg_dsn, tmp_path):
    from hotcold.ops.demo import fill_demo_data

    cfg_path = write_config(tmp_path, "postgres", pg_dsn)
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["storage"]["lake"]["history_index"] = False
    cfg_path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(cfg_path)
    fill_demo_data(config, symbols=2, years=1, as_of=DEMO_AS_OF)
    rotate(config, as_of=DEMO_AS_OF)
    assert not history.index_path(config.lake_root).exists()
    assert not uses_index(ColdStorageQueryEngine(config, cache_mb=0))
    cli = subprocess.run([sys.executable, "-m", "hotcold", "index", "-c", str(cfg_path)], capture_output=True, text=True)
    assert cli.returncode == 1 and cli.stderr.strip() .splitlines()[0].startswith("Error: the history index is off")
    cfg["storage"]["lake"]["history_index"] = "yes"
    cfg_path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(HotColdError, match="storage.lake.history_index"):
        hotcold.load_config(cfg_path)
