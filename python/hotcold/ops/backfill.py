"""Backfill: load history from files or a data provider into the lake, and the recent window
into the hot store, with the rotation's steps and guarantees.

    stage (files, checked) -> export -> verify -> publish -> write the window to the hot store
    -> record, then (archive_on_backfill) a rotation of the table

Every row goes to the lake; a day the lake already holds is merged, and a backfilled row
replaces the lake's row with the same key. Only rows of the window and of a hot interval go
to the hot store (replacing the same key), plus new versions of aged rows it still holds, so
that the next rotation archives the new version, not the old one. A bad file stops the run
before anything is published or written.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

from hotcold.config import Config
from hotcold.ops.report import as_json
from hotcold.ops.rotation import (
    RotationReport,
    TableRotation,
    parse_as_of,
    rotate,
    run_steps,
)
from hotcold.pipeline.sources import Source, csv_layout, input_files, spool
from hotcold.store.lock import rotation_lock


@dataclass
class BackfillReport:
    """A backfill of one table: the files (or sources) read, the rows that went to the lake and
    to the hot store, and the rotation run after it (archive_on_backfill). `to_dict()` is
    `backfill --json` (docs/json.md)."""

    table: str
    files: list[str]
    run_id: str
    rows: int  # rows loaded (each in the lake; those of the window also in the hot store)
    lake_days: int
    lake_bytes: int
    written_to_hot: int
    archive: RotationReport | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return as_json(self)


def backfill(
    config: Config,
    table: str,
    inputs: Iterable[str | Path | Source],
    *,
    as_of: str | date | None = None,
    archive: bool | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> BackfillReport:
    """Load `inputs` (CSV/Parquet files, folders of them, or `Source` objects) into `table`.
    `archive` defaults to storage.lifecycle.archive_on_backfill."""
    spec = config.table(table)
    day = parse_as_of(as_of)
    inputs = list(inputs)
    paths = input_files([i for i in inputs if not isinstance(i, Source)])
    spool_dir = config.state_path.parent / "sources" / uuid.uuid4().hex
    try:
        # A CSV file's layout is checked first, as PostgreSQL's COPY reads it (sources.csv_layout):
        # the stage then reads its fields with the header's names, nothing sniffed.
        files = [{"path": str(p), "name": p.name, **({} if p.name.lower().endswith(".parquet") else csv_layout(p, p.name))} for p in paths]
        for n, source in enumerate(i for i in inputs if isinstance(i, Source)):
            spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = spool_dir / f"{n:04d}.parquet"
            spool(source, spec, path)
            files.append({"path": str(path), "name": source.name, "format": "parquet"})
        # One lock for the load and the archival after it: nothing runs in between.
        with rotation_lock(config):
            load = run_steps(config, day, {"as_of": day.isoformat(), "tables": [table], "force": True, "backfill": {"files": files}}, on_step)
            do_archive = config.archive_on_backfill if archive is None else archive
            archived = rotate(config, as_of=day, tables=[table], force=True, on_step=on_step) if do_archive else None
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)
    t = load.tables.get(table, TableRotation())
    return BackfillReport(table, [f["name"] for f in files], load.run_id, t.archived_rows, t.lake_days, t.lake_bytes, t.written_to_hot,
                          archived, load.notes + (archived.notes if archived else []))
