"""The SQL behind every query of the lake and the hot store, built from checked parts.

Identifiers are checked against the table's real columns and quoted; every value (times,
symbols, filter values, bucket width, file list) is a bound parameter, never text in the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from hotcold.config import TableSpec
from hotcold.errors import HotColdError
from hotcold.query.timerange import TimeRange
from hotcold.sqltext import q  # noqa: F401  re-exported: the query modules quote through it

SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/^=#+-]{0,63}$")
OPS = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
EVERY = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
UNITS = {
    "s": "second", "sec": "second", "second": "second", "seconds": "second",
    "m": "minute", "min": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "w": "week", "week": "week", "weeks": "week",
    "mo": "month", "month": "month", "months": "month",
    "y": "year", "year": "year", "years": "year",
}
AGGS = {
    "first": "arg_min({col}, {time})",
    "last": "arg_max({col}, {time})",
    "min": "min({col})",
    "max": "max({col})",
    "sum": "sum({col})",
    "mean": "avg({col})",
    "avg": "avg({col})",
    "median": "median({col})",
    "std": "stddev_samp({col})",
    "count": "count({col})",
}
TZ = "TIMESTAMP WITH TIME ZONE"
BUCKET = "_hc_bucket"  # each row's time bucket, from rows() to aggregate()
WHOLE_DAYS = ("day", "week", "month", "year")
DAY_BUCKETABLE = ("DATE", "TIMESTAMP", TZ)  # time column types whose lake day is the row's own day
OHLCV = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


class QueryError(HotColdError):
    pass




@dataclass(frozen=True)
class Request:
    """One query, checked: the same for the lake, the hot store and both."""

    spec: TableSpec
    range: TimeRange
    symbols: tuple[str, ...] | None = None
    where: tuple[tuple[str, str, Any], ...] = ()

    @property
    def time(self) -> str:
        return self.spec.time_column


def symbols_arg(symbols) -> tuple[str, ...] | None:
    if symbols is None:
        return None
    if isinstance(symbols, str):
        symbols = [symbols]
    out = tuple(dict.fromkeys(str(s).strip() for s in symbols))
    for s in out:
        if not SYMBOL.match(s):
            raise QueryError(f"symbol {s!r} is not a ticker", "symbols are letters and digits with . _ : / ^ = # + - (at most 64 characters)")
    if not out:
        raise QueryError("symbols is an empty list", "pass at least one symbol, or none for every symbol")
    return out


def where_arg(where) -> tuple[tuple[str, str, Any], ...]:
    """The filters of a query as (column, op, value) triples, all of which a row must pass (AND).

    `where` is None, or a sequence of filters, each a (column, op, value) triple or a
    "COLUMN OP VALUE" string (where_text), or a mapping {column: condition} where a condition
    is a value (equality), a list or set of values (membership), an (op, value) pair, or a
    list of (op, value) pairs (a range: [(">=", 110), ("<", 115)]). A filter is never dropped
    or merged: two on one column both apply."""
    if where is None:
        return ()
    out: list[tuple[str, str, Any]] = []
    if isinstance(where, Mapping):
        for col, cond in where.items():
            if isinstance(cond, list) and cond and all(_is_comparison(c) for c in cond):
                out += [_comparison(col, *c) for c in cond]
            elif _is_comparison(cond):
                out.append(_comparison(col, *cond))
            elif isinstance(cond, (list, set, frozenset)):
                out.append((col, "in", list(cond)))
            else:
                out.append((col, "=", cond))
        return tuple(out)
    if isinstance(where, str):
        where = [where]
    for item in where:
        if isinstance(item, str):
            out += where_text([item])
        elif isinstance(item, (tuple, list)) and len(item) == 3 and isinstance(item[1], str):
            col, op, value = item
            out.append((col, "in", list(value)) if op.strip().lower() == "in" else _comparison(col, op, value))
        else:
            raise QueryError(f"filter {item!r} is not (column, op, value) nor 'COLUMN OP VALUE'", "e.g. where=[('close', '>=', 110), ('close', '<', 115)]")
    return tuple(out)


def _is_comparison(cond) -> bool:
    return isinstance(cond, tuple) and len(cond) == 2 and isinstance(cond[0], str)


def _comparison(col: str, op: str, value) -> tuple[str, str, Any]:
    found = OPS.get(op.strip())
    if found is None:
        raise QueryError(f"unknown operator {op!r} for column {col!r}", f"use one of {', '.join(OPS)}, or in")
    return (col, found, value)


_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|<>|==|=|>|<)\s*(.*?)\s*$")
_MEMBERSHIP = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.*?)\s*$", re.IGNORECASE)


def where_text(items: list[str] | None) -> list[tuple[str, str, Any]]:
    """Shell filters, all applied (AND): "interval=1min", "close>=100", "symbol!=X", and
    "interval in 1min,5min" (any of the values: OR within one column)."""
    out: list[tuple[str, str, Any]] = []
    for item in items or []:
        m = _MEMBERSHIP.match(item)
        if m:
            values = [v.strip() for v in m.group(2).strip("()").split(",") if v.strip()]
            if not values:
                raise QueryError(f"--where {item!r} lists no values", "e.g. --where 'interval in 1min,5min'")
            out.append((m.group(1), "in", values))
            continue
        m = _FILTER.match(item)
        if not m:
            raise QueryError(f"--where {item!r} is not COLUMN OP VALUE", "e.g. --where interval=1min --where 'close>100' --where 'interval in 1min,5min'")
        out.append(_comparison(*m.groups()))
    return out


def every_arg(every: str) -> str:
    m = EVERY.match(str(every).lower())
    if not m or m.group(2) not in UNITS or int(m.group(1)) <= 0:
        raise QueryError(f"--every {every!r} is not a bucket width", "use e.g. 1min, 5min, 1h, 1d, 1w, 1mo")
    return f"{int(m.group(1))} {UNITS[m.group(2)]}"


def metrics_arg(metrics, schema: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(output name, function, column) for each metric. Default and "ohlcv": the bar columns
    the table has; a mapping is {output: function} or {output: (function, column)}."""
    if metrics in (None, "ohlcv"):
        found = [(c, f, c) for c, f in OHLCV.items() if c in schema]
        if not found:
            raise QueryError("this table has no open/high/low/close/volume columns to resample", "pass metrics, e.g. {'value': 'mean'} (--metrics value=mean)")
        return found
    if not isinstance(metrics, Mapping) or not metrics:
        raise QueryError(f"metrics must be 'ohlcv' or a mapping of column to function, got {metrics!r}", "e.g. {'close': 'last', 'volume': 'sum'}")
    out = []
    for name, how in metrics.items():
        func, col = (how if isinstance(how, tuple) else (how, name))
        if func not in AGGS:
            raise QueryError(f"unknown aggregate {func!r} for {name!r}", f"use one of {', '.join(AGGS)}")
        out.append((str(name), func, col))
    return out


@dataclass
class Sql:
    """SQL text with its bound parameters, built up piece by piece."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def bind_list(self, values, cast: str | None = None) -> str:
        """One parameter per value: DuckDB pushes `col IN ($a, $b)` into the Parquet scan,
        where a list parameter would become a join."""
        binds = [self.bind(v) for v in values] or ["NULL"]
        return ", ".join(f"CAST({b} AS {cast})" if cast else b for b in binds)


class Builder:
    """Builds queries over one table whose lake columns (name -> DuckDB type) are known."""

    def __init__(self, spec: TableSpec, schema: Mapping[str, str]):
        self.spec, self.schema = spec, dict(schema)

    def column(self, name: str) -> str:
        if name not in self.schema:
            raise QueryError(f"unknown column {name!r} in table {self.spec.name}", f"columns are: {', '.join(self.schema)}")
        return q(name)

    def columns(self, names) -> list[str]:
        if names is None:
            return [q(c) for c in self.schema]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if not names:
            raise QueryError("columns is an empty list", "pass at least one column, or none for all")
        return [self.column(n) for n in names]

    def predicate(self, req: Request, sql: Sql) -> str:
        parts = []
        t = self.column(req.time)
        # Bind the bounds as the column's own type: a naive TIMESTAMP column holds UTC.
        ttype = self.schema[req.time]
        if req.range.start is not None:
            parts.append(f"{t} >= CAST({sql.bind(req.range.start)} AS {ttype})")
        if req.range.end is not None:
            parts.append(f"{t} < CAST({sql.bind(req.range.end)} AS {ttype})")
        if req.symbols is not None:
            if not self.spec.symbol_column:
                raise QueryError(f"table {self.spec.name} has no symbol column", f"set tables.{self.spec.name}.symbol_column in the config, or filter with where")
            parts.append(f"{self.column(self.spec.symbol_column)} IN ({sql.bind_list(req.symbols)})")
        for col, op, value in req.where:
            # Cast to the column's type, so "close>100" from a shell compares numbers.
            c, ctype = self.column(col), self.schema[col]
            if op == "in":
                parts.append(f"{c} IN ({sql.bind_list(value, ctype)})")
            else:
                parts.append(f"{c} {op} CAST({sql.bind(value)} AS {ctype})")
        return " AND ".join(parts) or "true"

    def rows(self, req: Request, sql: Sql, cold: str | None, hot: str | None, every: str | None = None, cold_day: str | None = None) -> str:
        """Every lake column of the rows asked for, from the lake, the hot store, or both.

        With both, each key appears once and its hot version wins (a row is in both tiers
        between a rotation's publish and its delete, and a late correction replaces an archived
        row), and the filters apply to the winning version only, as in the unified views: a
        hot version that fails them hides the lake's older one rather than letting it through.
        So the hot rows that shadow the lake are read with only the filters that cannot tell
        two versions of a key apart (key_predicate); the lake's rows may take every filter, as
        one that fails them would be dropped whether it won or not.

        With `every`, each row also carries its time bucket (BUCKET) for aggregate(). Buckets
        of whole days follow from a row's day alone, so cold rows take theirs from their day
        file's day (`cold_day`, constant per file) when the cold relation gives one: computed
        once per file instead of per row (per row, a month bucket cost more than reading the
        rows)."""
        cols = ", ".join(q(c) for c in self.schema)
        width = f"CAST({sql.bind(every_arg(every))} AS INTERVAL)" if every else None
        if not (hot or cold):
            raise ValueError("rows() needs a source")
        if cold:
            day = cold_day if width and self._whole_days(every) and not hot else None
            bucket = f", {self._bucket(width, day)} AS {BUCKET}" if width and not hot else ""
            cold_sql = f"SELECT {cols}{bucket} FROM {cold} WHERE {self.predicate(req, sql)}"
            if not hot:
                return cold_sql
        hot_cols = ", ".join(f"CAST({q(c)} AS {t}) AS {q(c)}" for c, t in self.schema.items())
        if not cold:
            hot_sql = f"SELECT {hot_cols} FROM {hot} WHERE {self.predicate(req, sql)}"
            return f"SELECT *, {self._bucket(width)} AS {BUCKET} FROM ({hot_sql}) h0" if width else hot_sql
        keys = " AND ".join(f"h.{q(k)} = c.{q(k)}" for k in self.spec.key)
        merged = (f"WITH h AS MATERIALIZED (SELECT {hot_cols} FROM {hot} WHERE {self.key_predicate(req, sql)})"
                  f" SELECT {cols} FROM h WHERE {self.predicate(req, sql)} UNION ALL"
                  f" SELECT {cols} FROM ({cold_sql}) c WHERE NOT EXISTS (SELECT 1 FROM h WHERE {keys})")
        return f"SELECT *, {self._bucket(width)} AS {BUCKET} FROM ({merged}) m" if width else merged

    def key_predicate(self, req: Request, sql: Sql) -> str:
        """The part of the query's filters that two versions of one key always agree on: those
        on key columns (the time range too when the time column is in the key, as in
        (symbol, interval, ts)). Safe to apply before choosing a key's version, so the hot
        store still reads only the range through its time index."""
        key = set(self.spec.key)
        narrowed = Request(
            req.spec,
            req.range if req.time in key else TimeRange(None, None),
            req.symbols if self.spec.symbol_column in key else None,
            tuple(w for w in req.where if w[0] in key),
        )
        return self.predicate(narrowed, sql)

    def _whole_days(self, every: str) -> bool:
        return every_arg(every).split()[1] in WHOLE_DAYS and self.schema[self.spec.time_column] in DAY_BUCKETABLE

    def _bucket(self, width: str, day: str | None = None) -> str:
        """A row's bucket of the time column's UTC wall clock (TIMESTAMP; DATE for a DATE
        column), from its `day` if given, else from its time."""
        t, ttype = self.column(self.spec.time_column), self.schema[self.spec.time_column]
        if day is not None:
            return f"time_bucket({width}, {day if ttype == 'DATE' else f'CAST({day} AS TIMESTAMP)'})"
        if ttype == TZ:
            # time_bucket on TIMESTAMPTZ, and even a cast to TIMESTAMP, go through ICU per row
            # (measured: most of an aggregation's time). Bucket the UTC wall clock, taken from
            # the epoch without ICU (the engine's session zone is UTC); aggregate() restores
            # the type once per bucket.
            return f"time_bucket({width}, make_timestamp(epoch_us({t})))"
        return f"time_bucket({width}, {t})"

    def select(self, rows: str, columns) -> str:
        order = ", ".join(q(c) for c in dict.fromkeys((self.spec.time_column, *self.spec.key)))
        return f"SELECT {', '.join(self.columns(columns))} FROM ({rows}) r ORDER BY {order}"

    def aggregate(self, rows: str, by, metrics) -> str:
        """Buckets of `rows`, built by rows() with the bucket width."""
        t = self.column(self.spec.time_column)
        if by is None:
            by = [self.spec.symbol_column] if self.spec.symbol_column in self.schema else []
        elif isinstance(by, str):
            by = [b.strip() for b in by.split(",") if b.strip()]
        group = [self.column(b) for b in by]
        wanted = metrics_arg(metrics, self.schema)
        outs = [AGGS[func].format(col=self.column(col), time=t) + f" AS {q(name)}" for name, func, col in wanted]
        ttype = self.schema[self.spec.time_column]
        bucket = f"CAST({BUCKET} AS {ttype}) AS {t}" if ttype == TZ else f"{BUCKET} AS {t}"
        return (f"SELECT {', '.join([*group, bucket, *outs])} FROM ({rows}) r"
                f" GROUP BY {', '.join([*group, BUCKET])} ORDER BY {', '.join([*group, t])}")
