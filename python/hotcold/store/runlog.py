"""`logs/storage_rotation.log`: one line per step per table, then one per run."""

from __future__ import annotations

from pathlib import Path


def append_run(conn, run_id: str, log_file: Path) -> None:
    steps = conn.execute(
        """select started_at, step, table_name, rows, days, bytes,
                  epoch(finished_at) - epoch(started_at), detail
             from _hotcold.step_log where run_id = ? order by started_at, step""",
        [run_id],
    ).fetchall()
    run = conn.execute(
        "select started_at, finished_at, outcome, tables, cutoff, detail from _hotcold.runs where run_id = ?", [run_id]
    ).fetchone()
    lines = [
        f"{started:%Y-%m-%dT%H:%M:%S%z} run={run_id} step={step} table={table} rows={rows} days={days} "
        f"bytes={nbytes} seconds={secs:.3f}" + (f" note={detail!r}" if detail else "")
        for started, step, table, rows, days, nbytes, secs, detail in steps
    ]
    if run:
        started, finished, outcome, tables, cutoff, detail = run
        secs = (finished - started).total_seconds() if finished and started else 0.0
        lines.append(
            f"{(finished or started):%Y-%m-%dT%H:%M:%S%z} run={run_id} step=run tables={tables} cutoff={cutoff:%Y-%m-%d} "
            f"outcome={outcome} seconds={secs:.3f}" + (f" error={detail!r}" if detail else "")
        )
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
