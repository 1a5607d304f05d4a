"""`hotcold verify`: check the lake against its own record.

For every table: each file's path follows the layout, its footer reads, its row count equals
the count recorded when it was published, every recorded day has its file, and no key appears
twice. `deep` also re-reads every row and compares the day's checksum with the recorded one.
Nothing is written; the report lists each problem with the file it concerns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import duckdb

from hotcold.config import Config, TableSpec
from hotcold.ops.report import as_json
from hotcold.sqltext import lit
from hotcold.store.lake import FILE_COLUMN, checksum_expr, day_file
from hotcold.store.state import open_state, rows


@dataclass
class Problem:
    table: str
    day: str | None
    path: str | None
    problem: str


@dataclass
class VerifyTable:
    """One table's lake as verify read it: files and rows found, days the record holds, and
    its column sets over time (see schema_history)."""

    files: int = 0
    rows: int = 0
    days_recorded: int = 0
    schema_history: list[dict] = field(default_factory=list)


@dataclass
class VerifyReport:
    """`hotcold verify`: per table what was read, and every problem found (none: `ok`).
    `to_dict()` is `verify --json` (docs/json.md)."""

    deep: bool
    tables: dict[str, VerifyTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    __json_extra__ = ("ok",)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return as_json(self)


def verify(config: Config, tables: list[str] | None = None, deep: bool = False, on_file: Callable[[str], None] | None = None) -> VerifyReport:
    specs = config.rotation_tables(full=True, only=tables)
    recorded: dict[str, dict[date, dict]] = {s.name: {} for s in specs}
    if config.state_path.exists():
        with open_state(config, read_only=True) as state:
            for r in rows(state, "select table_name, day, path, rows, checksum from _hotcold.lake_days"):
                if r["table_name"] in recorded:
                    recorded[r["table_name"]][r["day"]] = r
    report = VerifyReport(deep)
    conn = duckdb.connect()
    conn.execute("SET enable_progress_bar = false")  # stdout is the report
    try:
        for spec in specs:
            report.tables[spec.name] = _verify_table(conn, config, spec, recorded[spec.name], deep, report.problems, on_file)
    finally:
        conn.close()
    return report


def _verify_table(conn, config: Config, spec: TableSpec, recorded: dict, deep: bool, problems: list[Problem], on_file) -> VerifyTable:
    base = config.lake_root / spec.name
    pattern = re.compile(rf"year=(\d{{4}})/month=(\d{{2}})/day=(\d{{2}})/{re.escape(spec.name)}_(\d{{8}})\.parquet")
    good: dict[date, Path] = {}
    totals = VerifyTable(days_recorded=len(recorded))
    schemas: dict[date, tuple] = {}

    def problem(day, path, text):
        problems.append(Problem(spec.name, day.isoformat() if day else None, str(path) if path else None, text))

    files = sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
    named: list[tuple[date, Path]] = []
    for path in files:
        totals.files += 1
        rel = path.relative_to(base).as_posix()
        m = pattern.fullmatch(rel)
        day = _day(m) if m else None
        if day is None or day_file(config.lake_root, spec.name, day) != path:
            problem(None, path, "path does not follow <table>/year=YYYY/month=MM/day=DD/<table>_YYYYMMDD.parquet")
            continue
        named.append((day, path))
    footers = _footers(conn, [p for _, p in named])
    for day, path in named:
        if on_file:
            on_file(str(path))
        footer = footers.get(str(path))
        if isinstance(footer, str):
            problem(day, path, f"footer does not read: {footer}")
            continue
        n, schemas[day] = footer
        totals.rows += n
        rec = recorded.get(day)
        if rec is None:
            problem(day, path, "file is not in the lake's record (_hotcold.lake_days)")
        elif rec["rows"] != n:
            problem(day, path, f"holds {n} rows, the record says {rec['rows']}")
        good[day] = path
        if deep and rec is not None:
            _deep_check(conn, path, day, rec, problem)
    for day, rec in sorted(recorded.items()):
        if day not in good and not any(p.day == day.isoformat() for p in problems if p.table == spec.name):
            problem(day, rec["path"], "recorded day has no file")
    if good:
        _duplicate_keys(conn, spec, list(good.values()), problem)
    totals.schema_history = schema_history(schemas)
    return totals


def _footers(conn, paths: list[Path]) -> dict[str, tuple[int, tuple] | str]:
    """{path: (rows, ((column, DuckDB type), ...))} from each file's footer, all files in two
    queries (one per file cost 2 ms each: most of a plain verify); where one footer does not
    read, each file alone, that file's value being the error's first line."""
    if not paths:
        return {}
    names = [str(p) for p in paths]
    try:
        found: dict[str, list] = {name: [0, []] for name in names}
        for name, n in conn.execute("select file_name, num_rows from parquet_file_metadata(?)", [names]).fetchall():
            found[name][0] = n
        # Top-level columns only (num_children is null): the lake writes no nested types.
        for name, column, type_ in conn.execute(
                "select file_name, name, duckdb_type from parquet_schema(?) where num_children is null order by file_name, column_id", [names]).fetchall():
            found[name][1].append((column, type_))
        return {name: (n, tuple(cols)) for name, (n, cols) in found.items()}
    except duckdb.Error as exc:
        if len(paths) == 1:
            return {names[0]: _first_line(exc)}
        half = len(paths) // 2
        return {**_footers(conn, paths[:half]), **_footers(conn, paths[half:])}


def schema_history(schemas: dict[date, tuple]) -> list[dict]:
    """The table's column sets over time: one entry per run of consecutive day files with the
    same columns and types, oldest first: {first_day, last_day, days, columns: {name: type}},
    and what changed from the entry before (added, dropped, retyped)."""
    history: list[dict] = []
    for day in sorted(schemas):
        columns = dict(schemas[day])
        if history and history[-1]["columns"] == columns:
            history[-1]["last_day"], history[-1]["days"] = day.isoformat(), history[-1]["days"] + 1
            continue
        entry = {"first_day": day.isoformat(), "last_day": day.isoformat(), "days": 1, "columns": columns}
        if history:
            before = history[-1]["columns"]
            entry["added"] = [c for c in columns if c not in before]
            entry["dropped"] = [c for c in before if c not in columns]
            entry["retyped"] = {c: f"{before[c]} -> {t}" for c, t in columns.items() if c in before and before[c] != t}
        history.append(entry)
    return history


def _deep_check(conn, path: Path, day: date, rec: dict, problem) -> None:
    try:
        cols = [r[0] for r in conn.execute("select name from parquet_schema(?) where num_children is null", [str(path)]).fetchall()]
        n, checksum = conn.execute(
            f"select count(*), {checksum_expr(cols)} from read_parquet(?, hive_partitioning = false)", [str(path)]).fetchone()
    except duckdb.Error as exc:
        problem(day, path, f"rows do not read: {_first_line(exc)}")
        return
    if n != rec["rows"] or checksum != rec["checksum"]:
        problem(day, path, f"content differs from the record: {n} rows, checksum {checksum} (recorded {rec['rows']}, {rec['checksum']})")


def _duplicate_keys(conn, spec: TableSpec, paths: list[Path], problem) -> None:
    """One problem per set of files sharing keys: how many keys, and one of them."""
    keys = ", ".join(f'"{k}"' for k in spec.key)
    try:
        groups = conn.execute(
            f"select files, count(*) as keys, any_value(example) from ("
            f"  select list(distinct {FILE_COLUMN} order by {FILE_COLUMN}) as files, struct_pack({keys}) as example"
            f"  from read_parquet(?, hive_partitioning = false, filename = {lit(FILE_COLUMN)}, union_by_name = true)"
            f"  group by {keys} having count(*) > 1) group by files order by keys desc", [[str(p) for p in paths]]).fetchall()
    except duckdb.Error as exc:
        problem(None, None, f"keys could not be read: {_first_line(exc)}")
        return
    for files, n, example in groups:
        problem(None, ", ".join(files), f"{n} key(s) appear more than once, e.g. {example}")


def _day(m: re.Match) -> date | None:
    y, mo, d, stamp = m.groups()
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        return None
    return day if stamp == f"{day.year:04d}{day.month:02d}{day.day:02d}" else None


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
