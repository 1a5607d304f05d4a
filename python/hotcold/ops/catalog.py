"""The analysts' catalog: a DuckDB file of `cold.<table>` and `unified.<table>` views.

dbt builds the views (models/catalog, macros/catalog); this module runs that build, decides
when a rotation should refresh it, and opens it for `hotcold sql`.
"""

from __future__ import annotations

import logging
import re

import duckdb

from hotcold.config import Config, redact_dsn
from hotcold.dbt import runner as dbt_runner
from hotcold.errors import HotColdError, StepFailed
from hotcold.sqltext import lit
from hotcold.store.duckdb_ext import postgres_extension_file
from hotcold.store.hot_store import attach_hot, connect_pg, session_dsn
from hotcold.store.lake import recorded_columns, table_has_files

log = logging.getLogger("hotcold")
PLACEHOLDER = "hotcold: placeholder"


def build(config: Config) -> None:
    """(Re)create every view. Fails with a clear line when someone holds the file open."""
    try:
        dbt_runner.invoke(config, ["run", "--select", "tag:catalog"])
    except StepFailed as exc:
        if "lock" in exc.problem.lower():
            raise HotColdError(
                f"the catalog {config.catalog_path} is open read-write in another process",
                "close it there (analysts: open it with `duckdb -readonly`), then run `hotcold catalog`",
            ) from None
        raise


def stale_tables(config: Config) -> list[str] | None:
    """Tables whose view is missing or a placeholder although the lake now has their files,
    or whose columns are not the lake's any more (the hot table's columns changed: the lake's
    record of them, lake.recorded_columns, differs from the view's).
    None when the catalog cannot be read right now (held open read-write elsewhere)."""
    wanted = [name for name in config.tables if table_has_files(config.lake_root, name)]
    if not config.catalog_path.exists():
        return wanted
    try:
        con = duckdb.connect(str(config.catalog_path), read_only=True)
    except duckdb.Error:
        return None
    try:
        views = dict(con.execute("select view_name, coalesce(comment, '') from duckdb_views() where schema_name = 'cold'").fetchall())
        unified = dict(con.execute("select view_name, coalesce(comment, '') from duckdb_views() where schema_name = 'unified'").fetchall())
        columns: dict[str, dict] = {}
        for view, column, type_ in con.execute("select table_name, column_name, data_type from duckdb_columns() where schema_name = 'cold'").fetchall():
            columns.setdefault(view, {})[column] = type_
    finally:
        con.close()

    def changed(table: str) -> bool:
        lake_columns = recorded_columns(config.lake_root, table)
        if lake_columns is None:
            return False
        shown = {c: t for c, t in columns.get(table, {}).items() if c not in ("year", "month", "day")}
        return shown != lake_columns

    def hot_changed(table: str) -> bool:
        built_on = re.search(r"\[hot columns: ([^\]]*)\]", unified.get(table, ""))
        if built_on is None:
            return False
        now = hot_column_names(config, table)
        return now is not None and built_on.group(1) != ",".join(now)

    return [t for t in wanted if t not in views or views[t].startswith(PLACEHOLDER) or changed(t) or hot_changed(t)]


def hot_column_names(config: Config, table: str) -> list[str] | None:
    """The hot table's column names in order; None when the hot store cannot be read now."""
    import psycopg

    try:
        if config.hot.kind == "postgres":
            with connect_pg(config) as conn:
                return [r[0] for r in conn.execute(
                    "select a.attname::text from pg_attribute a where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped order by a.attnum",
                    [f'"{config.hot.schema}"."{table}"']).fetchall()]
        with duckdb.connect(str(config.hot.path), read_only=True) as con:
            return [r[0] for r in con.execute("select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
                                              [config.hot.schema, table]).fetchall()]
    except (HotColdError, duckdb.Error, psycopg.Error, OSError):  # the catalog is a convenience, never a failure
        return None


def refresh_if_stale(config: Config) -> str | None:
    """After a publish: build the catalog when a table's first files appeared. Never fails the
    caller, whose rows are already safe; returns a note for the user, or None."""
    stale = stale_tables(config)
    if stale is None:
        return f"catalog {config.catalog_path} is open in another process; run `hotcold catalog` to add new tables"
    if not stale and config.catalog_path.exists():
        return None
    try:
        build(config)
    except HotColdError as exc:
        log.warning("catalog not refreshed: %s", exc.problem)
        return f"catalog not refreshed ({exc.problem}); run `hotcold catalog`"
    return f"catalog views built for {', '.join(stale) or 'every table'} in {config.catalog_path}"


def describe(config: Config) -> list[dict]:
    con = open_catalog(config, with_hot=False)
    try:
        found = con.execute("select schema_name || '.' || view_name, coalesce(comment, '') from duckdb_views() where not internal and schema_name in ('cold', 'unified') order by 1").fetchall()
    finally:
        con.close()
    return [{"view": v, "comment": c} for v, c in found]


def open_catalog(config: Config, with_hot: bool = True) -> duckdb.DuckDBPyConnection:
    """The catalog, read-only, with the hot store attached as `hot` so unified views work."""
    if not config.catalog_path.exists():
        raise HotColdError(f"no catalog at {config.catalog_path}", "run `hotcold catalog` (or a rotation) to build it")
    try:
        con = duckdb.connect(str(config.catalog_path), read_only=True)
    except duckdb.Error as exc:
        raise HotColdError(f"cannot open the catalog {config.catalog_path}: {str(exc).splitlines()[0]}", "close the process that holds it read-write") from None
    con.execute("SET TimeZone = 'UTC'")
    if with_hot:
        attach_hot(con, config, read_only=True)
    return con


def attach_sql(config: Config) -> list[str]:
    """What an analyst's own DuckDB session runs before querying unified.<table>. The DSN is
    shown without its password: libpq reads PGPASSWORD (or ~/.pgpass) from the environment."""
    hot = config.hot
    if hot.kind == "duckdb":
        return [f"ATTACH {lit(hot.path)} AS hot (READ_ONLY);"]
    # With hotcold's session settings (UTC...): the unified views read exact text the same way.
    dsn = session_dsn(hot.dsn or "")
    shown = redact_dsn(dsn)
    note = "  -- password removed: export PGPASSWORD" if shown != dsn else ""
    return [
        f"INSTALL {lit(postgres_extension_file())};  -- offline, from the duckdb-extension-postgres-scanner wheel",
        "LOAD postgres;",
        "SET pg_use_ctid_scan = false;",
        f"ATTACH {lit(shown)} AS hot (TYPE postgres, READ_ONLY);{note}",
    ]
