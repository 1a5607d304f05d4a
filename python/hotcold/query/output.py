"""Query results to people and to files: a rich table on a terminal, csv, json or parquet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from hotcold import sqltext
from hotcold.errors import HotColdError

FORMATS = ("table", "csv", "json", "parquet")


def check_output(fmt: str, output: Path | None) -> None:
    """Refuse a bad --format/--output before any query runs."""
    if fmt not in FORMATS:
        raise HotColdError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise HotColdError("--format parquet needs --output FILE", "e.g. --format parquet --output bars.parquet")
    if output is not None:
        _check_writable(output)


def write_result(result: pa.Table, fmt: str, output: Path | None, console: Console, limit: int = 50, title: str | None = None) -> None:
    check_output(fmt, output)
    if fmt != "parquet":
        result = _printable(result)
    if fmt == "table":
        _print_table(result, console, limit, title)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(result, output, compression="zstd")
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        if output is not None:
            pcsv.write_csv(result, output)
        else:
            pcsv.write_csv(result, sys.stdout.buffer)
    else:
        text = json.dumps(result.to_pylist(), default=_json_value)
        if output is not None:
            output.write_text(text + "\n")
        else:
            sys.stdout.write(text + "\n")


def _print_table(result: pa.Table, console: Console, limit: int, title: str | None) -> None:
    t = Table(title=title)
    for field in result.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        t.add_column(field.name, justify="right" if numeric else "left")
    for row in result.slice(0, limit).to_pylist():
        t.add_row(*(_cell(v) for v in row.values()))
    console.print(t)
    left = result.num_rows - min(limit, result.num_rows)
    if left:
        console.print(f"… {left:,} more rows ({result.num_rows:,} in all); use --limit N, or --format csv/json/parquet --output FILE", highlight=False)


def _printable(result: pa.Table) -> pa.Table:
    """`result` as text can show it: bytes as PostgreSQL's hex ('\\x00ff'; csv cannot hold raw
    bytes), and, when a date or time in it is one Python cannot hold (BC, ±infinity, after
    9999: PostgreSQL and the lake keep them exactly), its dates and times as DuckDB's text of
    them ('infinity'), so that table, csv and json show them instead of failing."""
    binary = [f.name for f in result.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    temporal = [f.name for f in result.schema if pa.types.is_temporal(f.type)]
    try:
        for name in temporal:
            result.column(name).to_pylist()
        temporal = []
    except (OverflowError, ValueError):
        pass
    if not binary and not temporal:
        return result
    import duckdb

    cols = []
    for f in result.schema:
        q = sqltext.q(f.name)
        cols.append(f"'\\x' || lower(hex({q})) AS {q}" if f.name in binary else f"{q}::VARCHAR AS {q}" if f.name in temporal else q)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("hc_result", result)
        return con.execute(f"select {', '.join(cols)} from hc_result").to_arrow_table()


def _cell(value) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _check_writable(path: Path) -> None:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise HotColdError(f"cannot write {path}: folder {parent} does not exist", "create the folder or choose another --output")
