"""Query results to people and to files: a rich table on a terminal, csv, json or parquet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from .errors import HotColdError

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
