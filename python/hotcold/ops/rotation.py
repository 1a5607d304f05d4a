"""Rotation: the seven steps, run as one dbt build, reported back to people and scripts.

    plan -> stage -> export -> verify -> publish -> delete -> reconcile -> vacuum -> record

Each step is a dbt model (models/rotation); dbt runs them in order and skips everything
after a failure, so no delete runs unless export, verify and publish succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from hotcold.config import Config
from hotcold.dbt import runner as dbt_runner
from hotcold.errors import HotColdError, RotationDisabled, StepFailed
from hotcold.ops import catalog
from hotcold.ops.report import as_json
from hotcold.query import history
from hotcold.store import hot_stats, lake
from hotcold.store.runlog import append_run
from hotcold.store.state import open_state, rows

STEPS = ("hotcold_stage", "hotcold_stage_write", "hotcold_export", "hotcold_publish", "hotcold_delete", "hotcold_reconcile", "hotcold_vacuum", "hotcold_record")


@dataclass
class StepResult:
    """One step of one table in a run, from the step log (`_hotcold.step_log`)."""

    rows: int | None = None
    days: int | None = None
    bytes: int | None = None
    seconds: float | None = None
    detail: str | None = None  # what the step has to say (VACUUM run, rows merged, ...)


@dataclass
class TableRotation:
    """What a run did to one table: rows archived to the lake and deleted from the hot store,
    rows a backfill wrote to the hot store, lake days and bytes published, rows left behind
    because their time fits no lake day, and each step's record."""

    archived_rows: int = 0
    deleted_rows: int = 0
    written_to_hot: int = 0
    lake_days: int = 0
    lake_bytes: int = 0
    unfileable_rows: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)


@dataclass
class TablePlan:
    """What a dry run found for one table: the rows, UTC days and hot-store bytes that would
    age out, and the first and last of those days."""

    rows: int = 0
    days: int = 0
    bytes: int = 0
    first_day: date | None = None
    last_day: date | None = None
    partitions: hot_stats.PartitionPlan | None = None  # a range-partitioned table: what leaves whole


@dataclass
class RotationReport:
    """A rotation (or, with `dry_run`, its plan). `tables` holds a TableRotation per table, or a
    TablePlan per table in a dry run. `as_json(report)` is `rotate --json` (docs/json.md)."""

    run_id: str
    dry_run: bool
    as_of: date
    cutoff: datetime | None
    tables: dict[str, TableRotation | TablePlan] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # rows left behind that the user should fix
    history_index: list[dict] = field(default_factory=list)  # what catching the index up did, per table

    @property
    def archived_rows(self) -> int:
        return sum(getattr(t, "archived_rows", 0) for t in self.tables.values())

    def to_dict(self) -> dict:
        return as_json(self)


def parse_as_of(value: str | date | None) -> date:
    if value is None:
        return datetime.now(timezone.utc).date()
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else parse_as_of(datetime.fromisoformat(text))
    except ValueError:
        raise HotColdError(f"--as-of must be a date like 2026-11-25, got {value!r}", "use YYYY-MM-DD") from None


def rotate(
    config: Config,
    *,
    as_of: str | date | None = None,
    tables: list[str] | None = None,
    full: bool = False,
    force: bool = False,
    dry_run: bool = False,
    hot_days: int | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> RotationReport:
    day = parse_as_of(as_of)
    names = [t.name for t in config.rotation_tables(full=full, only=tables)]
    if not names:
        raise HotColdError("no tables to rotate", "list tables under storage.rotation.tables, or pass --table / --full")
    vars = {"as_of": day.isoformat(), "tables": names, "force": force}
    if hot_days is not None:
        vars["hot_days"] = check_hot_days(hot_days)
    if dry_run:
        return _plan(config, day, vars)
    if not config.auto_rotation_enabled and not force:
        raise RotationDisabled(
            f"rotation is disabled (storage.lifecycle.auto_rotation.enabled is false in {config.path.name})",
            "pass --force to run it anyway, or set enabled: true",
        )
    return run_steps(config, day, vars, on_step)


def check_hot_days(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HotColdError(f"--hot-days must be a whole number of days >= 1, got {value!r}", "e.g. --hot-days 30")
    return value


def run_steps(config: Config, day: date, vars: dict, on_step: Callable[[str, str], None] | None = None) -> RotationReport:
    """One dbt build of the steps (a rotation, or a backfill when vars carry `backfill`)."""
    lake.check_writable(config.lake_root)
    try:
        outcome = dbt_runner.invoke(config, ["build", "--select", "tag:rotation"], vars, on_event=on_step)
    except StepFailed as exc:
        _record_failure(config, str(exc))
        raise
    report = _report(config, outcome.invocation_id, day)
    if any(t.lake_days for t in report.tables.values()):
        note = catalog.refresh_if_stale(config)
        if note:
            report.notes.append(note)
    refreshed, notes = history.refresh_quietly(config, vars["tables"])
    report.history_index = [r.to_dict() for r in refreshed]
    report.notes.extend(notes)
    return report


def _plan(config: Config, day: date, vars: dict) -> RotationReport:
    """The dry run: what the next rotation would archive, read straight from the hot store
    (hotcold.store.hot_stats), without dbt or the rotation lock. A table missing from the hot store
    is refused as the rotation would refuse it."""
    specs = [config.table(n) for n in vars["tables"]]
    cutoff = hot_stats.window_cutoff(day, vars.get("hot_days") or config.hot_days)
    days = hot_stats.aged_days(config, specs, cutoff)
    partitions = hot_stats.partition_plans(config, specs, cutoff)
    report = RotationReport("dry-run", True, day, cutoff)
    for name, found in days.items():
        if found is None:
            raise HotColdError(f"table {config.hot.schema}.{name} not found in the hot store",
                               f"create it or fix tables.{name} in {config.path.name}")
        report.tables[name] = TablePlan(sum(d.rows for d in found), len(found), sum(d.bytes for d in found),
                                        found[0].day if found else None, found[-1].day if found else None, partitions[name])
    return report


def _report(config: Config, run_id: str, day: date) -> RotationReport:
    with open_state(config) as conn:
        run = rows(conn, "select cutoff, tables from _hotcold.runs where run_id = ?", [run_id])[0]
        steps = rows(conn, "select table_name, step, rows, days, bytes, epoch(finished_at) - epoch(started_at) as seconds, detail "
                           "from _hotcold.step_log where run_id = ? order by started_at", [run_id])
    report = RotationReport(run_id, False, day, run["cutoff"])
    for s in steps:
        if s["step"] == "unfileable":
            report.warnings.append(s["detail"])
        t = report.tables.setdefault(s["table_name"], TableRotation())
        t.steps[s["step"]] = StepResult(s["rows"], s["days"], s["bytes"], s["seconds"], s["detail"])
    for t in report.tables.values():
        unfileable = t.steps.pop("unfileable", StepResult())
        t.archived_rows, t.deleted_rows = _count(t, "stage", "rows"), _count(t, "delete", "rows")
        t.written_to_hot, t.lake_days, t.lake_bytes = _count(t, "hot_write", "rows"), _count(t, "publish", "days"), _count(t, "publish", "bytes")
        t.unfileable_rows = unfileable.rows or 0
    return report


def _count(table: TableRotation, step: str, what: str) -> int:
    """A step's rows, days or bytes; 0 when the step did not run for the table."""
    return getattr(table.steps.get(step, StepResult()), what) or 0


def _record_failure(config: Config, message: str) -> None:
    """Close the run as failed in the state database and the rotation log."""
    if not config.state_path.exists():
        return
    try:
        with open_state(config) as conn:
            running = conn.execute("select run_id from _hotcold.runs where outcome = 'running'").fetchall()
            for (run_id,) in running:
                conn.execute("update _hotcold.runs set outcome = 'failed', finished_at = now(), detail = ? where run_id = ?", [message, run_id])
                append_run(conn, run_id, config.log_file)
    except HotColdError:
        pass
    except Exception:  # the original failure matters more than a failure to record it
        pass
