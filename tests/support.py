"""Shared test helpers: a project per test (config, hot store, lake) and row snapshots."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

import hotcold
from hotcold.store.hot_store import attach_hot


@contextmanager
def scratch_database(server_dsn: str):
    """A new, empty PostgreSQL database on the test server: yields its DSN, drops it after
    (WITH FORCE: a session a test left open must not keep it)."""
    name = f"hc_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_dsn, dbname=name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


BASE = yaml.safe_load((Path(__file__).resolve().parents[1] / "unified_config.yaml").read_text())


def write_config(tmp_path: Path, kind: str, dsn: str | None = None, **lifecycle) -> Path:
    cfg = yaml.safe_load(yaml.safe_dump(BASE))
    cfg["storage"]["lifecycle"].update(lifecycle)
    if kind == "postgres":
        cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": dsn, "schema": "public"}
    else:
        cfg["storage"]["hot_store"] = {"type": "duckdb", "path": str(tmp_path / "hot.duckdb")}
    cfg["storage"]["lake"] = {"root": str(tmp_path / "lake" / "cold_storage")}
    cfg["storage"]["logging"] = {"file": str(tmp_path / "logs" / "storage_rotation.log")}
    path = tmp_path / "unified_config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


DEMO_AS_OF = date(2026, 11, 25)
# What the fault tests proved (crash points, kills, rows lost and duplicated), summed over
# the session and printed at its end by conftest.
TALLY: Counter = Counter()


def demo_project(tmp_path: Path, kind: str, dsn: str | None = None, symbols: int = 3, **lifecycle) -> hotcold.Config:
    """A config for this test and a hot store filled with a year of the demo's data."""
    from hotcold.ops.demo import fill_demo_data

    config = hotcold.load_config(write_config(tmp_path, kind, dsn, **lifecycle))
    fill_demo_data(config, symbols=symbols, years=1, as_of=DEMO_AS_OF)
    return config


def hot_conn(config: hotcold.Config) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    attach_hot(conn, config)
    return conn


def hot_rel(config: hotcold.Config, table: str) -> str:
    return f'hot."{config.hot.schema}"."{table}"'


def lake_glob(config: hotcold.Config, table: str) -> str:
    return str(config.lake_root / table / "*" / "*" / "*" / "*.parquet")


def lake_files(config: hotcold.Config) -> list[str]:
    return sorted(str(p.relative_to(config.lake_root)) for p in config.lake_root.rglob("*.parquet")) if config.lake_root.exists() else []


def union_rows(config: hotcold.Config, table: str, columns: str) -> tuple[list, list]:
    """(hot rows, lake rows) of `columns`, each sorted, read through one DuckDB connection."""
    conn = hot_conn(config)
    try:
        hot = conn.execute(f"select {columns} from {hot_rel(config, table)} order by all").fetchall()
        files = list((config.lake_root / table).rglob("*.parquet")) if (config.lake_root / table).exists() else []
        lake = conn.execute(
            f"select {columns} from read_parquet(?, hive_partitioning = false) order by all", [[str(f) for f in files]]
        ).fetchall() if files else []
    finally:
        conn.close()
    return hot, lake


def snapshot(config: hotcold.Config, table: str, columns: str) -> list:
    conn = hot_conn(config)
    try:
        return conn.execute(f"select {columns} from {hot_rel(config, table)} order by all").fetchall()
    finally:
        conn.close()
