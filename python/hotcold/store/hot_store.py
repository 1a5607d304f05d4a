"""Connections to the hot store, for the few things dbt does not do (locks, status, tests)."""

from __future__ import annotations

import duckdb

from hotcold.config import Config, redact_dsn
from hotcold.errors import HotColdError
from hotcold.sqltext import lit
from hotcold.store.duckdb_ext import load_postgres

# Every session hotcold opens on PostgreSQL reads and writes time, numbers and text in one
# meaning, whatever the server's or the database's defaults: UTC (so `timestamp without time
# zone` is UTC wall time in the cutoff, the day files and every query), ISO dates, the
# shortest exact float text, hex bytea and C money. Values sent as exact text (see the
# archival select) are only exact if every session renders them alike.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "lc_monetary": "C",
}


def session_dsn(dsn: str) -> str:
    """`dsn` (libpq keywords or a postgresql:// URL) with SESSION_SETTINGS added to its
    `options`, after any the user gave (a later -c wins in PostgreSQL, so ours hold). The
    config checked the DSN when it loaded, so it parses here."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    ours = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in SESSION_SETTINGS.items())
    params["options"] = f"{params.get('options') or ''} {ours}".strip()
    return make_conninfo(**params)


def connect_pg(config: Config, autocommit: bool = False):
    import psycopg

    try:
        return psycopg.connect(session_dsn(config.hot.dsn), autocommit=autocommit, connect_timeout=10)
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
        target, options = session_dsn(hot.dsn), "TYPE postgres"
    else:
        hot.path.parent.mkdir(parents=True, exist_ok=True)
        target, options = str(hot.path), "TYPE duckdb"
    if read_only:
        options += ", READ_ONLY"
    try:
        conn.execute(f"ATTACH IF NOT EXISTS {lit(target or '')} AS hot ({options})")
    except duckdb.Error as exc:
        raise HotColdError(
            f"cannot attach the hot store {hot.describe()}: {_first_line(exc)}",
            "check the hot store settings in unified_config.yaml (or HOTCOLD_HOT_DSN) and that it is reachable",
        ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return redact_dsn(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
