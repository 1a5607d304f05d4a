"""ColdStorageQueryEngine: history from the lake, as Arrow, fast.

- Opens only the day files of the asked range: the file list is built from the range by
  walking year=/month=/day= folders, never by globbing the whole lake.
- DuckDB reads them in parallel and pushes the projection and the filters into the Parquet
  scan (row groups outside the time range or symbol set are skipped from their statistics).
- Results are cached in memory, keyed by the query and by the (path, mtime, size) of every file
  it read: a rotation or backfill that replaces a day file changes the key of exactly the
  queries that read that day.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from hotcold.config import Config
from hotcold.query import history
from hotcold.query.sql import Builder, QueryError, Request, Sql, symbols_arg, where_arg
from hotcold.query.timerange import TimeRange, time_range
from hotcold.sqltext import lit
from hotcold.store import lake
from hotcold.store.lake import FILE_COLUMN, day_of_file_sql, iter_day_files


@dataclass(frozen=True)
class LakePlan:
    """The day files a query over `range` opens, and their identity for the cache."""

    table: str
    range: TimeRange
    files: tuple[Path, ...]
    version: tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) per file


@dataclass(frozen=True)
class _Index:
    """The history index, attached for one query: where the rows are and which lake it matches."""

    relation: str
    generation: str
    schema: dict[str, str]


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    bytes: int


class _ResultCache:
    """Least recently used Arrow tables, up to a byte budget."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, pa.Table] = OrderedDict()
        self._bytes = self.hits = self.misses = 0
        self._lock = threading.Lock()

    def get(self, key) -> pa.Table | None:
        with self._lock:
            table = self._items.get(key)
            if table is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return table

    def put(self, key, table: pa.Table) -> None:
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = table
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, len(self._items), self._bytes)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


class ColdStorageQueryEngine:
    """Query the Parquet lake. Thread-safe; one engine per process is enough."""

    def __init__(self, config: Config, *, threads: int | None = None, cache_mb: int | None = None):
        self.config = config
        self._con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
        # No progress bar: DuckDB draws it on stdout, where `hotcold query` may write its rows.
        self._con.execute("SET enable_progress_bar = false")
        self._con.execute("SET TimeZone = 'UTC'")
        # Footers are read once per file version, not once per query: most of a multi-year
        # query's cost is opening hundreds of small day files.
        self._con.execute("SET parquet_metadata_cache = true")
        self._cache = _ResultCache((config.query_cache_mb if cache_mb is None else cache_mb) * 2**20)
        self._schemas: dict[tuple, dict[str, str]] = {}
        self._history_lock = threading.Lock()

    # -- planning -------------------------------------------------------------------------
    def plan(self, table: str, start=None, end=None, tz: str | None = None) -> LakePlan:
        spec = self.config.table(table)
        rng = time_range(start, end, tz)
        found = list(iter_day_files(self.config.lake_root, spec.name, rng.first_day, rng.last_day))
        return LakePlan(
            spec.name,
            rng,
            tuple(p for _, p, _ in found),
            tuple((str(p), st.st_mtime_ns, st.st_size) for _, p, st in found),
        )

    def schema(self, table: str, plan: LakePlan | None = None) -> dict[str, str]:
        """Column name -> DuckDB type of the table's lake files: the union of every day file's
        columns (a column added or dropped in the hot store over time is in some days only;
        NULL in the others), as the last writer recorded it (lake.record_columns), else read
        from the plan's files (or the newest file in the lake)."""
        spec = self.config.table(table)
        recorded = lake.recorded_columns(self.config.lake_root, spec.name)
        if recorded:
            return recorded
        files = [str(p) for p in plan.files] if plan and plan.files else []
        if not files:
            newest = _newest_in_lake(self.config.lake_root, spec.name)
            if newest is None:
                raise QueryError(f"the lake holds no {spec.name} files yet", "run `hotcold rotate` (or a backfill) first; recent rows are in the hot store (StorageRouter, hotcold query --tier auto)")
            files = [str(newest[0])]
        key = (tuple(files), plan.version if plan and plan.files else None)
        if key not in self._schemas:
            cur = self._con.cursor()
            described = cur.execute("DESCRIBE SELECT * FROM read_parquet($f, union_by_name = true, hive_partitioning = false)", {"f": files}).fetchall()
            self._schemas[key] = {row[0]: row[1] for row in described}
        return self._schemas[key]

    # -- queries --------------------------------------------------------------------------
    def query(self, table: str, start=None, end=None, symbols=None, columns=None, where=None, tz: str | None = None) -> pa.Table:
        """Rows of `table` with time in [start, end), as an Arrow table, in time order.
        Rows of given symbols come from the history index while it matches the lake."""
        return self._query(table, start, end, symbols, columns, where, tz)[0]

    def query_batches(self, table: str, start=None, end=None, symbols=None, columns=None, where=None, tz: str | None = None, batch_rows: int = 122_880) -> pa.RecordBatchReader:
        """The same rows as `query`, streamed: for results larger than memory. Not cached."""
        text, sql, _ = self._select(table, start, end, symbols, columns, where, tz)
        return self._stream(text, sql.params, batch_rows)

    def aggregate(self, table: str, every: str, by=None, metrics=None, start=None, end=None, symbols=None, where=None, tz: str | None = None) -> pa.Table:
        """Rows bucketed by time (`every`: 1min, 1h, 1d, 1w, 1mo...) per `by` (default: the
        symbol). `metrics` default to bars: open=first, high=max, low=min, close=last,
        volume=sum; or {output: function} / {output: (function, column)}."""
        return self._aggregate(table, every, by, metrics, start, end, symbols, where, tz)[0]

    def explain(self, table: str, start=None, end=None, symbols=None, columns=None, where=None, tz: str | None = None) -> dict:
        """Run the query over the day files under DuckDB's profiler and report what its Parquet
        scans did: the files they read and the filters and projections pushed into them; and
        whether `query` would read the history index instead."""
        text, sql, version = self._select(table, start, end, symbols, columns, where, tz)  # the day files' version
        cur = self._con.cursor()
        cur.execute("PRAGMA enable_profiling = 'json'")
        profile = json.loads(cur.execute("EXPLAIN ANALYZE " + text, sql.params).fetchall()[0][1])
        scans = []

        def walk(node):
            info = node.get("extra_info") or {}
            if info.get("Function") == "READ_PARQUET":
                files = [f.strip() for f in str(info.get("Filename(s)", "")).split(",") if f.strip()]
                scans.append({"files_read": int(info.get("Total Files Read", 0)), "files": files,
                              "filters": _text(info.get("Filters")), "projections": _text(info.get("Projections"))})
            for child in node.get("children", []):
                walk(child)

        walk(profile)
        with self._history(table, symbols) as index:
            from_index = index is not None
        return {"planned_files": [path for path, _, _ in version], "scans": scans, "history_index": from_index}

    def sql(self, text: str, params: dict | list | None = None) -> pa.Table:
        """Arbitrary read-only SQL on the engine's DuckDB (no lake views: use the catalog)."""
        return self._con.cursor().execute(text, params or {}).to_arrow_table()

    def cache_info(self) -> CacheInfo:
        return self._cache.info()

    def clear_cache(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- shared with the router -----------------------------------------------------------
    def _query(self, table, start, end, symbols, columns, where, tz) -> tuple[pa.Table, bool]:
        """`query`, and whether the history index answered it."""
        with self._history(table, symbols) as index:
            text, sql, version = self._select(table, start, end, symbols, columns, where, tz, index)
            return self._cached(("query", text), sql, version), index is not None

    def _aggregate(self, table, every, by, metrics, start, end, symbols, where, tz) -> tuple[pa.Table, bool]:
        """`aggregate`, and whether the history index answered it."""
        with self._history(table, symbols) as index:
            version, builder, req, rows, sql = self._source(table, start, end, symbols, where, tz, index, every)
            text = builder.aggregate(rows, by, metrics)
            return self._cached(("aggregate", text), sql, version), index is not None

    def _select(self, table, start, end, symbols, columns, where, tz, index: _Index | None = None) -> tuple[str, Sql, tuple]:
        """The rows query over the lake: SQL text, its parameters and the version of what it
        reads (the day files, or the history index)."""
        version, builder, req, rows, sql = self._source(table, start, end, symbols, where, tz, index)
        return builder.select(rows, columns), sql, version

    def _source(self, table, start, end, symbols, where, tz, index: _Index | None, every: str | None = None):
        """The rows asked for (with their buckets of `every`, for an aggregate) and what they
        depend on."""
        spec = self.config.table(table)
        sql = Sql()
        if index:
            builder = Builder(spec, index.schema)
            req = Request(spec, time_range(start, end, tz), symbols_arg(symbols), where_arg(where))
            rows = builder.rows(req, sql, index.relation, None, every, cold_day="_day")
            return ("history", index.generation), builder, req, rows, sql
        plan, builder, req = self._prepare(table, start, end, symbols, where, tz)
        return plan.version, builder, req, self._rows(builder, req, sql, plan.files, every=every), sql

    @contextmanager
    def _history(self, table: str, symbols):
        """The history index while it matches the lake and the query names symbols (where it
        pays: one file instead of one per day), else None. Attached for one query only, so a
        rotation can always refresh it; queries through it take turns."""
        if symbols is None or not self.config.history_index:
            yield None
            return
        with self._history_lock:
            attached = history.attach(self._con, self.config, self.config.table(table).name)
            if attached is None:
                yield None
                return
            relation, gen = attached
            try:
                key = (relation, gen)
                if key not in self._schemas:
                    described = self._con.execute(f"DESCRIBE SELECT * EXCLUDE (_day) FROM {relation}").fetchall()
                    self._schemas[key] = {row[0]: row[1] for row in described}
                yield _Index(relation, gen, self._schemas[key])
            finally:
                history.detach(self._con)

    def _prepare(self, table, start, end, symbols, where, tz):
        plan = self.plan(table, start, end, tz)
        spec = self.config.table(table)
        builder = Builder(spec, self.schema(table, plan))
        return plan, builder, Request(spec, plan.range, symbols_arg(symbols), where_arg(where))

    def _rows(self, builder: Builder, req: Request, sql: Sql, files: tuple[Path, ...], hot: str | None = None, every: str | None = None) -> str:
        # For an aggregate, each row's day file names its day (see Builder.rows).
        named = f", filename = {lit(FILE_COLUMN)}" if every else ""
        if files:
            cold = f"read_parquet({sql.bind([str(p) for p in files])}, union_by_name = true, hive_partitioning = false{named})"
        elif hot:
            cold = None
        else:
            # No file in the range: an empty result with the table's columns, from any file.
            newest = str(_newest_in_lake(self.config.lake_root, req.spec.name)[0])
            cold = f"(SELECT * FROM read_parquet({sql.bind(newest)}, hive_partitioning = false{named}) WHERE false)"
        return builder.rows(req, sql, cold, hot, every, day_of_file_sql() if cold and every else None)

    def _cached(self, key_sql: tuple, sql: Sql, version: tuple) -> pa.Table:
        key = (*key_sql, _freeze(sql.params), version)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        result = self._run(key_sql[1], sql.params)
        self._cache.put(key, result)
        return result

    def _run(self, text: str, params: dict) -> pa.Table:
        return _execute(self._con.cursor(), text, params).to_arrow_table()

    def _stream(self, text: str, params: dict, batch_rows: int) -> pa.RecordBatchReader:
        cur = self._con.cursor()
        reader = _execute(cur, text, params).to_arrow_reader(batch_rows)

        def batches():
            # The cursor must live as long as the reader does.
            with cur:
                yield from reader

        return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _execute(cur: duckdb.DuckDBPyConnection, text: str, params: dict) -> duckdb.DuckDBPyConnection:
    try:
        return cur.execute(text, params)
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}", "check the columns, filters and values asked for") from None


def _newest_in_lake(root: Path, table: str):
    """The newest day file of a table: (path, mtime_ns), or None when the lake has none."""
    years = sorted(int(p.name[5:]) for p in (Path(root) / table).glob("year=*") if p.name[5:].isdigit())
    for year in reversed(years):
        found = list(iter_day_files(root, table, date(year, 1, 1), date(year, 12, 31)))
        if found:
            return found[-1][1], found[-1][2].st_mtime_ns
    return None


def _text(value) -> str:
    return " AND ".join(value) if isinstance(value, list) else str(value or "")


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    return value

