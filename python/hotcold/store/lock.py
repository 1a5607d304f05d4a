"""One rotation at a time, on the lake and on PostgreSQL.

Both locks die with their holder: the lake lock is an flock the kernel drops when the process
exits; the PostgreSQL lock is a session advisory lock the server drops when the connection
closes. No stale lock file ever needs a human to remove it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from contextlib import contextmanager

from hotcold.config import Config
from hotcold.errors import HotColdError, RotationLocked
from hotcold.store.lake import private_dirs

HELD_ENV = "HOTCOLD_LOCK_HELD"
ADVISORY_KEY = zlib.crc32(b"hotcold.ops.rotation")
# The key of the lock that keeps rows in the hot store while a query reads both tiers,
# computed by PostgreSQL from one name; the delete step (hotcold_pg_counted) takes the same.
TIERS_KEY_SQL = "hashtext('hotcold.tiers')"


class RotationLock:
    def __init__(self, config: Config):
        self.config = config
        self._fd: int | None = None
        self._pg = None

    def acquire(self) -> "RotationLock":
        path = self.config.state_path.parent / "rotation.lock"
        try:
            private_dirs(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HotColdError(f"cannot create the rotation lock {path}: {exc.strerror or exc}",
                               "make the folder beside the lake writable, or set storage.lake.root / state_path to a writable place") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RotationLocked(
                f"another hotcold rotation holds the lake lock (pid {holder}, {path})",
                "wait for it to finish; the lock is released when that process exits",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        if self.config.hot.kind == "postgres":
            try:
                self._pg = _advisory_lock(self.config)
            except BaseException:
                self.release()
                raise
        os.environ[HELD_ENV] = str(os.getpid())
        return self

    def release(self) -> None:
        if os.environ.get(HELD_ENV) == str(os.getpid()):
            del os.environ[HELD_ENV]
        if self._pg is not None:
            self._pg.close()
            self._pg = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RotationLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def held_by_this_process() -> bool:
    return os.environ.get(HELD_ENV) == str(os.getpid())


def _advisory_lock(config: Config):
    from hotcold.store.hot_store import connect_pg

    conn = connect_pg(config, autocommit=True)
    got = conn.execute("select pg_try_advisory_lock(%s)", [ADVISORY_KEY]).fetchone()[0]
    if not got:
        conn.close()
        raise RotationLocked(
            "another hotcold rotation holds the PostgreSQL advisory lock for this database",
            "wait for it to finish; the server releases the lock when that session ends",
        )
    return conn


@contextmanager
def rotation_lock(config: Config):
    lock = RotationLock(config).acquire()
    try:
        yield lock
    finally:
        lock.release()


class TiersReadLock:
    """PostgreSQL's shared advisory lock `hotcold.tiers`, held while a query reads both tiers.

    A rotation publishes a day's files and then deletes its rows from the hot store; a reader
    that listed the lake's files before the publish and read the hot store after the delete
    would see those rows in neither. The delete takes the same lock exclusively inside its
    transaction (macros/lifecycle/hot_store.sql), so it waits for the queries in flight, and a
    query that starts after it lists the files the rotation published first. Readers never
    wait for each other; a query waits only for a delete's transaction (seconds at most).
    Why this and not a generation number: docs/decisions/0001-consistent-reads-across-tiers.md.

    One session per object, opened on first use; thread-safe (shared locks stack). The
    embedded DuckDB store needs none: one process holds it open at a time."""

    def __init__(self, config: Config):
        self.config = config
        self._conn = None
        self._mutex = threading.Lock()

    @contextmanager
    def held(self):
        if self.config.hot.kind != "postgres":
            yield
            return
        conn = self.session()
        conn.execute(f"select pg_advisory_lock_shared({TIERS_KEY_SQL})")
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute(f"select pg_advisory_unlock_shared({TIERS_KEY_SQL})")

    def session(self):
        """This lock's PostgreSQL session (autocommit, hotcold's session settings), opened on
        first use and again after a broken connection; free for small lookups between locks."""
        from hotcold.store.hot_store import connect_pg

        with self._mutex:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = connect_pg(self.config, autocommit=True)
            return self._conn

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
