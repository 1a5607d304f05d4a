"""Where things stand, per table: the hot window, the lake, and the last run."""

from __future__ import annotations

from datetime import date

from . import dbt_runner
from .config import Config
from .rotation import parse_as_of
from .state import open_state, rows


def archival_status(config: Config, as_of: str | date | None = None) -> dict:
    day = parse_as_of(as_of)
    outcome = dbt_runner.invoke(config, ["run-operation", "hotcold_status"], {"as_of": day.isoformat()})
    with open_state(config) as conn:
        hot = {r["table_name"]: r for r in rows(conn, "select * from _hotcold.hot_status where run_id = ?", [outcome.invocation_id])}
        lake = {r["table_name"]: r for r in rows(conn, "select table_name, count(*) as days, count(path) as files, sum(rows) as rows, sum(bytes) as bytes, "
                                                       "min(day) as first_day, max(day) as last_day from _hotcold.lake_days group by all")}
        runs = rows(conn, "select run_id, tables, started_at, finished_at, outcome, detail from _hotcold.runs order by started_at desc limit 50")
    status = {"as_of": day.isoformat(), "hot_store": config.hot.describe(), "lake_root": str(config.lake_root), "tables": {}}
    for name in config.tables:
        h, l = hot.get(name, {}), lake.get(name, {})
        last = next((r for r in runs if name in (r["tables"] or "").split(",")), None)
        status["tables"][name] = {
            "hot": {
                "rows": h.get("rows"),
                "bytes": h.get("bytes"),
                "oldest": _iso(h.get("oldest")),
                "newest": _iso(h.get("newest")),
                "rows_waiting_to_age_out": h.get("aging_rows"),
                # Rows whose time fits no lake day (NULL, ±infinity, outside years 1-9999):
                # they never age out until someone fixes them.
                "unfileable_rows": h.get("unfileable_rows"),
                "note": h.get("note") or None,
            },
            "lake": {
                "days": int(l.get("days") or 0),
                "files": int(l.get("files") or 0),
                "rows": int(l.get("rows") or 0),
                "bytes": int(l.get("bytes") or 0),
                "first_day": _iso(l.get("first_day")),
                "last_day": _iso(l.get("last_day")),
            },
            "last_run": None if last is None else {
                "run_id": last["run_id"],
                "started_at": _iso(last["started_at"]),
                "finished_at": _iso(last["finished_at"]),
                "outcome": last["outcome"],
                "detail": last["detail"],
            },
        }
    return status


def _iso(value):
    # DuckDB gives a date or time Python cannot hold (BC, infinity, after 9999) as its text.
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
