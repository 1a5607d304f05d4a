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

from . import dbt_runner
from .config import Config
from .errors import HotColdError
from .lock import rotation_lock
from .rotation import RotationReport, check_hot_days, parse_as_of, rotate
from .state import open_state, rows

RECLAIM = ("vacuum", "full")


@dataclass
class CleanupReport:
    mode: str  # "analyze", "dry-run", "cancelled" or "live"
    as_of: date
    hot_days: int
    cutoff: str | None
    reclaim: str
    tables: dict[str, dict] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    rotation: RotationReport | None = None

    @property
    def aged_rows(self) -> int:
        return sum(t.get("aged_rows", 0) for t in self.tables.values())

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "as_of": self.as_of.isoformat(),
            "hot_days": self.hot_days,
            "cutoff": self.cutoff,
            "reclaim": self.reclaim,
            "tables": self.tables,
            "actions": self.actions,
            "rotation": self.rotation.to_dict() if self.rotation else None,
        }


def analyze(config: Config, *, as_of: str | date | None = None, hot_days: int | None = None, tables: list[str] | None = None) -> CleanupReport:
    """Per table and interval: rows, bytes, oldest and newest, rows and bytes outside the
    window; per table the size on disk now and the size expected after a full reclaim."""
    day = parse_as_of(as_of)
    days = check_hot_days(hot_days) if hot_days is not None else config.hot_days
    names = _tables(config, tables)
    outcome = dbt_runner.invoke(config, ["run-operation", "hotcold_analyze"], {"as_of": day.isoformat(), "tables": names, "hot_days": days})
    with open_state(config) as conn:
        found = rows(conn, "select * from _hotcold.analysis where run_id = ? order by table_name, interval nulls first", [outcome.invocation_id])
    report = CleanupReport("analyze", day, days, found[0]["cutoff"].isoformat() if found else None, "vacuum")
    for name in names:
        mine = [r for r in found if r["table_name"] == name]
        if not mine:
            report.tables[name] = {"note": "not in the hot store"}
            continue
        size, data, aged = mine[0]["table_bytes"], sum(r["bytes"] or 0 for r in mine), sum(r["aged_bytes"] or 0 for r in mine)
        report.tables[name] = {
            "rows": sum(r["rows"] for r in mine),
            "bytes": size,
            "aged_rows": sum(r["aged_rows"] for r in mine),
            "aged_bytes": aged,
            # The table's size scaled by the share of row data that stays: what VACUUM FULL
            # should leave (indexes shrink in proportion too).
            "expected_bytes_after": round(size * (1 - aged / data)) if data else size,
            "intervals": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()
                 if k in ("interval", "rows", "bytes", "oldest", "newest", "aged_rows", "aged_bytes", "aged_days")}
                for r in mine
            ],
        }
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
        present = [n for n, t in report.tables.items() if "note" not in t]
        report.actions = _actions(report, present)
        if dry_run:
            report.mode = "dry-run"
            return report
        if confirm is not None and not confirm(report):
            report.mode = "cancelled"
            return report
        report.mode = "live"
        if report.aged_rows:
            report.rotation = rotate(config, as_of=report.as_of, tables=present, force=True, hot_days=report.hot_days, on_step=on_step)
        if reclaim == "full" and present:
            dbt_runner.invoke(config, ["run-operation", "hotcold_reclaim", "--args", "{full: true}"], {"tables": present})
        after = analyze(config, as_of=report.as_of, hot_days=report.hot_days, tables=present)
    for name, t in after.tables.items():
        report.tables[name]["bytes_after"] = t.get("bytes")
        report.tables[name]["rows_after"] = t.get("rows")
    return report


def _tables(config: Config, only: list[str] | None) -> list[str]:
    return [t.name for t in config.rotation_tables(full=True, only=only)]


def _actions(report: CleanupReport, present: list[str]) -> list[str]:
    out = []
    for name in present:
        t = report.tables[name]
        if t["aged_rows"]:
            out.append(f"archive {t['aged_rows']:,} rows of {name} outside the window (before {report.cutoff[:10]}, or not a hot interval) "
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
