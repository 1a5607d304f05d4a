"""Rotation: the seven steps, run as one dbt build, reported back to people and scripts.

    plan -> stage -> export -> verify -> publish -> delete -> reconcile -> vacuum -> record

Each step is a dbt model (models/rotation); dbt runs them in order and skips everything
after a failure, so no delete runs unless export, verify and publish succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from . import catalog, dbt_runner, history, lake
from .config import Config
from .errors import HotColdError, RotationDisabled, StepFailed
from .runlog import append_run
from .state import open_state, rows

STEPS = ("hotcold_stage", "hotcold_stage_write", "hotcold_export", "hotcold_publish", "hotcold_delete", "hotcold_reconcile", "hotcold_vacuum", "hotcold_record")


@dataclass
class RotationReport:
    run_id: str
    dry_run: bool
    as_of: date
    cutoff: datetime | None
    tables: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # rows left behind that the user should fix
    history_index: list[dict] = field(default_factory=list)  # what catching the index up did, per table

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat(),
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "tables": self.tables,
            "notes": self.notes,
            "warnings": self.warnings,
            "history_index": self.history_index,
        }


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
    if any(t["lake_days"] for t in report.tables.values()):
        note = catalog.refresh_if_stale(config)
        if note:
            report.notes.append(note)
    refreshed, notes = history.refresh_quietly(config, vars["tables"])
    report.history_index = [r.to_dict() for r in refreshed]
    report.notes.extend(notes)
    return report


def _plan(config: Config, day: date, vars: dict) -> RotationReport:
    outcome = dbt_runner.invoke(config, ["run-operation", "hotcold_plan"], vars)
    with open_state(config) as conn:
        plan = rows(conn, "select table_name, cutoff, count(*) as days, sum(rows) as rows, sum(bytes) as bytes, min(day) as first_day, max(day) as last_day "
                          "from _hotcold.plans where run_id = ? group by all order by table_name", [outcome.invocation_id])
    report = RotationReport(outcome.invocation_id, True, day, plan[0]["cutoff"] if plan else None)
    for name in vars["tables"]:
        p = next((r for r in plan if r["table_name"] == name), None)
        report.tables[name] = {
            "rows": int(p["rows"]) if p else 0,
            "days": int(p["days"]) if p else 0,
            "bytes": int(p["bytes"] or 0) if p else 0,
            "first_day": p["first_day"].isoformat() if p else None,
            "last_day": p["last_day"].isoformat() if p else None,
        }
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
        t = report.tables.setdefault(s["table_name"], {"steps": {}})
        t["steps"][s["step"]] = {k: s[k] for k in ("rows", "days", "bytes", "seconds", "detail")}
    for t in report.tables.values():
        st = t["steps"]
        t["archived_rows"] = st.get("stage", {}).get("rows", 0)
        t["deleted_rows"] = st.get("delete", {}).get("rows", 0)
        t["written_to_hot"] = st.get("hot_write", {}).get("rows", 0)
        t["lake_days"] = st.get("publish", {}).get("days", 0)
        t["lake_bytes"] = st.get("publish", {}).get("bytes", 0)
        t["unfileable_rows"] = st.pop("unfileable", {}).get("rows", 0)
    return report


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
