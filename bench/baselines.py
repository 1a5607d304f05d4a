"""What hotcold is measured against, each run on the same rows in the same process."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def raw_copy(pg, select: str) -> tuple[int, float]:
    """PostgreSQL's extraction limit: binary COPY of the rows to the client, into nothing."""
    t0, size = time.perf_counter(), 0
    with pg.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
        for chunk in copy:
            size += len(chunk)
    return size, time.perf_counter() - t0


def pandas_job(sqlalchemy_url: str, select: str, out: Path, compression: str, chunk_rows: int = 200_000) -> tuple[int, float]:
    """The job a user writes by hand: read_sql in chunks, add the partition columns,
    write_to_dataset by year/month/day. No verification, no delete."""
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(sqlalchemy_url)
    t0, n = time.perf_counter(), 0
    with engine.connect().execution_options(stream_results=True) as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in pd.read_sql(sqlalchemy.text(select), conn, chunksize=chunk_rows):
            ts = frame["ts"].dt.tz_convert("UTC")
            frame["year"], frame["month"], frame["day"] = ts.dt.strftime("%Y"), ts.dt.strftime("%m"), ts.dt.strftime("%d")
            pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), out, partition_cols=["year", "month", "day"],
                                compression=compression, max_partitions=100_000)
            n += len(frame)
    engine.dispose()
    return n, time.perf_counter() - t0


def bare_delete(pg, rel: str, where: str) -> tuple[int, float, float]:
    """The least a delete can cost: one DELETE of the aged rows, then VACUUM (ANALYZE)."""
    t0 = time.perf_counter()
    n = pg.execute(f"DELETE FROM {rel} WHERE {where}").rowcount
    t1 = time.perf_counter()
    pg.execute(f"VACUUM (ANALYZE) {rel}")
    return n, t1 - t0, time.perf_counter() - t1
