"""StorageRouter: one query, answered from the tier(s) that hold its rows.

The router asks where the rows are rather than assuming: the lake's day files in the range
(the exact list the engine would open) and the oldest row still in the hot store (one index
lookup). A range that starts at or after the hot store's oldest row and has no lake day goes to
the hot store only; a range that ends before it goes to the lake only; a range across both goes
to both, merged so each key appears once and the hot row wins (a row is in both tiers between
a rotation's publish and its delete). Rows of intervals that are never hot (1min bars) are in
the lake even for recent days, and the file list finds them there.

A query routed to the hot store holds the shared lock `hotcold.tiers` (lock.TiersReadLock) from
the route to the last row, so no rotation's delete runs between its listing of the lake and its
reading of the hot store: it sees every row once, even while a rotation moves them. A query
over rows that have all left the hot store reads the lake alone and takes no lock.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from hotcold.config import Config
from hotcold.faults import fail_point
from hotcold.query.engine import ColdStorageQueryEngine, LakePlan
from hotcold.query.sql import (
    Builder,
    QueryError,
    Request,
    Sql,
    q,
    symbols_arg,
    where_arg,
)
from hotcold.query.timerange import TimeRange
from hotcold.sqltext import lit
from hotcold.store import lake_types
from hotcold.store.hot_store import attach_hot
from hotcold.store.lake import table_has_files
from hotcold.store.lock import TiersReadLock

TIERS = ("auto", "hot", "cold")


@dataclass(frozen=True)
class Route:
    table: str
    tiers: tuple[str, ...]  # ("hot",), ("cold",), ("hot", "cold") or () when neither has rows
    plan: LakePlan
    hot_oldest: datetime | None  # the oldest row in the hot store; None when it is empty


@dataclass(frozen=True)
class RoutedResult:
    table: pa.Table
    route: Route
    history_index: bool = False  # the lake's rows came from the history index, not the day files

    @property
    def tiers(self) -> tuple[str, ...]:
        return self.route.tiers

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self, **kwargs):
        return self.table.to_pandas(**kwargs)


class StorageRouter:
    def __init__(self, config: Config, engine: ColdStorageQueryEngine | None = None):
        self.config = config
        self.engine = engine or ColdStorageQueryEngine(config)
        self._hot_attached = False
        self._steady = TiersReadLock(config)  # and the session for small lookups in PostgreSQL

    def route(self, table: str, start=None, end=None, tz: str | None = None, tier: str = "auto") -> Route:
        if tier not in TIERS:
            raise QueryError(f"unknown tier {tier!r}", "use auto, hot or cold")
        # The hot store's oldest row first, the lake's files after: when the range ends before
        # that row, every row of the range had left the hot store, published before, so the
        # files listed after hold them all and a cold-only query needs no lock.
        oldest = self._hot_oldest(table) if tier != "cold" else None
        plan = self.engine.plan(table, start, end, tz)
        rng = plan.range
        cold = tier == "cold" or (tier == "auto" and bool(plan.files))
        # A table keyed without its time column may hold a newer version of a lake row at
        # another time, outside the range: the hot store is read to hide the older one.
        spec = self.config.table(table)
        moved = cold and spec.time_column not in spec.key
        hot = tier == "hot" or (tier == "auto" and oldest is not None and (rng.end is None or rng.end > oldest or moved))
        if not cold:
            plan = LakePlan(plan.table, plan.range, (), ())
        return Route(plan.table, tuple(t for t, used in (("hot", hot), ("cold", cold)) if used), plan, oldest)

    def query(self, table: str, start=None, end=None, symbols=None, columns=None, where=None, tz: str | None = None, tier: str = "auto") -> RoutedResult:
        """The rows of `table` in [start, end) (naive times read in `tz`, as PostgreSQL with
        that TimeZone reads them), for `symbols`, passing every filter of `where` (see
        query_sql.where_arg), ordered by time and key; each key once, its newest version."""
        with ExitStack() as held:
            route = self._route_held(held, table, start, end, tz, tier)
            if route.tiers == ("cold",):
                rows, from_index = self.engine._query(table, start, end, symbols, columns, where, tz)
                return RoutedResult(rows, route, from_index)
            builder, req, sql, rows = self._rows(route, symbols, where)
            return RoutedResult(self.engine._run(builder.select(rows, columns), sql.params), route)

    def aggregate(self, table: str, every: str, by=None, metrics=None, start=None, end=None, symbols=None, where=None, tz: str | None = None, tier: str = "auto") -> RoutedResult:
        """Buckets of `every` (e.g. "1h") of the rows query() would return, per `by`."""
        with ExitStack() as held:
            route = self._route_held(held, table, start, end, tz, tier)
            if route.tiers == ("cold",):
                rows, from_index = self.engine._aggregate(table, every, by, metrics, start, end, symbols, where, tz)
                return RoutedResult(rows, route, from_index)
            builder, req, sql, rows = self._rows(route, symbols, where, every)
            return RoutedResult(self.engine._run(builder.aggregate(rows, by, metrics), sql.params), route)

    def close(self) -> None:
        self._steady.close()
        self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -----------------------------------------------------------------------------------
    def _route_held(self, held: ExitStack, table, start, end, tz, tier) -> Route:
        """The route, with the tiers lock entered on `held` when the query reads the hot store
        on a route of its own choosing (tier auto): routed again under the lock, as a rotation
        may have moved rows since. A cold-only route needs no lock (see route()), nor does an
        explicit tier, which asks for one tier's rows as they are."""
        route = self.route(table, start, end, tz, tier)
        if tier == "auto" and "hot" in route.tiers:
            held.enter_context(self._steady.held())
            route = self.route(table, start, end, tz, tier)
        fail_point("router.planned")
        return route

    def _rows(self, route: Route, symbols, where, every: str | None = None):
        spec = self.config.table(route.table)
        schema = self._schema(route)
        builder = Builder(spec, schema)
        req = Request(spec, route.plan.range, symbols_arg(symbols), where_arg(where))
        sql = Sql()
        use_hot = "hot" in route.tiers
        if not route.tiers:
            # Neither tier has rows in the range: an empty answer with the table's columns.
            use_hot = not table_has_files(self.config.lake_root, spec.name)
        # The hot rows that hide lake rows are read by the range only where the key holds the time.
        rng = route.plan.range if spec.time_column in spec.key else TimeRange(None, None)
        hot = self._hot_rows(spec, rng, schema) if use_hot else None
        return builder, req, sql, self.engine._rows(builder, req, sql, route.plan.files, hot, every)

    def _schema(self, route: Route) -> dict[str, str]:
        """The lake's column types when it has files for the table (so both tiers line up),
        else the hot table's."""
        try:
            return self.engine.schema(route.table, route.plan)
        except QueryError:
            if not self._hot_exists(route.table):
                raise QueryError(f"table {route.table} is neither in the hot store nor in the lake", f"create {self.config.hot.schema}.{route.table} or check tables.{route.table} in the config") from None
            rows = self._con().execute(f"DESCRIBE SELECT * FROM {self._hot_relation(route.table)}").fetchall()
            return {r[0]: r[1] for r in rows}

    def _con(self) -> duckdb.DuckDBPyConnection:
        if not self._hot_attached:
            attach_hot(self.engine._con, self.config, read_only=True)
            self._hot_attached = True
        return self.engine._con.cursor()

    def _hot_relation(self, table: str) -> str:
        return f"hot.{q(self.config.hot.schema)}.{q(table)}"

    def _hot_rows(self, spec, rng, schema: dict[str, str]) -> str:
        """The hot rows as a relation with every column of `schema` (the lake's), NULL where the
        hot table has none any more (dropped or renamed since those days were archived), each
        column as the lake holds it (lake_types): a table with a column the lake keeps as exact
        text (unbounded numeric, interval, json, arrays..., or a domain) is read through
        postgres_query with PostgreSQL's own text of those columns, and the time range in
        PostgreSQL's WHERE so its index still serves the range; DuckDB's scanner would read them
        its own way (or round unbounded numeric to DOUBLE)."""
        relation = self._hot_relation(spec.name)
        if self.config.hot.kind != "postgres":
            present = [r[0] for r in self._con().execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
            return _with_columns(relation, present, schema)
        columns = self._hot_columns(spec.name)
        present = [c[0] for c in columns]
        sent = [lake_types.sent_expression(*c) for c in columns]
        if all(s == q(c[0]) for s, c in zip(sent, columns)):
            return _with_columns(relation, present, schema)
        cols = ", ".join(f"{s} AS {q(c[0])}" for s, c in zip(sent, columns))
        ts = q(spec.time_column)
        where = []
        if rng.start:
            where.append(f"{ts} >= '{rng.start.isoformat()}'::timestamptz")
        if rng.end:
            where.append(f"{ts} < '{rng.end.isoformat()}'::timestamptz")
        text = f"SELECT {cols} FROM {q(self.config.hot.schema)}.{q(spec.name)}" + (" WHERE " + " AND ".join(where) if where else "")
        return _with_columns(f"postgres_query('hot', {lit(text)})", present, schema)

    def _hot_columns(self, table: str) -> list[tuple[str, str, str]]:
        rel = lit(f"{q(self.config.hot.schema)}.{q(table)}")
        return self._con().execute("SELECT * FROM postgres_query('hot', $sql)", {"sql": lake_types.COLUMNS_SQL.format(rel=rel)}).fetchall()

    def _hot_exists(self, table: str) -> bool:
        found = self._con().execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'hot' AND schema_name = $s AND table_name = $t",
            {"s": self.config.hot.schema, "t": table},
        ).fetchone()[0]
        return bool(found)

    def _hot_oldest(self, table: str) -> datetime | None:
        """The oldest time in the hot table (UTC), None when it is empty or missing."""
        spec = self.config.table(table)
        if self.config.hot.kind == "postgres":
            # One index lookup on the router's own session (the tiers lock's): a tenth of the
            # time the same min() takes through DuckDB's postgres_query. Identifiers only.
            pg = self._steady.session()
            rel = f"{q(self.config.hot.schema)}.{q(table)}"
            if pg.execute("SELECT to_regclass(%s)", [rel]).fetchone()[0] is None:
                return None
            # As text: psycopg cannot hold infinity or BC times; the session's zone is UTC.
            value = pg.execute(f"SELECT min({q(spec.time_column)})::text FROM {rel}").fetchone()[0]
            value = _pg_time(value) if value is not None else None
        else:
            if not self._hot_exists(table):
                return None
            value = self._con().execute(f"SELECT min({q(spec.time_column)}) FROM {self._hot_relation(table)}").fetchone()[0]
        if isinstance(value, str):
            # A time Python cannot hold (BC, -infinity): older than any range asked for.
            return datetime.min.replace(tzinfo=timezone.utc) if value.startswith("-") or "BC" in value else datetime.max.replace(tzinfo=timezone.utc)
        if value is not None and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _with_columns(relation: str, present: list[str], schema: dict[str, str]) -> str:
    """`relation` with a NULL for each column of `schema` it lacks."""
    missing = [c for c in schema if c not in present]
    if not missing:
        return relation
    return f"(SELECT *, {', '.join(f'NULL AS {q(c)}' for c in missing)} FROM {relation})"


def _pg_time(text: str) -> datetime | str:
    """PostgreSQL's text of a date or time in a UTC session ('2026-11-02', '2026-11-02
    09:30:00.5', '2026-11-02 09:30:00+00') as a datetime; infinity and BC stay text."""
    if "infinity" in text or "BC" in text:
        return text
    # '+00' -> '+00:00' and '.5' -> '.500000': the forms fromisoformat takes on Python 3.10 too.
    text = re.sub(r"([+-]\d\d)$", r"\1:00", text) if len(text) > 10 else text
    text = re.sub(r"\.(\d{1,6})", lambda m: "." + m.group(1).ljust(6, "0"), text)
    return datetime.fromisoformat(text)
