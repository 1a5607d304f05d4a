"""The history index: the lake's rows again, clustered by symbol, for one-symbol queries.

A day file holds every symbol of one day, so five years of one symbol means opening 1,300
files (about 0.3 ms each, whatever the engine). The index is a DuckDB database beside the lake
(`_hotcold/history.duckdb`) holding the same rows sorted by (symbol, time): DuckDB's zone maps
skip every row group but the symbol's own, and the answer takes milliseconds.

It is derived data; the day files stay the truth. It records, per table, the lake's generation
it was built from (`lake.generation`, moved by every change hotcold makes to a table's files)
and the (mtime, size) of every day file it holds. The query engine uses it only while its
generation is the lake's, and reads the day files otherwise; `refresh` catches it up by
re-reading exactly the days whose files changed. A rotation refreshes it after it publishes.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from hotcold.config import Config, TableSpec
from hotcold.errors import HotColdError
from hotcold.query.sql import q
from hotcold.sqltext import lit
from hotcold.store.lake import (
    CHANGING,
    FILE_COLUMN,
    day_of_file_sql,
    ensure_generation,
    generation,
    iter_day_files,
)

ALIAS = "hc_history"
# Rows appended since the last full sort sit in row groups that span every symbol; every
# one-symbol query reads them. Sort again once they pass both bounds.
RESORT_SHARE = 0.10
RESORT_MIN_ROWS = 4 * 122_880
# The sort spills past this instead of growing the rotation's memory with the lake.
SORT_MEMORY = "256MB"


@dataclass
class Refreshed:
    table: str
    days_read: int = 0
    days_dropped: int = 0
    rows: int = 0
    sorted: bool = False
    seconds: float = 0.0
    current: bool = False
    skipped: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def index_path(lake_root: Path) -> Path:
    return Path(lake_root).parent / "_hotcold" / "history.duckdb"


def refresh(config: Config, tables: list[str] | None = None, *, rebuild: bool = False) -> list[Refreshed]:
    """Bring the index up to the lake for `tables` (default: every table with a symbol
    column). A busy index (a query or another refresh has it open) is skipped, never waited
    on: the engine reads the day files until the next refresh."""
    specs = [config.table(t) for t in tables] if tables else list(config.tables.values())
    specs = [s for s in specs if s.symbol_column]
    if not config.history_index or not specs:
        return []
    path = index_path(config.lake_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), config={"memory_limit": SORT_MEMORY, "temp_directory": str(path.parent / "history.tmp")})
    except duckdb.Error as exc:
        reason = "in use" if "lock" in str(exc).lower() else str(exc).splitlines()[0]
        return [Refreshed(s.name, skipped=f"history index {reason}; queries read the day files until the next refresh") for s in specs]
    with con:
        con.execute("SET enable_progress_bar = false")  # stdout may be `rotate --json`
        os.chmod(path, config.lake_file_mode)  # the lake's rows again: as private as the lake
        con.execute("SET TimeZone = 'UTC'")
        con.execute("create table if not exists _days (table_name varchar, day date, mtime_ns bigint, size bigint, primary key (table_name, day))")
        con.execute("create table if not exists _tables (table_name varchar primary key, generation varchar, sorted_rows bigint)")
        return [_refresh_or_skip(con, config, spec, rebuild) for spec in specs]


def _refresh_or_skip(con, config: Config, spec: TableSpec, rebuild: bool) -> Refreshed:
    try:
        return _refresh_table(con, config, spec, rebuild)
    except duckdb.Error as exc:
        # e.g. a day file whose columns changed type: the engine reads the day files instead.
        return Refreshed(spec.name, skipped=f"not refreshed ({str(exc).splitlines()[0]}); run `hotcold index --rebuild`")


def _refresh_table(con, config: Config, spec: TableSpec, rebuild: bool) -> Refreshed:
    started = time.perf_counter()
    out = Refreshed(spec.name)
    gen = ensure_generation(config.lake_root, spec.name)
    if gen.startswith(CHANGING):
        out.skipped = "the lake's files are being changed (or a change died half-way); the next rotation catches the index up"
        return out
    files = {day: (path, st.st_mtime_ns, st.st_size) for day, path, st in iter_day_files(config.lake_root, spec.name)}
    if files:
        newest = files[max(files)][0]
        columns = [r[0] for r in con.execute("describe select * from read_parquet(?, hive_partitioning = false)", [str(newest)]).fetchall()]
        if spec.symbol_column not in columns:
            out.skipped = f"its lake files have no column {spec.symbol_column!r} (tables.{spec.name}.symbol_column) to cluster by"
            return out
    exists = con.execute("select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?", [spec.name]).fetchone()[0] > 0
    held = {} if rebuild or not exists else {
        day: (mtime, size) for day, mtime, size in con.execute("select day, mtime_ns, size from _days where table_name = ?", [spec.name]).fetchall()}
    changed = sorted(d for d, (_, mtime, size) in files.items() if held.get(d) != (mtime, size))
    gone = sorted(d for d in held if d not in files)
    table = q(spec.name)
    order = f"{q(spec.symbol_column)}, {q(spec.time_column)}"
    con.execute("begin")
    try:
        if rebuild or not exists:
            con.execute(f"drop table if exists {table}")
            con.execute("delete from _days where table_name = ?", [spec.name])
            if not files:
                con.execute("delete from _tables where table_name = ?", [spec.name])
                con.execute("commit")
                return out
            con.execute(f"create table {table} as {_day_rows([files[d][0] for d in changed])} order by {order}")
            sorted_rows = None
        else:
            if changed or gone:
                con.register("hc_days", pa.table({"d": pa.array(changed + gone, pa.date32())}))
                con.execute(f"delete from {table} where _day in (select d from hc_days)")
                con.execute("delete from _days where table_name = ? and day in (select d from hc_days)", [spec.name])
                con.unregister("hc_days")
            if changed:
                con.execute(f"insert into {table} by name {_day_rows([files[d][0] for d in changed])} order by {order}")
            sorted_rows = con.execute("select sorted_rows from _tables where table_name = ?", [spec.name]).fetchone()
            sorted_rows = sorted_rows[0] if sorted_rows else 0
        rows = con.execute(f"select count(*) from {table}").fetchone()[0]
        if sorted_rows is not None and rows - sorted_rows > max(RESORT_MIN_ROWS, RESORT_SHARE * rows):
            con.execute(f"create or replace table {table} as select * from {table} order by {order}")
            sorted_rows = None
        out.sorted = sorted_rows is None
        if changed:
            con.register("hc_files", pa.table({"day": pa.array(changed, pa.date32()),
                                               "mtime_ns": [files[d][1] for d in changed], "size": [files[d][2] for d in changed]}))
            con.execute("insert into _days select ?, day, mtime_ns, size from hc_files", [spec.name])
            con.unregister("hc_files")
        # Current only if no change to the files began while we read them.
        current = generation(config.lake_root, spec.name) == gen
        con.execute("insert or replace into _tables values (?, ?, ?)",
                    [spec.name, gen if current else None, rows if sorted_rows is None else sorted_rows])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    out.days_read, out.days_dropped, out.rows, out.current = len(changed), len(gone), rows, current
    out.seconds = time.perf_counter() - started
    return out


def _day_rows(paths: list[Path]) -> str:
    """The rows of these day files with the day each came from (from its name, which the
    layout fixes as <table>_YYYYMMDD.parquet)."""
    listed = ", ".join(lit(p) for p in paths)
    return (f"select * exclude ({FILE_COLUMN}), {day_of_file_sql()} as _day"
            f" from read_parquet([{listed}], filename = {lit(FILE_COLUMN)}, union_by_name = true, hive_partitioning = false)")


def attach(con: duckdb.DuckDBPyConnection, config: Config, table: str) -> tuple[str, str] | None:
    """Attach the index read-only: (the relation holding `table`'s rows, the generation it
    matches), or None when it cannot answer for the lake as it is now (then nothing stays
    attached)."""
    if not config.history_index:
        return None
    gen = generation(config.lake_root, table)
    path = index_path(config.lake_root)
    if not gen or gen.startswith(CHANGING) or not path.exists():
        return None
    try:
        con.execute(f"ATTACH {lit(path)} AS {ALIAS} (READ_ONLY)")
    except duckdb.Error:
        return None  # a refresh holds it: the day files answer meanwhile
    try:
        row = con.execute(f"select generation from {ALIAS}._tables where table_name = ?", [table]).fetchone()
    except duckdb.Error:
        row = None
    if not row or row[0] != gen:
        detach(con)
        return None
    return f"{ALIAS}.main.{q(table)}", gen


def detach(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DETACH DATABASE IF EXISTS {ALIAS}")


def refresh_quietly(config: Config, tables: list[str]) -> tuple[list[Refreshed], list[str]]:
    """`refresh` after a rotation, and notes for people: the rotation has already succeeded,
    so a failure here is a note (queries read the day files meanwhile), never an error."""
    try:
        done = refresh(config, tables)
    except (duckdb.Error, OSError, HotColdError) as exc:
        return [], [f"history index not refreshed ({str(exc).splitlines()[0]}); queries read the day files until `hotcold index --rebuild`"]
    return done, [f"history index for {r.table}: {r.skipped}" for r in done if r.skipped]
