"""The lake's layout and its file operations, in one place.

Every path hotcold writes is built here, and every write, replace and delete goes through
`LocalStore`, so an object-store backend later is one class, not a hunt through the code.
Correctness never rests on renaming a directory: a day is one file, replaced whole.
"""

from __future__ import annotations

import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from hotcold.sqltext import q


def day_dir(root: Path, table: str, day: date) -> Path:
    return Path(root) / table / f"year={day.year:04d}" / f"month={day.month:02d}" / f"day={day.day:02d}"


def day_file(root: Path, table: str, day: date) -> Path:
    # Not strftime's %Y: it does not pad years before 1000 on every platform.
    return day_dir(root, table, day) / f"{table}_{day.year:04d}{day.month:02d}{day.day:02d}.parquet"


# read_parquet's column naming each row's file (`filename = '_hc_file'`): a user's column may be
# called "filename".
FILE_COLUMN = "_hc_file"


def day_of_file_sql(path_sql: str = FILE_COLUMN) -> str:
    """DuckDB SQL for the day of a day file from its path (day_file's <table>_YYYYMMDD.parquet).
    On read_parquet's file column DuckDB evaluates it once per file, not per row."""
    return f"strptime(regexp_extract({path_sql}, '_([0-9]{{8}})\\.parquet$', 1), '%Y%m%d')::date"


def checksum_expr(columns: list[str]) -> str:
    """A day's order-independent checksum over `columns`, as DuckDB SQL: the twin of the
    macro hotcold_checksum, which export records and verify re-computes."""
    return "sum(hash(row(" + ", ".join(q(c) for c in columns) + "))::hugeint)"


def lake_schema(root: Path, table: str):
    """The Arrow schema of every day file of `table` together (pyarrow.Schema): the union of
    their columns, each with the widest type a file gives it, then year, month and day (int32)
    as Hive readers add them. A table whose hot columns changed over time has day files with
    different columns; pyarrow.dataset takes its schema from one file unless given this one:
    `ds.dataset(root / table, partitioning="hive", schema=lake_schema(root, table))`.
    Reads the files' footers only. Raises FileNotFoundError when the table has no day file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((Path(root) / table).glob("year=*/month=*/day=*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no day files of {table} under {root}")
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    return pa.schema([*schema, *(pa.field(p, pa.int32()) for p in ("year", "month", "day"))])


def columns_path(lake_root: Path, table: str) -> Path:
    return Path(lake_root).parent / "_hotcold" / "columns" / f"{table}.json"


def record_columns(conn, lake_root: Path, table: str) -> dict[str, str]:
    """Write, for readers, the union of the columns of all of `table`'s day files ({name:
    DuckDB type}, in first-seen order) with the generation it was read at; returns it.
    `conn`: a DuckDB connection. Reading every footer costs about 60 ms for 1,300 day files,
    which a query should not pay each time it opens the lake: writers pay it once per change."""
    import json

    files = sorted(str(p) for p in (Path(lake_root) / table).glob("year=*/month=*/day=*/*.parquet"))
    columns = {}
    if files:
        columns = dict(conn.execute("select column_name, column_type from (describe select * from read_parquet(?, union_by_name = true, hive_partitioning = false))", [files]).fetchall())
    path = columns_path(lake_root, table)
    private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"generation": generation(lake_root, table), "columns": columns}))
    os.replace(tmp, path)
    return columns


def recorded_columns(lake_root: Path, table: str) -> dict[str, str] | None:
    """The union of `table`'s day file columns as record_columns wrote it, or None when it is
    missing or was written at another generation than the lake's now (then read the files)."""
    import json

    try:
        record = json.loads(columns_path(lake_root, table).read_text())
    except (FileNotFoundError, ValueError):
        return None
    current = generation(lake_root, table)
    if current is None or current.startswith(CHANGING) or record.get("generation") != current:
        return None
    return record.get("columns") or None




def staging_root(lake_root: Path) -> Path:
    """Beside the lake, on the same filesystem, so publishing a day is one atomic replace."""
    return Path(lake_root).parent / "_hotcold" / "staging"


def stage_root(lake_root: Path) -> Path:
    """Where a run keeps the rows it moves (one Parquet file per table) until it ends."""
    return Path(lake_root).parent / "_hotcold" / "stage"


CHANGING = "changing "


def generations_root(lake_root: Path) -> Path:
    return Path(lake_root).parent / "_hotcold" / "generations"


def generation(lake_root: Path, table: str) -> str | None:
    """A token that changes whenever hotcold changes any of `table`'s files; it starts with
    CHANGING while a change is under way (or died under way). None: never recorded."""
    try:
        return (generations_root(lake_root) / table).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_generation(lake_root: Path, table: str) -> str:
    """The table's generation, recording a first one for a lake written before they were kept."""
    return generation(lake_root, table) or _write_generation(lake_root, table, uuid.uuid4().hex)


def _write_generation(lake_root: Path, table: str, value: str) -> str:
    folder = generations_root(lake_root)
    private_dirs(folder)
    tmp = folder / f".{table}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(value)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / table)
    LocalStore._fsync_dir(folder)
    return value


def _table_of(root: Path, path: Path) -> str | None:
    try:
        return Path(path).relative_to(root).parts[0]
    except (ValueError, IndexError):
        return None


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


class LocalStore:
    """A lake on a local or mounted filesystem. Files are private unless configured.

    Every change to a table's files also moves that table's generation (see `generation`),
    so readers of derived data (the history index) can tell it still matches the files.
    """

    def __init__(self, root: Path, file_mode: int = 0o600, dir_mode: int = 0o700):
        self.root, self.file_mode, self.dir_mode = Path(root), file_mode, dir_mode

    def replace(self, src: Path, dst: Path) -> None:
        """Make `src` the file at `dst` in one step: readers see the old file or the new one."""
        self.replace_all([(src, dst)])

    def replace_all(self, moves: list[tuple[Path, Path]], after_each=None) -> None:
        """`replace` for many files, their fsyncs in parallel: the disk gets them in batches
        instead of one round trip per file. `after_each(i)` runs after the i-th replace."""
        with self._changing([dst for _, dst in moves]), ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(_fsync_file, [src for src, _ in moves]))
            for i, (src, dst) in enumerate(moves):
                self._makedirs(dst.parent)
                os.chmod(src, self.file_mode)
                os.replace(src, dst)
                if after_each:
                    after_each(i)
            list(pool.map(self._fsync_dir, sorted({dst.parent for _, dst in moves})))

    def remove(self, path: Path) -> None:
        with self._changing([path]):
            path.unlink(missing_ok=True)
            self._fsync_dir(path.parent)

    @contextmanager
    def _changing(self, paths):
        """The tables of `paths` read as changing until the change is on disk; a crash in
        between leaves them changing, which only makes readers go to the files."""
        tables = sorted({t for t in (_table_of(self.root, p) for p in paths) if t})
        new = uuid.uuid4().hex
        for table in tables:
            _write_generation(self.root, table, CHANGING + new)
        yield
        for table in tables:
            _write_generation(self.root, table, new)

    def remove_tree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def _makedirs(self, path: Path) -> None:
        make_dirs(path, self.dir_mode)

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_dirs(path: Path, mode: int) -> None:
    """mkdir -p, giving every folder it creates `mode` (existing ones are left as they are)."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=mode, exist_ok=True)


def private_dirs(path: Path) -> None:
    make_dirs(path, 0o700)


def check_writable(root: Path) -> None:
    """Fail before any work if the lake (and staging beside it) cannot take a file."""
    from hotcold.errors import HotColdError

    for folder in (Path(root), staging_root(root)):
        try:
            private_dirs(folder)
            probe = folder / f".hotcold-write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise HotColdError(f"the lake is not writable: {folder}: {exc.strerror or exc}",
                               "fix the folder's permissions or free space, or point storage.lake.root at a writable folder") from None


def store_for(root: Path, file_mode: int = 0o600) -> LocalStore:
    return LocalStore(root, file_mode, dir_mode_for(file_mode))


def dir_mode_for(file_mode: int) -> int:
    """A folder readable by whoever may read the files: r implies x."""
    return file_mode | ((file_mode & 0o444) >> 2)


def table_has_files(root: Path, table: str) -> bool:
    return next(iter_day_files(root, table), None) is not None


def iter_day_files(root: Path, table: str, first: date | None = None, last: date | None = None):
    """(day, path, stat) of each published day file in [first, last], in day order.

    Walks year=/month=/day= folders and prunes whole years and months outside the range, so
    a one-week query over a ten-year lake touches a handful of folders, never a glob of all.
    """
    # Plain strings and os.stat: a five-year query plans 1,300 files, and pathlib's joins
    # cost more than the stat calls.
    base = os.path.join(os.fspath(root), table)
    lo, hi = first or date.min, last or date.max
    for year in _parts(base, "year", lo.year, hi.year):
        y_path = f"{base}/year={year:04d}"
        m_lo = lo.month if year == lo.year else 1
        m_hi = hi.month if year == hi.year else 12
        for month in _parts(y_path, "month", m_lo, m_hi):
            m_path = f"{y_path}/month={month:02d}"
            for d in _parts(m_path, "day", 1, 31):
                try:
                    day = date(year, month, d)
                except ValueError:
                    continue
                if lo <= day <= hi:
                    path = f"{m_path}/day={d:02d}/{table}_{year:04d}{month:02d}{d:02d}.parquet"
                    try:
                        yield day, Path(path), os.stat(path)
                    except FileNotFoundError:
                        continue


def _parts(folder: Path, name: str, lo: int, hi: int) -> list[int]:
    """The values of `name=NN` subfolders of `folder` within [lo, hi], sorted."""
    prefix = name + "="
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    with entries:
        for e in entries:
            if e.name.startswith(prefix) and e.name[len(prefix):].isdigit() and e.is_dir():
                v = int(e.name[len(prefix):])
                if lo <= v <= hi:
                    found.append(v)
    return sorted(found)


# Parquet codec names as the config spells them -> as pyarrow does.
CODECS = {"uncompressed": "none", "lz4_raw": "lz4"}


def parquet_writer(path, schema, codec: str):
    """A pyarrow ParquetWriter for a day file (or a part of one) with `schema`, compressed with
    the lake's `codec` (config spelling).

    Only text columns are dictionary-encoded: prices and times are nearly all distinct, and
    trying a dictionary on them first doubles the encoding time and grows the file (measured:
    10M bars, 3.3 s and 456 MB vs 1.7 s and 377 MB). It also keeps every float's bits: a
    dictionary of doubles keeps one zero for -0.0 and 0.0 (DuckDB's writer does, measured:
    100 zeros of both signs come back with one sign), so no day file hotcold writes this way
    changes a zero's sign."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return pq.ParquetWriter(path, schema, compression=CODECS.get(codec, codec), use_dictionary=text or False)
