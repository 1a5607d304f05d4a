"""Bad data in the hot store: NULL or repeated keys, or a column the lake's partition folders
would shadow, refuse the table with one line, before anything moves; a hot interval that is not an interval name is refused when the config loads
(a typo there would age out every row)."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
import yaml

import hotcold
from support import lake_files, write_config


@pytest.fixture
def ticks(tmp_path, pg_dsn):
    path = write_config(tmp_path, "postgres", pg_dsn)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"]["ticks"] = {"time_column": "ts", "key": ["symbol", "ts"]}
    cfg["storage"]["rotation"]["tables"] = ["ticks"]
    path.write_text(yaml.safe_dump(cfg))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("create table ticks (symbol text, ts timestamptz, price double precision)")  # no constraints: a careless table
        conn.execute("insert into ticks select 'S' || (i % 5), timestamptz '2026-01-01' + i * interval '1 hour', i from generate_series(1, 500) i")
    return hotcold.load_config(path), pg_dsn


@pytest.mark.parametrize("bad, message", [
    ("insert into ticks values (null, '2026-02-01', 1)", "1 aged rows have NULL in key column 'symbol'"),
    ("insert into ticks select symbol, ts, -price from ticks where price < 4", "3 keys (symbol, ts) appear more than once among aged rows"),
    # A lake reader would show the folder's day instead: refused by name, with the fix.
    ("alter table ticks add column \"Day\" text default 'Monday'", "has a column named 'Day', which the lake's year=/month=/day= folders would shadow"),
])
@pytest.mark.slow
def test_null_or_repeated_keys_refuse_the_table_before_anything_moves(ticks, bad, message):
    config, dsn = ticks
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(bad)
        before = conn.execute("select count(*) from ticks").fetchone()[0]
    proc = subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--config", str(config.path), "--as-of", "2026-11-25"], capture_output=True, text=True, timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and message in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from ticks").fetchone()[0] == before
    assert lake_files(config) == []


@pytest.mark.parametrize("value", [["1dya"], ["daily bars"], ["1day", "0min"]])
def test_a_hot_interval_that_is_not_an_interval_is_refused(tmp_path, value):
    path = write_config(tmp_path, "duckdb", hot_intervals=value)
    with pytest.raises(hotcold.HotColdError, match="storage.lifecycle.hot_intervals"):
        hotcold.load_config(path)
