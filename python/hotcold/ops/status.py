"""Where things stand, per table: the hot window, the lake, and the last run.

Read-only and without dbt (hotcold.store.hot_stats): no rotation lock, nothing written, the state
database opened read-only, so it answers in well under a second and works beside a running
rotation's readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hotcold.config import Config
from hotcold.ops.report import as_json
from hotcold.ops.rotation import parse_as_of
from hotcold.store import hot_stats
from hotcold.store.hot_stats import HotTableStats
from hotcold.store.state import open_state, rows


@dataclass
class LakeTableStats:
    """What the lake's record (state database, `_hotcold.lake_days`) holds for one table."""

    days: int = 0
    files: int = 0
    rows: int = 0
    bytes: int = 0  # the Parquet files' sizes as published
    first_day: str | None = None  # ISO date
    last_day: str | None = None


@dataclass
class LastRun:
    run_id: str
    started_at: str | None  # ISO, UTC
    finished_at: str | None
    outcome: str  # "ok", "failed", "running", ...
    detail: str | None


@dataclass
class TableStatus:
    hot: HotTableStats
    lake: LakeTableStats
    last_run: LastRun | None


@dataclass
class StatusReport:
    """`hotcold status`: per configured table, the hot side as of `as_of`, the lake, the last
    run. `to_dict()` is the `--json` output (schema in docs/json.md)."""

    as_of: str  # ISO date
    cutoff: str  # ISO time, UTC: rows older than this age out
    hot_store: str  # never carries a password
    lake_root: str
    tables: dict[str, TableStatus] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return as_json(self)


def archival_status(config: Config, as_of: str | date | None = None) -> StatusReport:
    """Raises HotColdError when the hot store cannot be reached or the state database is held
    by a running rotation in another process."""
    day = parse_as_of(as_of)
    cutoff = hot_stats.window_cutoff(day, config.hot_days)
    specs = list(config.tables.values())
    hot = hot_stats.table_stats(config, specs, cutoff)
    lake: dict[str, dict] = {}
    runs: list[dict] = []
    if config.state_path.exists():
        with open_state(config, read_only=True) as conn:
            # A state database that no rotation has written to yet lacks these tables.
            made = {r["table_name"] for r in rows(conn, "select table_name from duckdb_tables() where schema_name = '_hotcold'")}
            if "lake_days" in made:
                lake = {r["table_name"]: r for r in rows(conn, "select table_name, count(*) as days, count(path) as files, sum(rows) as rows, sum(bytes) as bytes, "
                                                               "min(day) as first_day, max(day) as last_day from _hotcold.lake_days group by all")}
            if "runs" in made:
                runs = rows(conn, "select run_id, tables, started_at, finished_at, outcome, detail from _hotcold.runs order by started_at desc limit 50")
    report = StatusReport(day.isoformat(), cutoff.isoformat(), config.hot.describe(), str(config.lake_root))
    for spec in specs:
        l = lake.get(spec.name)
        last = next((r for r in runs if spec.name in (r["tables"] or "").split(",")), None)
        report.tables[spec.name] = TableStatus(
            hot=hot[spec.name],
            lake=LakeTableStats() if l is None else LakeTableStats(
                int(l["days"]), int(l["files"]), int(l["rows"] or 0), int(l["bytes"] or 0), _iso(l["first_day"]), _iso(l["last_day"])),
            last_run=None if last is None else LastRun(
                last["run_id"], _iso(last["started_at"]), _iso(last["finished_at"]), last["outcome"], last["detail"]),
        )
    return report


def _iso(value):
    # DuckDB gives a date or time Python cannot hold (BC, infinity, after 9999) as its text.
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
