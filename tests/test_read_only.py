"""`status`, `rotate --dry-run` and `cleanup --analyze-only` read the hot store without dbt.

They decide what ages out with hotcold.store.hot_stats.aging_predicate, while the rotation decides
with its dbt macro (window.sql: ages_out); these tests hold the two to the same rows on the
times that make the rule hard (no zone in a far database zone, dates, NULL, infinity, BC,
intervals that are not hot), and check the read-only promises: no dbt, no rotation lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import psycopg
import pytest
import yaml

import hotcold
from hotcold.ops.cleanup import analyze
from hotcold.ops.rotation import rotate
from hotcold.store.lock import rotation_lock
from support import demo_project, write_config

AS_OF = date(2026, 11, 25)


def events_config(tmp_path, dsn):
    path = write_config(tmp_path, "postgres", dsn)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["events"] = {"time_column": "ts", "key": ["id"], "interval_column": "iv"}
    cfg["storage"]["rotation"]["tables"] = ["events"]
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


@pytest.mark.parametrize("time_type", ["timestamptz", "timestamp", "date"])
def test_what_status_and_the_dry_run_count_is_what_the_rotation_moves(tmp_path, pg_dsn, time_type):
    config = events_config(tmp_path, pg_dsn)
    dbname = psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # A zone far from UTC: `timestamp` and `date` are UTC wall time to hotcold, not Tokyo's.
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET TimeZone = 'Asia/Tokyo'")
        conn.execute(f"CREATE TABLE events (id int PRIMARY KEY, ts {time_type}, iv text, v int)")
        # The cutoff is 2026-10-26 00:00 UTC. '1day' is the hot interval: rows of any other
        # interval (and of none) age out whatever their time, if their time fits a lake day.
        conn.execute("INSERT INTO events VALUES (1, '2026-10-25 23:30', '1day', 1), (2, '2026-10-26 00:30', '1day', 2),"
                     " (3, '2026-11-20', '1min', 3), (4, '2026-11-21', NULL, 4), (5, NULL, '1min', 5), (6, 'infinity', '1day', 6),"
                     " (7, '-infinity', '1min', 7), (8, '0044-03-15 BC', '1min', 8), (9, '2026-11-24 12:00', '1day', 9),"
                     " (10, '0005-01-02', '1day', 10)")
        conn.execute("INSERT INTO events SELECT 100 + g, '2026-10-01'::date + (g % 40), CASE WHEN g % 3 = 0 THEN '1min' ELSE '1day' END, g"
                     " FROM generate_series(1, 400) g")
    dry = rotate(config, as_of=AS_OF, dry_run=True).tables["events"]
    before = hotcold.archival_status(config, AS_OF).tables["events"].hot
    analysis = analyze(config, as_of=AS_OF).tables["events"]
    assert before.unfileable_rows == 4 and before.rows == 410
    assert before.aging_rows == dry.rows == analysis.aged_rows > 0
    assert sum(i.aged_days for i in analysis.intervals) >= dry.days > 0

    real = rotate(config, as_of=AS_OF).tables["events"]
    assert real.archived_rows == real.deleted_rows == dry.rows
    assert real.lake_days == dry.days
    after = hotcold.archival_status(config, AS_OF)
    assert after.tables["events"].hot.aging_rows == 0 and after.tables["events"].hot.rows == 410 - dry.rows
    assert after.tables["events"].lake.rows == dry.rows and after.tables["events"].lake.days == dry.days


def test_the_embedded_store_agrees_too(tmp_path):
    config = demo_project(tmp_path, "duckdb", symbols=2)
    dry = rotate(config, as_of=AS_OF, dry_run=True, full=True)
    status = hotcold.archival_status(config, AS_OF)
    real = rotate(config, as_of=AS_OF, full=True)
    after = hotcold.archival_status(config, AS_OF)
    for name in config.tables:
        assert status.tables[name].hot.aging_rows == dry.tables[name].rows == real.tables[name].archived_rows > 0, name
        assert dry.tables[name].days == real.tables[name].lake_days, name
        # The run's table and status count the same bytes (a first run: the lake is what it wrote).
        assert after.tables[name].lake.bytes == real.tables[name].lake_bytes > 0, name


@pytest.mark.slow
def test_status_tells_table_size_from_space_reusable_after_vacuum(pg_project, pg_dsn):
    before = hotcold.archival_status(pg_project, AS_OF).tables["market_data"].hot
    report = rotate(pg_project, as_of=AS_OF)
    after = hotcold.archival_status(pg_project, AS_OF).tables["market_data"].hot
    assert report.tables["market_data"].deleted_rows == before.rows - after.rows > 0
    # PostgreSQL's own count of the free space in the table (pgstattuple reads every page):
    # VACUUM made the deleted rows' space reusable, and status says how much.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        free, dead = conn.execute("SELECT free_space, dead_tuple_len FROM pgstattuple('public.market_data')").fetchone()
    print(before, after, free, dead)
    assert dead == 0 and free > 0
    assert 0.8 * free <= after.reusable_bytes <= 1.25 * free
    assert after.disk_bytes > after.data_bytes + after.reusable_bytes
    # A full reclaim gives it back to the disk.
    from hotcold.ops.cleanup import cleanup

    cleanup(pg_project, as_of=AS_OF, reclaim="full", confirm=lambda plan: True)
    reclaimed = hotcold.archival_status(pg_project, AS_OF).tables["market_data"].hot
    assert reclaimed.disk_bytes < after.disk_bytes and reclaimed.reusable_bytes < after.reusable_bytes


def test_read_only_commands_start_no_dbt_and_wait_for_no_rotation(pg_project):
    """Run in a fresh interpreter while this process holds the rotation lock: the answers
    come, and dbt was never imported."""
    script = (
        "import json, sys, hotcold\n"
        "from hotcold.ops.rotation import rotate\n"
        "from hotcold.ops.cleanup import analyze\n"
        f"config = hotcold.load_config({str(pg_project.path)!r})\n"
        "status = hotcold.archival_status(config, '2026-11-25')\n"
        "dry = rotate(config, as_of='2026-11-25', dry_run=True)\n"
        "analysis = analyze(config, as_of='2026-11-25')\n"
        "print(json.dumps({'dbt': any(m == 'dbt' or m.startswith('dbt.') for m in sys.modules),"
        " 'waiting': status.tables['market_data'].hot.aging_rows, 'dry': dry.tables['market_data'].rows,"
        " 'analysis': analysis.tables['market_data'].aged_rows}))\n"
    )
    with rotation_lock(pg_project):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["dbt"] is False
    assert found["waiting"] == found["dry"] == found["analysis"] > 0


def test_import_hotcold_loads_neither_typer_nor_rich_nor_dbt():
    proc = subprocess.run([sys.executable, "-c", "import sys, hotcold; hotcold.Config; hotcold.StorageRouter\n"
                           "print(sorted(m for m in ('typer', 'rich', 'dbt') if m in sys.modules))"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
