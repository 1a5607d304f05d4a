"""Where backfilled rows come from: files, or any data provider written as a `Source`.

A `Source` yields Arrow record batches (or tables) whose columns are the table's columns; the
values are checked and cast to the lake's types by the backfill, exactly as a file's are. It
is spooled to a Parquet file batch by batch, so a source larger than memory streams through.

    class MyVendorBars:
        name = "vendor-bars"
        def batches(self, spec):
            for day in days:                       # one request per day, say
                yield pyarrow.RecordBatch.from_pylist(fetch(day))

    hotcold.backfill(config, "market_data", [MyVendorBars()])
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.parquet as pq

from .config import TableSpec
from .errors import HotColdError

FILE_SUFFIXES = (".csv", ".csv.gz", ".csv.zst", ".tsv", ".parquet")


@runtime_checkable
class Source(Protocol):
    name: str  # shown in progress and in errors ("vendor-bars, row 12: ...")

    def batches(self, spec: TableSpec) -> Iterable[pa.RecordBatch | pa.Table]: ...


def input_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files behind the paths a user gave: files as given, folders searched for CSV and
    Parquet files (sorted, so the order, and with it which version of a repeated key wins,
    is the same every time)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(FILE_SUFFIXES))
            if not found:
                raise HotColdError(f"backfill: folder {p} holds no .csv or .parquet files", "point --from at the files or the folder that holds them")
            out.extend(found)
        elif p.is_file():
            if not p.name.lower().endswith(FILE_SUFFIXES):
                raise HotColdError(f"backfill: {p} is neither a CSV nor a Parquet file", f"use files ending in {', '.join(FILE_SUFFIXES)}")
            out.append(p)
        else:
            raise HotColdError(f"backfill: {p} does not exist", "check the path given to --from")
    return [f.resolve() for f in out]


def spool(source: Source, spec: TableSpec, path: Path) -> int:
    """Write a source's batches to one Parquet file; returns the rows written."""
    writer = None
    rows = 0
    try:
        for batch in source.batches(spec):
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            elif table.schema != writer.schema:
                try:
                    table = table.cast(writer.schema)
                except (pa.ArrowInvalid, ValueError) as exc:
                    raise HotColdError(f"backfill: source {source.name} changed its columns after row {rows}: {exc}", "yield the same columns in every batch") from None
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise HotColdError(f"backfill: source {source.name} yielded no batches", "yield at least one (possibly empty) batch with the table's columns")
    return rows


class SyntheticBars:
    """Random-walk OHLCV bars for `market_data`: synthetic history to try a backfill with,
    and the worked example of a `Source`. Deterministic for a seed; weekdays only for daily bars, 14:00-21:00 UTC for
    intraday ones. One batch per day, so memory stays flat however long the range."""

    STEPS = {"1min": timedelta(minutes=1), "1hour": timedelta(hours=1), "1day": timedelta(days=1)}

    def __init__(self, symbols: int | list[str], start: date, end: date, interval: str = "1day", seed: int = 42):
        if interval not in self.STEPS:
            raise HotColdError(f"SyntheticBars: interval {interval!r} is not one of {', '.join(self.STEPS)}", "pick one of those")
        self.symbols = [f"SYM{i:04d}" for i in range(symbols)] if isinstance(symbols, int) else list(symbols)
        self.start, self.end, self.interval, self.seed = start, end, interval, seed
        self.name = f"synthetic {interval} bars, {len(self.symbols)} symbols, {start}..{end}"

    def batches(self, spec: TableSpec) -> Iterator[pa.RecordBatch]:
        rng = random.Random(self.seed)
        price = {s: 20 + rng.random() * 480 for s in self.symbols}
        day = self.start
        while day < self.end:
            times = self._times(day)
            rows = []
            for ts in times:
                for s in self.symbols:
                    o = price[s]
                    c = max(0.01, o * math.exp(rng.gauss(0, 0.01)))
                    price[s] = c
                    hi, lo = max(o, c) * (1 + rng.random() / 100), min(o, c) * (1 - rng.random() / 100)
                    rows.append({"symbol": s, "interval": self.interval, "ts": ts, "open": o, "high": hi, "low": lo, "close": c,
                                 "volume": int(1000 + rng.random() * 100000), "vwap": round((o + c) / 2, 6)})
            if rows:
                yield pa.RecordBatch.from_pylist(rows, schema=BAR_SCHEMA)
            day += timedelta(days=1)

    def _times(self, day: date) -> list[datetime]:
        if day.isoweekday() > 5:
            return []
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        if self.interval == "1day":
            return [midnight]
        step = self.STEPS[self.interval]
        t, out = midnight + timedelta(hours=14), []
        while t < midnight + timedelta(hours=21):
            out.append(t)
            t += step
        return out


BAR_SCHEMA = pa.schema([
    ("symbol", pa.string()), ("interval", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
    ("open", pa.float64()), ("high", pa.float64()), ("low", pa.float64()), ("close", pa.float64()),
    ("volume", pa.int64()), ("vwap", pa.float64()),
])
