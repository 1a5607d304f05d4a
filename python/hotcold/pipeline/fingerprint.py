"""The lake side of verification against the hot store: fingerprints of day files.

Verify (macros/steps/export.sql) compares, per day and column, the count of non-NULL values
and a sum that the hot store computed from its own values (macros/lifecycle/lake_types.sql)
with the same computed from the staged day files. Integers, decimals and times are summed by
DuckDB in SQL; doubles, floats and text are summed as PostgreSQL's own hashes of them
(hotcold.pipeline.pg_hash), and so are times (timestamp_hash), which DuckDB could only compute through a Python function called once per
2,048 rows (about 0.8 ms a call: 4 s for 10M values). This module reads those columns
straight from the files with pyarrow, in batches (memory stays flat), and DuckDB calls it once
per verify: `hc_day_file_fingerprints(glob, columns)`.
"""

from __future__ import annotations

import glob as globbing
import json
import os
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hotcold.pipeline import pg_hash

# DuckDB type of a lake column -> PostgreSQL hash whose sum fingerprints it.
HASHED = {"DOUBLE": pg_hash.hashfloat8, "FLOAT": pg_hash.hashfloat4, "VARCHAR": pg_hash.hashtext,
          "TIMESTAMP": pg_hash.timestamp_hash, "TIMESTAMP WITH TIME ZONE": pg_hash.timestamp_hash}
_DAY = re.compile(r"/year=([0-9]+)/month=([0-9]+)/day=([0-9]+)/")
BATCH_ROWS = 131_072  # the sum of this many int32 hashes fits an int64


def day_file_fingerprints(pattern: str, columns: dict[str, str]) -> list[dict]:
    """[{year, month, day, c, n, s}] for each day folder (year=/month=/day=) of the files
    matching `pattern` and each of `columns` ({name: DuckDB type}, types in HASHED): n the
    non-NULL values, s the sum of their PostgreSQL hashes (an exact int, as text). A day file
    without a column contributes nothing to it (NULL in a union-by-name read). Files are read
    on every core (pyarrow and numpy let go of the GIL), one batch at a time each."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for day, found in pool.map(lambda path: _file_sums(path, columns), sorted(globbing.glob(pattern))):
            for name, (n, total) in found.items():
                acc = sums[(*day, name)]
                acc[0] += n
                acc[1] += total
    return [{"year": y, "month": m, "day": d, "c": c, "n": n, "s": str(s)} for (y, m, d, c), (n, s) in sorted(sums.items())]


def _file_sums(path: str, columns: dict[str, str]) -> tuple[tuple, dict[str, tuple[int, int]]]:
    day = _DAY.search(path).groups()
    text = [c for c, t in columns.items() if t == "VARCHAR"]
    # Text read as its dictionary: each distinct value (a ticker) is hashed once per file.
    file = pq.ParquetFile(path, read_dictionary=text)
    present = [c for c in columns if c in file.schema_arrow.names]
    found: dict[str, tuple[int, int]] = {}
    for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=present):
        for name in present:
            values = batch.column(name)
            n, total = found.get(name, (0, 0))
            found[name] = (n + len(values) - values.null_count, total + (pc.sum(_hash(values).cast(pa.int64())).as_py() or 0) + _negative_zeros(values))
    return day, found


def _negative_zeros(values: pa.Array) -> int:
    """-0.0s among float values: PostgreSQL's hashfloat8 hashes them as +0.0, so the
    fingerprint counts them apart (lake_types.sql: 1 added for each)."""
    if not pa.types.is_floating(values.type):
        return 0
    x = values.to_numpy(zero_copy_only=False)  # NULLs become NaN, which is not 0
    return int(np.count_nonzero((x == 0) & np.signbit(x)))


def _hash(values: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(values.type):
        return pg_hash.timestamp_hash(values)
    if pa.types.is_float64(values.type):
        return pg_hash.hashfloat8(values)
    if pa.types.is_floating(values.type):
        return pg_hash.hashfloat4(values)
    return pg_hash.hashtext(values)


def register(conn) -> None:
    """`hc_day_file_fingerprints(glob VARCHAR, columns VARCHAR) -> VARCHAR` on a DuckDB
    connection: day_file_fingerprints as JSON, `columns` a JSON object {name: type}."""
    import duckdb

    def udf(pattern: str, columns: str) -> str:
        return json.dumps(day_file_fingerprints(pattern, json.loads(columns)))

    try:
        conn.remove_function("hc_day_file_fingerprints")
    except duckdb.Error:
        pass
    conn.create_function("hc_day_file_fingerprints", udf, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True)
