"""Step 1b (Stage, PostgreSQL): stream the aged rows into one Parquet file per day, in one pass.

PostgreSQL sends the aged rows ordered by time, so each day's rows arrive together: they are
cut into day files as they stream (DuckDB reads PostgreSQL on one thread, pyarrow encodes on
another), and nothing is read twice. These files are the run's stage. A day the lake does not
hold yet needs no merge, so its stage file is also its export: it is hard-linked into the
staging folder, and export copies only the days that merge with an existing lake file. Verify
then reads every staged file back as before.

Which tables stream is the stage macro's choice (hot_streams_days): a table whose time column
is not a timestamp or date is staged to one file by DuckDB instead (as from the embedded hot
store and in backfills) and cut into days by export. The statement also sends PostgreSQL's
snapshot and its fingerprint of each day (hot_archival_select), noted here for the delete and
for verify.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from hotcold.errors import StepFailed
from hotcold.faults import armed, fail_point
from hotcold.pipeline.publish import current_run_id
from hotcold.pipeline.settings import settings
from hotcold.sqltext import lit
from hotcold.store.lake import day_dir, day_file, parquet_writer

META = "_hc_meta"  # the meta rows and column of the archival select (hot_archival_select)
FINGERPRINT = "fp|"  # a meta row holding one day's fingerprint; the other holds the snapshot
BATCH_ROWS = 122_880
QUEUE_BATCHES = 4  # batches in flight between the reading and the writing thread: memory stays flat


def stage_run(session):
    run_id = current_run_id(session)
    s = settings(session)
    lake_root, staging_root, stage_root, codec = s["lake_root"], s["staging_root"], s["stage_root"], s["lake_compression"]
    pending = session.execute(
        "select table_name, rows_sql, time_column, note, started_at from _hotcold.stage_writes where run_id = ? order by table_name", [run_id]).fetchall()
    for table, rows_sql, time_column, note, started in pending:
        folder = Path(stage_root) / f"{run_id}__{table}"
        shutil.rmtree(folder, ignore_errors=True)
        view = f'_hotcold."stage__{table}"'
        reader = session.execute(f"select * from ({rows_sql}) src").to_arrow_reader(BATCH_ROWS)
        try:
            written, snapshot, fingerprints = _write_days(reader, time_column, folder, table, codec)
        except OSError as exc:  # pyarrow's IO errors are OSErrors: a full disk, a lost folder
            raise StepFailed(f"could not write the stage of {table} to {folder}: {exc}", "free space or fix the folder, then re-run; nothing was published or deleted") from None
        # The read's own snapshot: every row version it could see was staged, so the delete
        # takes exactly those (hotcold_pg_seen).
        session.execute("update _hotcold.stage_snapshots set snapshot = ? where run_id = ? and table_name = ?", [snapshot, run_id, table])
        # PostgreSQL's own fingerprint of each day, from the same statement: what verify
        # compares the lake with.
        if fingerprints:
            session.executemany("insert into _hotcold.source_fingerprints values (?, ?, ?)", [[run_id, table, f] for f in fingerprints])
        _create_view(session, view, folder, written, rows_sql)
        _check_read_back(session, folder, written)
        linked = _link_new_days(written, Path(lake_root), Path(staging_root) / f"{run_id}__{table}", table)
        rows, days = sum(n for parts in written.values() for _, n in parts), len(written)
        session.execute("update _hotcold.stage_writes set mode = 'days', linked_days = ? where run_id = ? and table_name = ?", [linked, run_id, table])
        session.execute("insert into _hotcold.step_log values (?, 'stage', ?, ?, ?, 0, ?, ?, ?)",
                        [run_id, table, rows, days, started, datetime.now(timezone.utc), note or ""])
    fail_point("stage.after")
    return session.sql(f"select * from _hotcold.step_log where run_id = '{run_id}' and step = 'stage'")


def _write_days(reader: pa.RecordBatchReader, time_column: str, folder: Path, table: str, codec: str) -> tuple[dict[date, list], str | None, list[str]]:
    """Cut the ordered stream into day files: {day: [(path, rows), ...]} (more than one file
    for a day only if its rows did not arrive together), the snapshot the statement sent
    along, and its per-day fingerprint rows ('fp|...'), from its `_hc_meta` rows."""
    batches: queue.Queue = queue.Queue(QUEUE_BATCHES)
    failure: list[BaseException] = []

    def read():
        try:
            for batch in reader:
                batches.put(batch)
        except BaseException as exc:  # handed to the writing thread, raised there
            failure.append(exc)
        finally:
            batches.put(None)

    reading = threading.Thread(target=read, name="hotcold-stage-read", daemon=True)
    reading.start()
    written: dict[date, list] = {}
    writer, current, snapshot, fingerprints = None, None, None, []
    try:
        while (batch := batches.get()) is not None:
            if META in batch.schema.names:
                for meta in pc.drop_null(batch.column(META)).to_pylist():
                    if meta.startswith(FINGERPRINT):
                        fingerprints.append(meta)
                    else:
                        snapshot = meta
                batch = batch.filter(pc.is_null(batch.column(META))).drop_columns([META])
                if batch.num_rows == 0:
                    continue
            batch = _utc(batch)
            if armed("stage.change_value"):
                batch = _change_one_value(batch)
            for day, part in _split_by_day(batch, time_column):
                if day != current:
                    if writer:
                        writer.close()
                    parts = written.setdefault(day, [])
                    path = day_dir(folder.parent, folder.name, day) / f"{table}_{day.year:04d}{day.month:02d}{day.day:02d}_{len(parts)}.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    writer = parquet_writer(path, batch.schema, codec)
                    parts.append([path, 0])
                    current = day
                writer.write_batch(part)
                written[day][-1][1] += part.num_rows
    finally:
        if writer:
            writer.close()
        while reading.is_alive():  # unblock the reader if we stopped early
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                pass
        reading.join()
    if failure:
        raise failure[0]
    return written, snapshot, fingerprints


def _utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every zoned timestamp annotated "UTC": DuckDB hands Arrow its session's zone name
    (Etc/UTC on some machines), which would make this day file's schema differ from the ones
    DuckDB's own writer makes, and pyarrow refuses to unify the two. The instants are the same."""
    fields = [pa.field(f.name, pa.timestamp(f.type.unit, "UTC"), f.nullable, f.metadata)
              if pa.types.is_timestamp(f.type) and f.type.tz is not None and f.type.tz != "UTC" else f for f in batch.schema]
    if all(f is g for f, g in zip(fields, batch.schema)):
        return batch
    return pa.RecordBatch.from_arrays([c.view(f.type) if pa.types.is_timestamp(f.type) else c for c, f in zip(batch.columns, fields)], schema=pa.schema(fields, batch.schema.metadata))


def _change_one_value(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The fail point stage.change_value: change one value of the first row after PostgreSQL
    sent it (the last non-key numeric or text column), as a faulty layer would: 1 added, or a
    float zero's sign flipped (-0.0 read as 0.0, the subtlest change a layer makes). Verify
    must refuse the run; nothing may be published or deleted."""
    for i in reversed(range(batch.num_columns)):
        column = batch.column(i)
        if column.null_count == len(column):
            continue
        if pa.types.is_floating(column.type) and column[0].as_py() == 0:
            changed = pc.negate(column.slice(0, 1))
        elif pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            changed = pc.add(column.slice(0, 1), pa.scalar(1, column.type))
        elif pa.types.is_decimal(column.type):
            changed = pc.cast(pc.add(column.slice(0, 1), pa.scalar(1)), column.type)
        elif pa.types.is_string(column.type):
            changed = pc.binary_join_element_wise(column.slice(0, 1), pa.array(["x"]), "")
        else:
            continue
        arrays = list(batch.columns)
        arrays[i] = pa.concat_arrays([changed.cast(column.type), column.slice(1)])
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)
    return batch


def _split_by_day(batch: pa.RecordBatch, time_column: str):
    """(day, slice) runs of consecutive rows of the same UTC day."""
    days = _epoch_days(batch.column(time_column))
    first, last = days[0].as_py(), days[len(days) - 1].as_py()
    if first == last:
        yield _date(first), batch
        return
    edges = pc.indices_nonzero(pc.not_equal(days.slice(1), days.slice(0, len(days) - 1))).to_pylist()
    starts = [0, *(i + 1 for i in edges)]
    for start, end in zip(starts, [*starts[1:], len(days)]):
        yield _date(days[start].as_py()), batch.slice(start, end - start)


def _epoch_days(times: pa.Array) -> pa.Array:
    """Days since 1970-01-01 of each value, in UTC. From the stored integer, not a cast to
    date32: Arrow would take the day in the column's time zone annotation. Floor division
    on the integers (numpy's, as pyarrow has none): exact over the whole range of years 1 to
    9999, where a division in float64 is not past 2^53 microseconds (the year 2255)."""
    import numpy as np

    if pa.types.is_date32(times.type):
        return times.cast(pa.int32())
    per_day = 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[times.type.unit]
    values = times.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return pa.array(np.floor_divide(values, per_day).astype(np.int32))


def _date(days_since_epoch: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + days_since_epoch)


def _create_view(session, view: str, folder: Path, written: dict, rows_sql: str) -> None:
    if written:
        session.execute(f"create or replace view {view} as select * from read_parquet({lit(str(folder) + '/*/*/*/*.parquet')},"
                        " hive_partitioning = true, hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR})")
    else:
        # Nothing aged: an empty stage with the table's columns.
        session.execute(f"create or replace view {view} as select * exclude ({META}), '' as year, '' as month, '' as day"
                        f" from ({rows_sql}) src where false")


def _check_read_back(session, folder: Path, written: dict) -> None:
    """Every day file's footer reads and holds the rows written to it (export's verify then
    reads every value back)."""
    if not written:
        return
    got = dict(session.execute(f"select file_name, num_rows from parquet_file_metadata({lit(str(folder) + '/*/*/*/*.parquet')})").fetchall())
    want = {str(path): n for parts in written.values() for path, n in parts}
    if got != want:
        bad = next(p for p in sorted(set(got) | set(want)) if got.get(p) != want.get(p))
        raise StepFailed(f"stage file {bad} reads back {got.get(bad, 0)} rows, {want.get(bad, 0)} were written", "re-run the rotation; nothing was published or deleted")


def _link_new_days(written: dict, lake_root: Path, staging: Path, table: str) -> int:
    """A day the lake has no file for is exported as it was staged: link its file into the
    staging folder, where export would have written the same rows."""
    linked = 0
    for day, parts in written.items():
        if day_file(lake_root, table, day).exists():
            continue
        for path, _ in parts:
            target = staging / path.relative_to(path.parents[3])
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.link(path, target)
        linked += 1
    return linked
