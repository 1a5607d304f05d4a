"""The lake's layout and its file operations, in one place.

Every path hotcold writes is built here, and every write, replace and delete goes through
`LocalStore`, so an object-store backend later is one class, not a hunt through the code.
Correctness never rests on renaming a directory: a day is one file, replaced whole.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
import shutil
from datetime import date
from pathlib import Path


def day_dir(root: Path, table: str, day: date) -> Path:
    return Path(root) / table / f"year={day.year:04d}" / f"month={day.month:02d}" / f"day={day.day:02d}"


def day_file(root: Path, table: str, day: date) -> Path:
    return day_dir(root, table, day) / f"{table}_{day:%Y%m%d}.parquet"


def checksum_expr(columns: list[str]) -> str:
    """A day's order-independent checksum over `columns`, as DuckDB SQL: the twin of the
    macro hotcold_checksum, which export records and verify re-computes."""
    return "sum(hash(row(" + ", ".join('"' + c.replace('"', '""') + '"' for c in columns) + "))::hugeint)"


def lit(path) -> str:
    """A path as a SQL string literal (COPY's target cannot be a bound parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


def staging_root(lake_root: Path) -> Path:
    """Beside the lake, on the same filesystem, so publishing a day is one atomic replace."""
    return Path(lake_root).parent / "_hotcold" / "staging"


def stage_root(lake_root: Path) -> Path:
    """Where a run keeps the rows it moves (one Parquet file per table) until it ends."""
    return Path(lake_root).parent / "_hotcold" / "stage"


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


class LocalStore:
    """A lake on a local or mounted filesystem. Files are private unless configured."""

    def __init__(self, file_mode: int = 0o600, dir_mode: int = 0o700):
        self.file_mode, self.dir_mode = file_mode, dir_mode

    def replace(self, src: Path, dst: Path) -> None:
        """Make `src` the file at `dst` in one step: readers see the old file or the new one."""
        self._makedirs(dst.parent)
        with open(src, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(src, self.file_mode)
        os.replace(src, dst)
        self._fsync_dir(dst.parent)

    def replace_all(self, moves: list[tuple[Path, Path]], after_each=None) -> None:
        """`replace` for many files, their fsyncs in parallel: the disk gets them in batches
        instead of one round trip per file. `after_each(i)` runs after the i-th replace."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(_fsync_file, [src for src, _ in moves]))
            for i, (src, dst) in enumerate(moves):
                self._makedirs(dst.parent)
                os.chmod(src, self.file_mode)
                os.replace(src, dst)
                if after_each:
                    after_each(i)
            list(pool.map(self._fsync_dir, sorted({dst.parent for _, dst in moves})))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._fsync_dir(path.parent)

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
    from .errors import HotColdError

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
    return LocalStore(file_mode, dir_mode_for(file_mode))


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
    base = Path(root) / table
    lo, hi = first or date.min, last or date.max
    for year in _parts(base, "year", lo.year, hi.year):
        y_path = base / f"year={year:04d}"
        m_lo = lo.month if year == lo.year else 1
        m_hi = hi.month if year == hi.year else 12
        for month in _parts(y_path, "month", m_lo, m_hi):
            m_path = y_path / f"month={month:02d}"
            for d in _parts(m_path, "day", 1, 31):
                try:
                    day = date(year, month, d)
                except ValueError:
                    continue
                if lo <= day <= hi:
                    path = day_file(root, table, day)
                    try:
                        yield day, path, path.stat()
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
