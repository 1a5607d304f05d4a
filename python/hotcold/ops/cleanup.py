"""Cleanup: the one-time migration of a grown hot store into the window.

    analyze -> (confirm) -> rotate every table with the rotation's steps -> reclaim -> analyze

It archives exactly as the nightly rotation does (nothing is deleted that is not verified in
the lake), then gives the space back: VACUUM (ANALYZE), which the rotation runs, makes it
reusable; `reclaim="full"` rewrites the tables with VACUUM FULL, which shrinks the files but
locks each table while it runs. Sizes are measured before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from hotcold.config import Config
from hotcold.dbt import runner as dbt_runner
from hotcold.errors import HotColdError
from hotcold.ops.report import as_json, go_ahead
from hotcold.ops.rotation import RotationReport, check_hot_days, parse_as_of, rotate
from hotcold.sqltext import q
from hotcold.store import hot_stats
from hotcold.store.hot_stats import IntervalStats
from hotcold.store.lock import rotation_lock
from hotcold.store.strong_locks import run_with_lock_timeout

RECLAIM = ("vacuum", "full")


@dataclass
class CleanupTable:
    """One hot table before cleanup (and, once it ran, after): rows and bytes (on disk on
    PostgreSQL, the rows' text width on DuckDB), the rows and bytes outside the window, the size
    a full reclaim should leave, and the same per interval. `note` instead of numbers for a
    table the hot store does not have."""

    rows: int | None = None
    bytes: int | None = None
    aged_rows: int = 0
    aged_bytes: int = 0
    expected_bytes_after: int | None = None
    intervals: list[IntervalStats] = field(default_factory=list)
    rows_after: int | None = None
    bytes_after: int | None = None
    note: str | None = None


@dataclass
class CleanupReport:
    """`hotcold cleanup`: the analysis, what it will do (`actions`), and in `live` mode the
    rotation it ran and the sizes after. `to_dict()` is `cleanup --json` (docs/json.md)."""

    mode: str  # "analyze", "dry-run", "cancelled" or "live"
    as_of: date
    hot_days: int
    cutoff: str | None  # ISO time, UTC
    reclaim: str  # "vacuum" or "full"
    tables: dict[str, CleanupTable] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    rotation: RotationReport | None = None
    __json_extra__ = ("aged_rows",)

    @property
    def aged_rows(self) -> int:
        return sum(t.aged_rows for t in self.tables.values())

    @property
    def present(self) -> list[str]:
        """The tables the hot store has."""
        return [n for n, t in self.tables.items() if t.note is None]

    def to_dict(self) -> dict:
        return as_json(self)


def analyze(config: Config, *, as_of: str | date | None = None, hot_days: int | None = None, tables: list[str] | None = None) -> CleanupReport:
    """Per table and interval: rows, bytes, oldest and newest, rows and bytes outside the
    window; per table the size on disk now and the size expected after a full reclaim."""
    day = parse_as_of(as_of)
    days = check_hot_days(hot_days) if hot_days is not None else config.hot_days
    names = _tables(config, tables)
    cutoff = hot_stats.window_cutoff(day, days)
    stats = hot_stats.table_stats(config, [config.table(n) for n in names], cutoff)
    report = CleanupReport("analyze", day, days, cutoff.isoformat(), "vacuum")
    for name in names:
        st = stats[name]
        if st.note:
            report.tables[name] = CleanupTable(note=st.note)
            continue
        size = st.disk_bytes if st.disk_bytes is not None else st.data_bytes
        aged = sum(i.aged_bytes for i in st.intervals)
        # The table's size scaled by the share of row data that stays: what VACUUM FULL
        # should leave (indexes shrink in proportion too).
        after = round(size * (1 - aged / st.data_bytes)) if st.data_bytes else size
        report.tables[name] = CleanupTable(st.rows, size, st.aging_rows, aged, after, st.intervals)
    return report


def cleanup(
    config: Config,
    *,
    as_of: str | date | None = None,
    hot_days: int | None = None,
    tables: list[str] | None = None,
    reclaim: str = "vacuum",
    dry_run: bool = False,
    confirm: Callable[[CleanupReport], bool] | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> CleanupReport:
    """Archive everything outside the window, then reclaim space. `confirm` sees the plan
    (the analysis and the actions) and returns True to go ahead; without it the caller has
    already agreed."""
    if reclaim not in RECLAIM:
        raise HotColdError(f"--reclaim must be vacuum or full, got {reclaim!r}", "use --reclaim full to shrink the tables with VACUUM FULL")
    with rotation_lock(config):
        report = analyze(config, as_of=as_of, hot_days=hot_days, tables=tables)
        report.reclaim = reclaim
        present = report.present
        report.actions = _actions(report, present)
        if not go_ahead(report, dry_run, confirm):
            return report
        if report.aged_rows:
            report.rotation = rotate(config, as_of=report.as_of, tables=present, force=True, hot_days=report.hot_days, on_step=on_step)
        if reclaim == "full" and present:
            _reclaim_full(config, present)
        after = analyze(config, as_of=report.as_of, hot_days=report.hot_days, tables=present)
    for name, t in after.tables.items():
        report.tables[name].bytes_after, report.tables[name].rows_after = t.bytes, t.rows
    return report


def _reclaim_full(config: Config, tables: list[str]) -> None:
    """VACUUM (FULL, ANALYZE) each table. On PostgreSQL it needs an ACCESS EXCLUSIVE lock, so it
    runs under lock_timeout with bounded retries (store.strong_locks) and stops naming the
    sessions in its way rather than queue every writer behind it; the embedded store
    checkpoints through dbt."""
    if config.hot.kind != "postgres":
        dbt_runner.invoke(config, ["run-operation", "hotcold_reclaim", "--args", "{full: true}"], {"tables": tables})
        return
    for name in tables:
        rel = f"{q(config.hot.schema)}.{q(name)}"
        run_with_lock_timeout(config, f"VACUUM (FULL, ANALYZE) {rel}", rel, f"VACUUM FULL of {name}")


def _tables(config: Config, only: list[str] | None) -> list[str]:
    return [t.name for t in config.rotation_tables(full=True, only=only)]


def _actions(report: CleanupReport, present: list[str]) -> list[str]:
    out = []
    for name in present:
        t = report.tables[name]
        if t.aged_rows:
            out.append(f"archive {t.aged_rows:,} rows of {name} outside the window (before {report.cutoff[:10]}, or not a hot interval) "
                       f"to the lake, verify them, then delete them from the hot store")
        else:
            out.append(f"{name}: nothing outside the window")
    if report.reclaim == "full":
        out.append(f"VACUUM (FULL, ANALYZE) {', '.join(present)}: rewrites each table to return space to the operating system; "
                   "it holds an ACCESS EXCLUSIVE lock, so readers and writers of that table wait until it finishes")
    elif report.aged_rows:
        out.append("VACUUM (ANALYZE) the tables deleted from: the space becomes reusable by new rows, but the files do not shrink "
                   "(use --reclaim full for that)")
    return out
