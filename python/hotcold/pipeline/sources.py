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

import codecs
import math
import operator
import random
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.parquet as pq

from hotcold.config import TableSpec
from hotcold.errors import HotColdError

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


# --- CSV files as PostgreSQL's COPY reads them -----------------------------------------------
#
# The backfill reads CSV fields with DuckDB's reader, which differs from PostgreSQL's
# `COPY ... (FORMAT csv, HEADER)` on a few layouts: it drops spaces around a quoted field
# (PostgreSQL keeps them), skips blank lines (PostgreSQL refuses them), takes a quote inside
# a field otherwise, accepts NUL bytes and mixed line ends, and reads on past a line `\.`
# (where PostgreSQL 15-17 stops). csv_layout() reads the file once, as PostgreSQL would, and
# refuses those layouts by line, so that what DuckDB then reads is field for field what
# PostgreSQL reads. Lines without a quote take a fast path (split and count); lines with
# one go through a regex of PostgreSQL's CSV grammar, and only a line it refuses through
# the character-by-character lexer that names the problem.

CSV_CHUNK = 1 << 22


class _Bad(Exception):
    def __init__(self, line: int, what: str, fix: str):
        super().__init__(what)
        self.line, self.what, self.fix = line, what, fix


def csv_delimiter(path: str | Path) -> str:
    """PostgreSQL's COPY takes one delimiter; hotcold reads .tsv files with a tab, others with a comma."""
    return "\t" if re.search(r"\.tsv(\.gz|\.zst)?$", str(path).lower()) else ","


def csv_layout(path: str | Path, name: str | None = None) -> dict:
    """{'columns': the header's names, 'delim', 'new_line'} of a CSV file whose every field
    DuckDB's reader will see exactly as PostgreSQL's COPY (FORMAT csv, HEADER) does; a file
    laid out otherwise is refused with a HotColdError naming the line and the fix."""
    name = name or Path(path).name
    scan = _CsvScan(Path(path), csv_delimiter(path))
    try:
        columns = scan.run()
    except _Bad as bad:
        raise HotColdError(f"backfill: {name}, line {bad.line}: {bad.what}. Nothing was published or written", bad.fix) from None
    return {"columns": columns, "delim": scan.d, "new_line": scan.eol or "\n"}


def _open_bytes(path: Path):
    lower = path.name.lower()
    if lower.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    if lower.endswith(".zst"):
        try:
            import zstandard
        except ImportError:
            raise HotColdError(f"backfill: {path.name} is zstd-compressed, and hotcold checks a CSV file's layout as PostgreSQL reads it only with the zstandard module",
                               "pip install zstandard, or decompress the file (zstd -d) and backfill the .csv") from None
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _CsvScan:
    def __init__(self, path: Path, delim: str):
        self.path, self.d = path, delim
        self.eol: str | None = None  # the header's line end: PostgreSQL holds every line to it
        self.names: list[str] = []

    def run(self) -> list[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        buf, pos, line, consumed, first = "", 0, 1, 0, True
        with _open_bytes(self.path) as f:
            while True:
                raw = f.read(CSV_CHUNK)
                eof = not raw
                try:
                    text = decoder.decode(raw, final=eof)
                except UnicodeDecodeError as exc:
                    at = consumed + exc.start
                    raise _Bad(self._line_at_byte(at), f"byte 0x{exc.object[exc.start]:02x} (at byte {at}) is not UTF-8, and PostgreSQL's COPY refuses it (invalid byte sequence for encoding \"UTF8\")",
                               "save the file as UTF-8 and re-run") from None
                consumed += len(raw)
                if first and text.startswith("\ufeff"):
                    text = text[1:]  # a byte order mark is not part of the first column's name
                first = first and not text
                if "\x00" in text:
                    nul = (buf[pos:] + text).index("\x00")
                    raise _Bad(line + self._count_lines(buf[pos:] + text, 0, nul), "it holds a NUL byte, which PostgreSQL's COPY refuses (invalid byte sequence for encoding \"UTF8\": 0x00)",
                               "remove the NUL bytes from the file and re-run")
                buf, pos = buf[pos:] + text, 0
                if self.eol is None and not self.names:
                    got = self._header(buf, eof)
                    if got is None:
                        if eof:
                            return []  # an empty file: PostgreSQL loads nothing, nor does the backfill
                        continue
                    pos = got
                    line += self._count_lines(buf, 0, pos)
                pos, line = self._records(buf, pos, line, eof)
                if eof:
                    return self.names

    # PostgreSQL counts a file's lines by its line end; so do the messages.
    def _count_lines(self, buf: str, a: int, b: int) -> int:
        return buf.count("\r" if self.eol == "\r" else "\n", a, b)

    def _line_at_byte(self, offset: int) -> int:
        lines, eol = 1, b"\r" if self.eol == "\r" else b"\n"
        with _open_bytes(self.path) as f:
            while offset > 0:
                chunk = f.read(min(offset, CSV_CHUNK))
                if not chunk:
                    break
                lines += chunk.count(eol)
                offset -= len(chunk)
        return lines

    def _header(self, buf: str, eof: bool) -> int | None:
        got = self._lex(buf, 0, 1, eof, header=True)
        if got is None:
            return None
        fields, end = got
        names = [v or "" for v, _ in fields]
        if names == [""] and end == len(buf) and eof:
            return None
        if "" in names:
            raise _Bad(1, f"the header's field {names.index('') + 1} is empty", "name every column of the file in its header, as in the table")
        seen: dict[str, str] = {}
        for n in names:
            if n.lower() in seen:
                what = f"the header names column {_show(n)} twice" if seen[n.lower()] == n else f"the header names columns {_show(seen[n.lower()])} and {_show(n)}, which DuckDB takes for one"
                raise _Bad(1, what, "give each column once, named as in the table")
            seen[n.lower()] = n
        self.names = names
        if self.eol is None:
            self.eol = "\n"  # a header alone, without a line end: nothing follows to hold to one
        rx_d, e = re.escape(self.d), re.escape(self.eol)
        field = f'(?:"[^"]*(?:""[^"]*)*"|[^"{rx_d}\\r\\n]+)?'
        # One record: not a line `\.`, not a blank line, exactly as many fields as the header,
        # each quoted as a whole or not at all, ended by the header's line end.
        self._rx = re.compile(f'(?:(?!\\\\\\.(?:[\\r\\n]|\\Z))(?!{e}){field}(?:{rx_d}{field}){{{len(names) - 1}}}{e})*')
        return end

    def _records(self, buf: str, pos: int, line: int, eof: bool) -> tuple[int, int]:
        """Check the complete records of buf from pos; returns where the unchecked rest starts
        (a record cut by the chunk's end) and its line."""
        n, d, eol = len(self.names), self.d, self.eol
        while pos < len(buf):
            cut = len(buf) if eof else buf.rfind(eol[-1], pos) + 1  # complete lines only
            if cut <= pos:
                return pos, line
            seg = buf[pos:cut]
            if '"' not in seg:
                # The fast path: without quotes every line is a record.
                lines = seg.split(eol)
                if lines and lines[-1] == "" and seg.endswith(eol):
                    lines.pop()
                counts = set(map(operator.methodcaller("count", d), lines))
                if ("\r" in seg and eol == "\n") or ("\n" in seg and eol == "\r") or "" in lines or "\\." in lines or counts != {n - 1} \
                        or (eol == "\r\n" and not seg.count("\r") == seg.count("\n") == len(lines) - (not seg.endswith(eol))):
                    bad = next((i for i, ln in enumerate(lines) if ln in ("", "\\.") or "\r" in ln or "\n" in ln or ln.count(d) != n - 1), None)
                else:
                    bad = None
                if bad is not None:
                    start = pos + sum(len(ln) + len(eol) for ln in lines[:bad])
                    self._lex(buf, start, line + bad, True)
                    raise AssertionError("the lexer accepted a line the fast path refused")  # pragma: no cover
                line += self._count_lines(buf, pos, cut)
                pos = cut
                continue
            end = self._rx.match(buf, pos).end()
            line += self._count_lines(buf, pos, end)
            pos = end
            if pos >= len(buf):
                continue
            # The grammar stops here: a record cut by the chunk's end, the last record without a
            # line end, or a problem, which the lexer names.
            got = self._lex(buf, pos, line, eof)
            if got is None:
                return pos, line
            end = got[1]
            line += self._count_lines(buf, pos, end)
            pos = end
        return pos, line

    def _field(self, i: int, header: bool) -> str:
        return f"field {i + 1}" + (f" (column {self.names[i]!r})" if not header and i < len(self.names) else "")

    def _lex(self, buf: str, p: int, line: int, eof: bool, header: bool = False):
        """One record from p as PostgreSQL's COPY lexes it: ([(value, quoted)], end after its
        line end), or None when the buffer ends before the record does. Raises _Bad for a
        record PostgreSQL refuses or that DuckDB would read otherwise."""
        d, start, fields, size = self.d, p, [], len(buf)
        if not header and (buf.startswith("\\.", p) and (p + 2 == size and eof or p + 2 < size and buf[p + 2] in "\r\n")):
            raise _Bad(line, "it is \\. alone, which PostgreSQL's COPY (versions 15 to 17) takes for the end of the data, silently dropping the lines after it",
                       'remove the line, or quote it ("\\.") if it is a value')
        while True:
            value, quoted, f0 = [], False, p
            while p < size and buf[p] not in (d, "\r", "\n"):
                if buf[p] != '"':
                    q = p
                    while p < size and buf[p] not in (d, "\r", "\n", '"'):
                        p += 1
                    value.append(buf[q:p])
                    if quoted:
                        raise _Bad(line, f"{self._field(len(fields), header)} has {_show(buf[q:p])} after its closing quote; PostgreSQL's COPY would join the two (DuckDB's reader would not)",
                                   "quote the whole field")
                    continue
                if p > f0 or quoted:
                    what = "spaces before its opening quote, which PostgreSQL's COPY keeps and DuckDB's reader drops" if buf[f0:p].strip(" ") == "" and not quoted else "a quote inside it, which PostgreSQL's COPY takes for the start of a quoted part"
                    raise _Bad(line, f"{self._field(len(fields), header)} has {what}", "quote the whole field, or none of it, and double every quote inside it")
                quoted, q = True, p + 1
                while True:
                    j = buf.find('"', q)
                    if j < 0 or (j + 1 == size and not eof):
                        if not eof:
                            return None
                        raise _Bad(line, "a quoted field starts here and is never closed (PostgreSQL: unterminated CSV quoted field)", "close the quote, and double every quote inside a quoted field")
                    if j + 1 < size and buf[j + 1] == '"':
                        value.append(buf[q:j + 1])
                        q = j + 2
                        continue
                    value.append(buf[q:j])
                    p = j + 1
                    break
            if p >= size and not eof:
                return None
            text = "".join(value)
            fields.append((text if quoted or text else None, quoted))
            if p < size and buf[p] == d:
                p += 1
                continue
            break
        # The record's line end: PostgreSQL takes the header's for the whole file.
        if p >= size:
            end = p
        elif buf.startswith("\r\n", p):
            end, got = p + 2, "\r\n"
        else:
            end, got = p + 1, buf[p]
        if p < size:
            if got == "\r" and end == size and not eof:
                return None  # its \n may come with the next chunk
            if self.eol is None:
                self.eol = got
            elif got != self.eol:
                names = {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}
                raise _Bad(line, f"it ends with {names[got]} where the header's line ends with {names[self.eol]}; PostgreSQL's COPY refuses a file that mixes line ends (unquoted {'carriage return' if got[0] == chr(13) else 'newline'} found in data)",
                           "end every line the same way (or quote a field that holds a line break)")
        if header:
            return fields, end
        n = len(self.names)
        if fields == [(None, False)] and p == start:
            raise _Bad(line, "it is empty, and PostgreSQL's COPY refuses a blank line (missing data for column ...); DuckDB's reader would skip it", "remove the blank line")
        if len(fields) != n:
            raise _Bad(line, f"it has {len(fields)} field{'s' if len(fields) != 1 else ''} and the header {n} (PostgreSQL's COPY: {'extra data after last expected column' if len(fields) > n else 'missing data for column'})",
                       "give every line one field per header column (quote a field that holds the delimiter)")
        return fields, end
