"""Step 7 (Record): close the run, append it to the rotation log, drop the working copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from hotcold.faults import fail_point
from hotcold.pipeline.publish import current_run_id
from hotcold.pipeline.settings import settings
from hotcold.store.runlog import append_run


def record_run(session):
    run_id = current_run_id(session)
    fail_point("record.before")
    session.execute("update _hotcold.runs set outcome = 'ok', finished_at = now() where run_id = ?", [run_id])
    for (view,) in session.execute(
        "select view_name from duckdb_views() where schema_name = '_hotcold' and view_name like 'stage\\_\\_%' escape '\\'"
    ).fetchall():
        session.execute(f'drop view if exists _hotcold."{view}"')
    # We hold the rotation lock: every stage file or folder is this run's or a dead run's.
    # A published day may share its file with a streamed stage (a hard link): removing the
    # stage's name leaves the lake's.
    stage = Path(settings(session)["stage_root"])
    for entry in stage.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    log_file = Path(settings(session)["log_file"])
    append_run(session, run_id, log_file)
    fail_point("record.after")
    return session.sql("select * from _hotcold.runs where run_id = ?", params=[run_id])
