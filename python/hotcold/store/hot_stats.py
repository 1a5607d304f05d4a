"""Read-only facts about the hot store, straight from it, without dbt.

`hotcold status` and `hotcold rotate --dry-run` answer from here in well under a second:
they neither parse the dbt project nor take the rotation lock nor write anything. The rotation
itself decides what ages out in its dbt macros (macros/lifecycle/window.sql, `ages_out`);
`aging_predicate` below is the same rule, and tests/test_read_only.py proves the two agree
row for row (docs/decisions/0002-read-only-commands-without-dbt.md says why there are two).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from hotcold.config import Config, TableSpec
from hotcold.errors import HotColdError
from hotcold.sqltext import lit as _lit
from hotcold.sqltext import q as _q
from hotcold.store.partitions import tree_sql

# The lake files a row under year=/month=/day= of its UTC time; these are the first and last
# times such a folder can name (window.sql: hotcold_first_day_sql, hotcold_last_time_sql).
FIRST_FILEABLE = "'0001-01-01 00:00:00+00'::timestamptz"
LAST_FILEABLE = "'9999-12-31 23:59:59.999999+00'::timestamptz"


@dataclass
class HotTableStats:
    """One hot table as `status` shows it. Bytes are bytes; times are ISO text in UTC (text,
    because PostgreSQL holds times Python cannot: infinity, BC, after 9999); None where the
    table is missing (`note` says so) or the store cannot tell (DuckDB keeps no sizes)."""

    rows: int | None = None
    data_bytes: int | None = None  # the rows themselves (PostgreSQL: pg_column_size of each row)
    disk_bytes: int | None = None  # on disk: table, TOAST and indexes (pg_total_relation_size, over its partitions)
    reusable_bytes: int | None = None  # free inside the table: new rows fill it, the files do not shrink
    oldest: str | None = None
    newest: str | None = None
    aging_rows: int | None = None  # rows older than the window, which the next rotation archives
    unfileable_rows: int | None = None  # time NULL, infinite or outside years 1-9999: never age out
    note: str | None = None
    intervals: list[IntervalStats] = field(default_factory=list)
    partitions: PartitionPlan | None = None  # a range-partitioned table: what leaves whole next run
    partman_retention: str | None = None  # pg_partman's retention, when it can drop a partition hotcold has not archived


@dataclass
class LeavingPartition:
    """A partition the next rotation would detach and drop: its name (schema-qualified, as
    PostgreSQL prints it) and rows."""

    name: str
    rows: int


@dataclass
class PartitionPlan:
    """How a range-partitioned table's aged rows would leave: the partitions that go whole
    (store/partitions.py says which), and the rows left to the row-level delete."""

    leaving: list[LeavingPartition]
    rows_by_delete: int


@dataclass
class IntervalStats:
    """One bar interval of a hot table (`interval` None: the table has no interval column),
    as `cleanup --analyze-only` shows it: rows and bytes, oldest and newest time (ISO text,
    UTC), and the rows, bytes and UTC days older than the window."""

    interval: str | None
    rows: int
    bytes: int
    oldest: str | None
    newest: str | None
    aged_rows: int
    aged_bytes: int
    aged_days: int


@dataclass
class AgedDay:
    """One UTC day of rows the next rotation would archive: rows, and their bytes in the hot store."""

    day: date
    rows: int
    bytes: int


def window_cutoff(as_of: date, hot_days: int) -> datetime:
    """Start (UTC) of the as-of day minus `hot_days`: rows older than this age out
    (window.sql: hot_window_cutoff)."""
    return datetime.combine(as_of - timedelta(days=hot_days), time(), timezone.utc)


def aging_predicate(spec: TableSpec, cutoff: datetime, hot_intervals: tuple[str, ...], q) -> str:
    """SQL, read alike by PostgreSQL and DuckDB, true for a row the rotation archives as of
    `cutoff` (window.sql: ages_out): its time fits a lake day and is older than the window, or
    its interval is not a hot one. `q` quotes an identifier."""
    ts = q(spec.time_column)
    older = f"{ts} < {_lit(cutoff.isoformat())}::timestamptz"
    fileable = f"({ts} >= {FIRST_FILEABLE} AND {ts} <= {LAST_FILEABLE})"
    if not spec.interval_column:
        return f"({fileable} AND {older})"
    iv = q(spec.interval_column)
    hot = ", ".join(_lit(i) for i in hot_intervals)
    return f"({fileable} AND ({older} OR ({iv} IS NULL OR {iv} NOT IN ({hot}))))"


def table_stats(config: Config, specs: list[TableSpec], cutoff: datetime) -> dict[str, HotTableStats]:
    """Per table name: its HotTableStats as of `cutoff`. One read-only session on the hot
    store. Raises HotColdError when the store cannot be reached or is in use by a writer."""
    with _session(config) as run:
        return {spec.name: _table_stats(run, config, spec, cutoff) for spec in specs}


def aged_days(config: Config, specs: list[TableSpec], cutoff: datetime) -> dict[str, list[AgedDay] | None]:
    """Per table name: the days the next rotation as of `cutoff` would archive, oldest first;
    None for a table the hot store does not have. What `rotate --dry-run` reports."""
    out: dict[str, list[AgedDay] | None] = {}
    with _session(config) as run:
        for spec in specs:
            rel = _relation(run, config, spec)
            if rel is None:
                out[spec.name] = None
                continue
            pred = aging_predicate(spec, cutoff, config.hot_intervals, _q)
            ts = _q(spec.time_column)
            day = _utc_day(run, ts)
            rows = run.fetch(f"SELECT {day} AS day, count(*), sum({_row_bytes(run, rel)})::bigint FROM {rel} t WHERE {pred} GROUP BY 1 ORDER BY 1")
            out[spec.name] = [AgedDay(d, int(n), int(b or 0)) for d, n, b in rows]
    return out


def partition_plans(config: Config, specs: list[TableSpec], cutoff: datetime) -> dict[str, PartitionPlan | None]:
    """Per table name: its PartitionPlan as of `cutoff`; None for a plain table, a missing one,
    or a DuckDB hot store. What `rotate --dry-run` adds to its plan."""
    with _session(config) as run:
        out: dict[str, PartitionPlan | None] = {}
        for spec in specs:
            rel = _relation(run, config, spec)
            out[spec.name] = None if rel is None else _partition_plan(run, rel, spec, cutoff, aging_predicate(spec, cutoff, config.hot_intervals, _q))
        return out


def _partition_plan(run, rel: str, spec: TableSpec, cutoff: datetime, pred: str) -> PartitionPlan | None:
    # The rotation checks each partition's rows against its stage under the DETACH's lock; a
    # plan can only check that they all age out (a partition holding a row that never does,
    # NULL or infinite time, stays).
    if run.kind != "postgres":
        return None
    nodes = run.fetch(tree_sql(rel, spec.time_column, cutoff.isoformat()))
    if not nodes:
        return None
    leaving = []
    for node in nodes:
        if node[7]:  # leaves
            (rows, aged), = run.fetch(f"SELECT count(*), count(*) FILTER (WHERE {pred}) FROM {node[0]} t")
            if rows == aged:
                leaving.append(LeavingPartition(node[0], int(rows)))
    (aged,), = run.fetch(f"SELECT count(*) FROM {rel} t WHERE {pred}")
    return PartitionPlan(leaving, int(aged) - sum(p.rows for p in leaving))


def _risky_partman_retention(run, rel: str, hot_days: int) -> str | None:
    """pg_partman's `retention` for table `rel` (its part_config, in whatever schema the
    extension lives) when partman would drop partitions within hot_days + 1 days, or drop them
    at all (retention_keep_table false): it drops them whether or not hotcold archived them.
    None otherwise (no partman, no retention, or a safe one)."""
    (schema,), = run.fetch("SELECT (SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman')")
    if schema is None:
        return None
    found = run.fetch(f"SELECT retention FROM {_q(schema)}.part_config WHERE retention IS NOT NULL"
                      f" AND (NOT retention_keep_table OR retention::interval <= make_interval(days => {int(hot_days) + 1}))"
                      f" AND parent_table = (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                      f" WHERE c.oid = {_lit(rel)}::regclass)")
    return found[0][0] if found else None


def _table_stats(run, config: Config, spec: TableSpec, cutoff: datetime) -> HotTableStats:
    rel = _relation(run, config, spec)
    if rel is None:
        return HotTableStats(note="not in the hot store")
    ts = _q(spec.time_column)
    pred = aging_predicate(spec, cutoff, config.hot_intervals, _q)
    unfileable = f"{ts} IS NULL OR {ts} < {FIRST_FILEABLE} OR {ts} > {LAST_FILEABLE}"
    row_bytes = _row_bytes(run, rel)
    day = _utc_day(run, ts)
    interval = f"{_q(spec.interval_column)}::text" if spec.interval_column else "NULL::text"
    # Times as text: PostgreSQL's infinity and BC dates have no Python datetime.
    found = run.fetch(
        f"SELECT {interval}, count(*), sum({row_bytes})::bigint, min({ts})::timestamptz::text, max({ts})::timestamptz::text,"
        f" count(*) FILTER (WHERE {pred}), coalesce(sum({row_bytes}) FILTER (WHERE {pred}), 0)::bigint,"
        f" count(DISTINCT {day}) FILTER (WHERE {pred}), count(*) FILTER (WHERE {unfileable})"
        f" FROM {rel} t GROUP BY 1 ORDER BY 1 NULLS FIRST")
    stats = HotTableStats(rows=0, data_bytes=0, aging_rows=0, unfileable_rows=0)
    for iv, rows, data, oldest, newest, aged, aged_bytes, aged_days, stuck in found:
        stats.intervals.append(IntervalStats(iv, int(rows), int(data or 0), _iso(oldest), _iso(newest), int(aged), int(aged_bytes), int(aged_days)))
        stats.rows += int(rows)
        stats.data_bytes += int(data or 0)
        stats.aging_rows += int(aged)
        stats.unfileable_rows += int(stuck)
    if not stats.intervals:  # an empty table still has its line (as `cleanup --analyze-only` shows it)
        stats.intervals.append(IntervalStats(None, 0, 0, None, None, 0, 0, 0))
    times = [i for i in stats.intervals if i.oldest is not None]
    # Text order is time order for ISO times of years 1000-9999; the rare others sort as text.
    stats.oldest = min((i.oldest for i in times), default=None)
    stats.newest = max((i.newest for i in times), default=None)
    if run.kind == "postgres":
        # Summed over the partition tree: a partitioned table's own size is 0, its partitions
        # hold the rows (a plain table is its own tree of one).
        (heap, total, block), = run.fetch(
            f"SELECT sum(pg_relation_size(relid))::bigint, sum(pg_total_relation_size(relid))::bigint, current_setting('block_size')::int"
            f" FROM (SELECT relid FROM pg_partition_tree({_lit(rel)}::regclass) UNION SELECT {_lit(rel)}::regclass) tree")
        stats.disk_bytes = int(total)
        # What the rows leave free in the heap: each row also takes a 4-byte line pointer and
        # each page a 24-byte header (PostgreSQL's page layout). An estimate: padding and
        # fillfactor are not counted, so it errs low.
        pages = heap // block
        stats.reusable_bytes = max(0, int(heap) - stats.data_bytes - 4 * stats.rows - 24 * pages)
    stats.partitions = _partition_plan(run, rel, spec, cutoff, pred)
    if stats.partitions is not None:
        stats.partman_retention = _risky_partman_retention(run, rel, config.hot_days)
    return stats


def _utc_day(run, ts: str) -> str:
    """The UTC day of time column `ts`, as SQL (every session of hotcold's runs in UTC)."""
    return f"({ts} AT TIME ZONE 'UTC')::date" if run.kind == "postgres" else f"{ts}::date"


def _row_bytes(run, rel: str) -> str:
    """One row's bytes in the hot store, as SQL over the row `t`. PostgreSQL: the tuple header
    plus each stored value (pg_column_size(t.*) would be simpler but depends on the plan that
    formed the row, so it is not repeatable). DuckDB keeps no per-row size; the row's text
    width stands in."""
    if run.kind != "postgres":
        return "strlen(t::varchar)"
    columns = run.fetch(f"SELECT attname FROM pg_attribute WHERE attrelid = {_lit(rel)}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
    return "(24 + " + " + ".join(f"coalesce(pg_column_size({_q(c)}), 0)" for c, in columns) + ")"


def _relation(run, config: Config, spec: TableSpec) -> str | None:
    """The table's quoted name, or None when the hot store has no such table."""
    rel = f"{_q(config.hot.schema)}.{_q(spec.name)}"
    if run.kind == "postgres":
        (found,), = run.fetch(f"SELECT to_regclass({_lit(rel)}) IS NOT NULL")
    else:
        # Literals, not parameters: binding any makes DuckDB import pandas (0.4 s).
        (found,), = run.fetch(f"SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = {_lit(config.hot.schema)} AND table_name = {_lit(spec.name)}")
    return rel if found else None


class _session:
    """One read-only session on the hot store: `fetch(sql)` returns all rows."""

    def __init__(self, config: Config):
        self.config, self.kind = config, config.hot.kind

    def __enter__(self):
        if self.kind == "postgres":
            from hotcold.store.hot_store import connect_pg

            self.conn = connect_pg(self.config, autocommit=True)
            self.conn.execute("SET default_transaction_read_only = on")
            return self
        import duckdb

        path = self.config.hot.path
        try:
            # A store not made yet holds no tables: an in-memory database answers alike.
            self.conn = duckdb.connect(str(path), read_only=True) if path.exists() else duckdb.connect()
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise HotColdError(f"the hot store {self.config.hot.describe()} is in use by a rotation or another writer", "try again when it finishes") from None
            raise HotColdError(f"cannot open the hot store {self.config.hot.describe()}: {str(exc).splitlines()[0]}", "check storage.hot_store.path") from None
        self.conn.execute("SET TimeZone = 'UTC'")
        return self

    def fetch(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()

    def __exit__(self, *exc):
        self.conn.close()


def _iso(text: str | None) -> str | None:
    """PostgreSQL's or DuckDB's timestamptz text as ISO 8601 (`2026-11-02T00:00:00+00:00`);
    text Python cannot read as a time (infinity, BC, year 10000+) is kept as it is."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return text
