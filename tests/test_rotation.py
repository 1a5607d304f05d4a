"""Rotation end to end, on PostgreSQL and on the embedded DuckDB hot store: real dbt, real
DuckDB, real Parquet. The invariant everywhere: hot rows ∪ lake rows = the rows before,
each key exactly once."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import duckdb
import psycopg
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

import hotcold
from hotcold.ops.demo import fill_demo_data
from hotcold.ops.rotation import rotate
from support import hot_conn, hot_rel, lake_files, snapshot, union_rows, write_config

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"
MD_KEY = "symbol, interval, ts"


@pytest.fixture(params=["postgres", "duckdb"])
def project(request, tmp_path):
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    config = hotcold.load_config(write_config(tmp_path, request.param, dsn))
    fill_demo_data(config, symbols=6, years=1, as_of=AS_OF)
    return config


def assert_conserved(config, before, table="market_data", cols=MD_COLS):
    hot, lake = union_rows(config, table, cols)
    assert sorted(hot + lake, key=repr) == sorted(before, key=repr), "hot ∪ lake differs from the rows before"
    keys = [r[:3] for r in hot + lake]
    assert len(keys) == len(set(keys)), "a key appears twice across hot and lake"
    return hot, lake


def test_rotation_conserves_rows_and_is_idempotent(project):
    before = snapshot(project, "market_data", MD_COLS)
    report = rotate(project, as_of=AS_OF)
    hot, lake = assert_conserved(project, before)
    cutoff = report.cutoff
    assert report.tables["market_data"].archived_rows == len(lake) > 0
    assert all(r[1] == "1day" and r[2] >= cutoff for r in hot), "hot keeps only the window of hot intervals"
    assert all(r[2] < cutoff or r[1] != "1day" for r in lake)

    # The same rotation again moves nothing and duplicates nothing.
    again = rotate(project, as_of=AS_OF)
    assert again.tables["market_data"].archived_rows == 0
    assert_conserved(project, before)

    # Three days later: the next days age out and are merged into the lake.
    later = rotate(project, as_of=AS_OF + timedelta(days=3))
    assert later.tables["market_data"].archived_rows > 0
    assert_conserved(project, before)


@pytest.mark.slow
def test_late_row_for_an_archived_day_is_merged_once(project):
    rotate(project, as_of=AS_OF)
    conn = hot_conn(project)
    rel = hot_rel(project, "market_data")
    archived_day = conn.execute(f"select min(ts) from read_parquet('{project.lake_root}/market_data/*/*/*/*.parquet')").fetchone()[0]
    conn.execute(f"insert into {rel} ({MD_COLS}) values ('LATE', '1day', ?, 1, 2, 0.5, 1.5, 10, 1.25)", [archived_day])
    conn.close()
    hot, lake = union_rows(project, "market_data", MD_COLS)
    before = hot + lake
    rotate(project, as_of=AS_OF)
    hot, lake = assert_conserved(project, before)
    assert [r for r in lake if r[0] == "LATE"] and not [r for r in hot if r[0] == "LATE"]
    day_files = [f for f in lake_files(project) if f"{archived_day:%Y%m%d}" in f and f.startswith("market_data/")]
    assert len(day_files) == 1, "a late row is merged into the day's one file"


def test_dry_run_changes_nothing(project):
    before = snapshot(project, "market_data", MD_COLS)
    files_before = lake_files(project)
    report = rotate(project, as_of=AS_OF, dry_run=True)
    assert report.dry_run and report.tables["market_data"].rows > 0 and report.tables["market_data"].days > 0
    assert snapshot(project, "market_data", MD_COLS) == before
    assert lake_files(project) == files_before
    real = rotate(project, as_of=AS_OF)
    assert real.tables["market_data"].archived_rows == report.tables["market_data"].rows


LAYOUT = re.compile(r"^(?P<t>[a-z_]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/(?P=t)_(?P=y)(?P=m)(?P=d)\.parquet$")


@pytest.mark.slow
def test_full_rotation_layout_reads_back_with_pyarrow_and_duckdb(project):
    befores = {t: snapshot(project, t, "*") for t in project.tables}
    report = rotate(project, as_of=AS_OF, full=True)
    files = lake_files(project)
    assert files and all(LAYOUT.match(f) for f in files), [f for f in files if not LAYOUT.match(f)][:3]
    for table in project.tables:
        archived = report.tables[table].archived_rows
        assert archived > 0
        dataset = ds.dataset(str(project.lake_root / table), format="parquet", partitioning="hive")
        assert dataset.count_rows() == archived
        assert {"year", "month", "day"} <= set(dataset.schema.names)
        hot, lake = union_rows(project, table, "*")
        assert len(hot) + len(lake) == len(befores[table])


@pytest.mark.slow
def test_rotation_log_has_a_line_per_step_per_table(project):
    report = rotate(project, as_of=AS_OF)
    lines = project.log_file.read_text().splitlines()
    mine = [ln for ln in lines if f"run={report.run_id}" in ln]
    steps = [re.search(r"step=(\w+)", ln).group(1) for ln in mine]
    # PostgreSQL's first run also builds the index on the rows of non-hot intervals.
    built = ["index"] if project.hot.kind == "postgres" else []
    assert steps == ["stage", "export", "verify", "publish", "delete", "vacuum", *built, "run"]
    assert all("seconds=" in ln for ln in mine) and "outcome=ok" in mine[-1]


@pytest.mark.slow
def test_status_reports_hot_and_lake(project):
    report = rotate(project, as_of=AS_OF)
    st = hotcold.archival_status(project, as_of=AS_OF)
    md = st.tables["market_data"]
    hot, lake = union_rows(project, "market_data", MD_COLS)
    assert md.hot.rows == len(hot) and md.hot.aging_rows == 0
    assert md.lake.rows == len(lake) and md.lake.files == md.lake.days > 0
    assert md.last_run.run_id == report.run_id and md.last_run.outcome == "ok"
    assert st.tables["news"].lake.rows == 0 and st.tables["news"].hot.aging_rows > 0


def test_lifecycle_manager_is_awaitable(project):
    import asyncio

    manager = hotcold.DataLifecycleManager(project)
    status = asyncio.run(manager.get_archival_status(as_of=AS_OF))
    assert set(status.tables) == set(project.tables)


@pytest.mark.slow
def test_disabled_rotation_refuses_and_force_runs(tmp_path, pg_dsn):
    config = hotcold.load_config(write_config(tmp_path, "postgres", pg_dsn, auto_rotation={"enabled": False, "schedule": "0 2 * * *"}))
    fill_demo_data(config, symbols=2, years=1, as_of=AS_OF)
    before = snapshot(config, "market_data", MD_COLS)
    with pytest.raises(hotcold.HotColdError, match="rotation is disabled"):
        rotate(config, as_of=AS_OF)
    assert snapshot(config, "market_data", MD_COLS) == before and lake_files(config) == []
    assert rotate(config, as_of=AS_OF, force=True).tables["market_data"].archived_rows > 0


@pytest.mark.slow
@pytest.mark.parametrize("codec", [None, "zstd"])
def test_lake_compression_is_the_configured_codec(project, codec):
    if codec:
        cfg = yaml.safe_load(project.path.read_text())
        cfg["storage"]["lake"]["compression"] = codec
        project.path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(project.path)
    rotate(config, as_of=AS_OF)
    files = lake_files(config)
    assert files
    codecs = {pq.ParquetFile(config.lake_root / f).metadata.row_group(0).column(0).compression for f in files}
    assert codecs == {(codec or "snappy").upper()}


def test_an_unknown_compression_is_refused_at_load(project):
    cfg = yaml.safe_load(project.path.read_text())
    cfg["storage"]["lake"]["compression"] = "brotli9"
    project.path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(hotcold.HotColdError, match="storage.lake.compression"):
        hotcold.load_config(project.path)


def stage_writes(config, run_id):
    with duckdb.connect(str(config.state_path), read_only=True) as con:
        return con.execute("select table_name, mode, linked_days from _hotcold.stage_writes where run_id = ? order by 1", [run_id]).fetchall()


@pytest.mark.slow
def test_postgres_rows_stream_into_day_files_and_new_days_are_linked_not_copied(pg_project):
    config = pg_project
    before = snapshot(config, "market_data", MD_COLS)
    first = rotate(config, as_of=AS_OF)
    days = first.tables["market_data"].lake_days
    # Every day was new to the lake: each staged day file became its export as it was.
    assert stage_writes(config, first.run_id) == [("market_data", "days", days)]
    assert_conserved(config, before)
    # A later day of 1day bars merges with the day file that already holds its 1min bars:
    # nothing is linked, the merge is written and verified.
    later = rotate(config, as_of=AS_OF + timedelta(days=1))
    assert later.tables["market_data"].archived_rows > 0
    assert stage_writes(config, later.run_id) == [("market_data", "days", 0)]
    hot, lake = assert_conserved(config, before)
    assert hotcold.verify(config, deep=True).ok
    # The lake's files are whole files of their own, not the stage's (which is gone).
    assert not any((config.lake_root.parent / "_hotcold" / "stage").iterdir())
    assert all(p.stat().st_nlink == 1 for p in (config.lake_root / "market_data").rglob("*.parquet"))


@pytest.mark.slow
def test_a_column_of_a_type_without_a_lake_twin_streams_as_exact_text(pg_project):
    # uuid (like interval, arrays, ranges...) reaches the lake as PostgreSQL's own text of the
    # value, which every reader can read and `::uuid` turns back into the same value.
    config = pg_project
    with psycopg.connect(config.hot.dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE news ADD COLUMN ref uuid")
        conn.execute("UPDATE news SET ref = md5(id::text)::uuid")
        before = sorted((i, str(r)) for i, r in conn.execute("SELECT id, ref FROM news").fetchall())
    report = rotate(config, as_of=AS_OF, tables=["news"])
    assert stage_writes(config, report.run_id) == [("news", "days", report.tables["news"].lake_days)]
    hot = [(i, str(r)) for i, r in snapshot(config, "news", "id, ref")]
    with duckdb.connect() as con:
        types = dict(con.execute(f"select column_name, column_type from (describe select * from read_parquet('{config.lake_root}/news/*/*/*/*.parquet'))").fetchall())
        lake = con.execute(f"select id, ref from read_parquet('{config.lake_root}/news/*/*/*/*.parquet')").fetchall()
    assert types["ref"] == "VARCHAR"
    assert sorted(hot + lake) == before and report.tables["news"].archived_rows == len(lake) > 0


@pytest.mark.slow
def test_a_column_named_filename_rotates_verifies_and_reads_back(project):
    # DuckDB's read_parquet(filename = true) adds a column "filename", which a user's table
    # may have: hotcold names the file column its own way everywhere it reads the lake.
    config = project
    with hot_conn(config) as conn:
        conn.execute(f"ALTER TABLE {hot_rel(config, 'news')} ADD COLUMN filename VARCHAR")
        conn.execute(f"UPDATE {hot_rel(config, 'news')} SET filename = 'report_' || id || '.pdf'")
    before = snapshot(config, "news", "id, filename")
    rotate(config, as_of=AS_OF, tables=["news"])
    rotate(config, as_of=AS_OF + timedelta(days=3), tables=["news"])  # merges with lake days
    hot, lake = union_rows(config, "news", "id, filename")
    assert sorted(hot + lake) == sorted(before) and lake
    assert hotcold.verify(config, deep=True).ok
    with hotcold.ColdStorageQueryEngine(config) as engine:
        got = engine.query("news", end=AS_OF, columns=["id", "filename"])
    assert sorted(tuple(r.values()) for r in got.to_pylist()) == sorted(lake)


def _aging_plan(conn, hot_intervals) -> str:
    """PostgreSQL's plan for the aging rows of market_data when it may not read the whole
    table (a Seq Scan in it means no index can find them)."""
    conn.execute("SET enable_seqscan = off")
    cold = ", ".join(f"'{i}'" for i in hot_intervals)
    return json.dumps(conn.execute(f"""EXPLAIN (FORMAT JSON) SELECT * FROM market_data
        WHERE (ts < now() - interval '30 days' OR ("interval" IS NULL OR "interval" NOT IN ({cold})))""").fetchone()[0])


@pytest.mark.slow
def test_postgres_finds_rows_of_non_hot_intervals_through_an_index_that_follows_hot_intervals(pg_project):
    config = pg_project
    report = rotate(config, as_of=AS_OF)
    assert "created index hotcold_aging_" in report.tables["market_data"].steps["index"].detail
    aging = "SELECT indexname FROM pg_indexes WHERE tablename = 'market_data' AND indexname LIKE 'hotcold_aging_%'"
    with psycopg.connect(config.hot.dsn, autocommit=True) as conn:
        first = [r[0] for r in conn.execute(aging).fetchall()]
        assert len(first) == 1 and "Seq Scan" not in _aging_plan(conn, ["1day"])
    # Another set of hot intervals: another predicate, so the index is replaced.
    path = config.path
    cfg = yaml.safe_load(path.read_text())
    cfg["storage"]["lifecycle"]["hot_intervals"] = ["1day", "1h"]
    path.write_text(yaml.safe_dump(cfg))
    report = rotate(hotcold.load_config(path), as_of=AS_OF + timedelta(days=1))
    assert f"dropped index {first[0]}" in report.tables["market_data"].steps["index"].detail
    with psycopg.connect(config.hot.dsn, autocommit=True) as conn:
        second = [r[0] for r in conn.execute(aging).fetchall()]
        assert len(second) == 1 and second != first and "Seq Scan" not in _aging_plan(conn, ["1day", "1h"])
