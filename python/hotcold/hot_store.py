"""Connections to the hot store, for the few things dbt does not do (locks, status, tests)."""

from __future__ import annotations

import duckdb

from .config import Config, redact_dsn
from .duckdb_ext import load_postgres
from .errors import HotColdError


def connect_pg(config: Config, autocommit: bool = False):
    import psycopg

    try:
        return psycopg.connect(config.hot.dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise HotColdError(
            f"cannot connect to the hot store {redact_dsn(config.hot.dsn or '')}: {reason}",
            "check HOTCOLD_HOT_DSN / storage.hot_store.dsn, that the server is up, and PGPASSWORD",
        ) from None


def attach_hot(conn: duckdb.DuckDBPyConnection, config: Config, read_only: bool = False) -> None:
    """ATTACH the hot store as `hot` on a DuckDB connection."""
    hot = config.hot
    if hot.kind == "postgres":
        load_postgres(conn)
        # A ctid-range scan reads the whole table to archive one day; a plain query uses the
        # index on the time column instead (DESIGN.md, measured facts).
        conn.execute("SET pg_use_ctid_scan = false")
        target, options = hot.dsn, "TYPE postgres"
    else:
        hot.path.parent.mkdir(parents=True, exist_ok=True)
        target, options = str(hot.path), "TYPE duckdb"
    if read_only:
        options += ", READ_ONLY"
    quoted = (target or "").replace("'", "''")
    try:
        conn.execute(f"ATTACH IF NOT EXISTS '{quoted}' AS hot ({options})")
    except duckdb.Error as exc:
        raise HotColdError(
            f"cannot attach the hot store {hot.describe()}: {_first_line(exc)}",
            "check the hot store settings in unified_config.yaml (or HOTCOLD_HOT_DSN) and that it is reachable",
        ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return redact_dsn(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
