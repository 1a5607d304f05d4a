"""Step 4 (Publish): verified staged day files replace the lake's day files.

Runs inside dbt (the `hotcold_publish` Python model) on dbt's DuckDB connection. Each day is
one atomic file replace, recorded in `_hotcold.lake_days` right after; a crash between days
leaves every row in the lake, in the hot store, or both, and the next run re-stages them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa

from hotcold.errors import StepFailed
from hotcold.faults import fail_point
from hotcold.pipeline.settings import settings
from hotcold.progress import emit
from hotcold.sqltext import lit
from hotcold.store.lake import (
    checksum_expr,
    day_file,
    parquet_writer,
    record_columns,
    store_for,
)


def current_run_id(session) -> str:
    row = session.execute(
        "select run_id from _hotcold.runs where outcome = 'running' order by started_at desc limit 1"
    ).fetchone()
    if row is None:
        raise StepFailed("no rotation is running", "run the whole rotation: dbt build --select tag:rotation")
    return row[0]


def publish_run(session):
    run_id = current_run_id(session)
    s = settings(session)
    lake_root, staging, mode, codec = Path(s["lake_root"]), s["staging_root"], s["lake_file_mode"], s["lake_compression"]
    started = datetime.now(timezone.utc)
    days = session.execute(
        """select table_name, year, month, day, rows, checksum, staged_files
             from _hotcold.export_days where run_id = ? and published_at is null
            order by table_name, year, month, day""",
        [run_id],
    ).fetchall()
    store = store_for(lake_root, mode)
    staging_root = Path(staging)
    moves, published = [], []
    for table, y, m, d, rows, checksum, files in days:
        day = date(int(y), int(m), int(d))
        staged = sorted((staging_root / f"{run_id}__{table}" / f"year={y}" / f"month={m}" / f"day={d}").glob("*.parquet"))
        if len(staged) != files or not staged:
            raise StepFailed(f"staged files for {table} {day} changed since verification ({len(staged)} found, {files} verified)", "re-run the rotation")
        if len(staged) > 1:
            staged = [_combine(session, staged, rows, checksum, codec)]
        moves.append((staged[0], day_file(lake_root, table, day)))
        published.append({"table": table, "day": day.isoformat(), "rows": rows})

    def replaced(i: int) -> None:
        emit("day", **published[i])
        fail_point("publish.between_days")

    # Every file is on disk before any replace, and every replace before the record; a crash
    # in between leaves each day's old file or its new one, both holding every row.
    fail_point("publish.before_replace")
    store.replace_all(moves, after_each=replaced)
    record = pa.table({
        "table_name": [r[0] for r in days], "year": [r[1] for r in days], "month": [r[2] for r in days], "day": [r[3] for r in days],
        "path": [str(dst) for _, dst in moves], "bytes": [dst.stat().st_size for _, dst in moves],
    })
    session.register("hc_published", record)
    now = datetime.now(timezone.utc)
    session.execute(
        """update _hotcold.export_days e set published_at = ?, path = p.path, bytes = p.bytes from hc_published p
            where e.run_id = ? and e.table_name = p.table_name and e.year = p.year and e.month = p.month and e.day = p.day""",
        [now, run_id],
    )
    session.execute(
        """insert or replace into _hotcold.lake_days
           select e.table_name, make_date(e.year::int, e.month::int, e.day::int), p.path, e.rows, e.checksum, p.bytes, e.run_id, ?
             from _hotcold.export_days e join hc_published p using (table_name, year, month, day) where e.run_id = ?""",
        [now, run_id],
    )
    session.unregister("hc_published")
    for table in sorted({r[0] for r in days}):
        record_columns(session, lake_root, table)
    fail_point("publish.after")
    session.execute(
        "insert into _hotcold.step_log select ?, 'publish', table_name, sum(rows), count(*), sum(bytes), ?, ?, '' from _hotcold.export_days where run_id = ? group by table_name",
        [run_id, started, datetime.now(timezone.utc), run_id],
    )
    # We hold the rotation lock, so staging folders of other runs are left by runs that died;
    # their rows are still in the hot store and were staged again by this run.
    for folder in staging_root.iterdir():
        store.remove_tree(folder)
    return session.sql(f"select * from _hotcold.step_log where run_id = '{run_id}' and step = 'publish'")


def _combine(session, files: list[Path], rows: int, checksum, codec: str) -> Path:
    """One day file of a day staged in several parts (the stage starts a part each time its
    stream of rows comes back to a day; DuckDB's partitioned writer may split a day too).
    Copied batch by batch with pyarrow (memory stays flat), which keeps every value's bits:
    the parts were verified against the hot store, and DuckDB's writer would give -0.0 and
    0.0 in one column one sign (lake.parquet_writer), which the record's checksum, built on
    DuckDB's hash, cannot see."""
    import pyarrow.parquet as pq

    out = files[0].parent / "combined.parquet.tmp"
    schema = pq.read_schema(files[0])
    names = schema.names
    writer = parquet_writer(out, schema, codec)
    try:
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=65_536):
                part = pa.Table.from_batches([batch])
                writer.write_table(part if part.schema.equals(schema) else part.select(names).cast(schema))
    finally:
        writer.close()
    got = session.execute(
        f"select count(*), {checksum_expr(names)} from read_parquet(?, hive_partitioning = false)", [str(out)]
    ).fetchone()
    if got[0] != rows or got[1] != checksum:
        raise StepFailed(f"combining staged files {files[0].parent} changed the data", "re-run the rotation")
    for f in files:
        f.unlink()
    final = files[0].parent / "combined.parquet"
    out.rename(final)
    return final


def withdraw_vanished(session):
    """Re-write each lake day holding rows that were deleted from the hot store during this
    run (the delete step lists them in _hotcold.vanished__<table>) without those rows."""
    run_id = current_run_id(session)
    started = datetime.now(timezone.utc)
    s = settings(session)
    lake_root, mode, codec = Path(s["lake_root"]), s["lake_file_mode"], s["lake_compression"]
    keys = {t["name"]: t["key"] for t in s["tables"]}
    store = store_for(lake_root, mode)
    found = session.execute(
        "select table_name from duckdb_tables() where schema_name = '_hotcold' and table_name like 'vanished\\_\\_%' escape '\\'").fetchall()
    for (name,) in found:
        table = name[len("vanished__"):]
        vanished = f'_hotcold."{name}"'
        key = keys[table]
        match = " and ".join(f'v."{k}" = l."{k}"' for k in key)
        days = session.execute(f"select distinct year, month, day from {vanished} order by all").fetchall()
        withdrawn = 0
        for y, m, d in days:
            day = date(int(y), int(m), int(d))
            path = day_file(lake_root, table, day)
            tmp = path.with_name(path.name + ".withdraw.tmp")
            src, out = lit(path), lit(tmp)
            keep = f"from read_parquet({src}, hive_partitioning = false) l where not exists (select 1 from {vanished} v where {match})"
            before = session.execute(f"select count(*) from read_parquet({src}, hive_partitioning = false)").fetchone()[0]
            # No dictionary: DuckDB's would give the day's -0.0 and 0.0 one sign (lake.parquet_writer).
            session.execute(f"copy (select * {keep}) to {out} (format parquet, compression {codec}, dictionary_size_limit 0)")
            names = [c[0] for c in session.execute(f"describe select * from read_parquet({out}, hive_partitioning = false)").fetchall()]
            rows, checksum = session.execute(f"select count(*), {checksum_expr(names)} from read_parquet({out}, hive_partitioning = false)").fetchone()
            gone = session.execute(f"select count(*) from {vanished} v semi join read_parquet({src}, hive_partitioning = false) l on {match}").fetchone()[0]
            if rows != before - gone:
                raise StepFailed(f"withdrawing deleted rows from {path} would leave {rows} rows, expected {before - gone}", "re-run the rotation")
            if rows == 0:
                tmp.unlink()
                store.remove(path)
                session.execute("delete from _hotcold.lake_days where table_name = ? and day = ?", [table, day])
            else:
                store.replace(tmp, path)
                session.execute("update _hotcold.lake_days set rows = ?, checksum = ?, bytes = ?, run_id = ?, published_at = now() where table_name = ? and day = ?",
                                [rows, checksum, path.stat().st_size, run_id, table, day])
            withdrawn += gone
        session.execute(f"drop table {vanished}")
        if days:
            record_columns(session, lake_root, table)
        if withdrawn:
            session.execute("insert into _hotcold.step_log values (?, 'reconcile', ?, ?, ?, 0, ?, ?, ?)",
                            [run_id, table, withdrawn, len(days), started, datetime.now(timezone.utc), f"{withdrawn} rows deleted from the hot store while archived were withdrawn from the lake"])
    return session.sql(f"select * from _hotcold.step_log where run_id = '{run_id}' and step = 'reconcile'")
