"""Statements that take a strong lock on a hot table (VACUUM FULL, and the DETACH, DROP and
ALTER of later work), run so that no one waits forever.

PostgreSQL queues a statement that wants an ACCESS EXCLUSIVE lock behind every session holding
any lock on the table, and queues every later reader and writer behind that statement: one
idle-in-transaction session would stall the trading system's writes for as long as it idles.
So each statement runs under `lock_timeout`, is retried a few times with growing pauses, and
then stops with one line naming the sessions in the way (pid, state, since when, what they ran
last) and how to end them.
"""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

from hotcold.config import Config
from hotcold.errors import HotColdError
from hotcold.store.hot_store import connect_pg

T = TypeVar("T")
ATTEMPTS = 4  # pauses between them: 1, 2, 4 s; with the default 5 s wait, about 27 s in all


class LockWaitTimeout(HotColdError):
    """A strong lock could not be had: `blockers` lists the sessions holding the table."""

    def __init__(self, problem: str, fix: str, blockers: list[dict]):
        super().__init__(problem, fix)
        self.blockers = blockers


def run_with_lock_timeout(config: Config, statement: str, relation: str, what: str, attempts: int = ATTEMPTS) -> float:
    """Run `statement` (autocommit, e.g. `VACUUM (FULL) "public"."bars"`) on the PostgreSQL hot
    store under `lock_timeout` (storage.hot_store.lock_timeout_s, seconds); `relation` is the
    table it locks (a quoted name), `what` names the work for the message. Returns the seconds
    it took. Raises LockWaitTimeout naming the blocking sessions after `attempts` tries."""
    started = time.monotonic()
    with_lock_timeout(config, lambda conn: conn.execute(statement), relation, what, attempts)
    return time.monotonic() - started


def with_lock_timeout(config: Config, work: Callable[[Any], T], relation: str, what: str, attempts: int = ATTEMPTS,
                      transaction: bool = False) -> tuple[T, int]:
    """`work(conn)` on a fresh PostgreSQL session whose every lock wait is bounded by
    `lock_timeout`, retried like run_with_lock_timeout. With `transaction`, `work` runs inside
    one transaction committed when it returns (all of it, or, on a lock not had, none of it:
    the next attempt starts again). Returns what `work` returned and the attempt that did it."""
    import psycopg

    lock_timeout_s = config.hot.lock_timeout_s
    blockers: list[dict] = []
    for attempt in range(attempts):
        with connect_pg(config, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
            try:
                if transaction:
                    with conn.transaction():
                        result = work(conn)
                else:
                    result = work(conn)
                return result, attempt + 1
            except psycopg.errors.LockNotAvailable:
                blockers = holders(conn, relation)
        if attempt + 1 < attempts:
            time.sleep(2 ** attempt)
    shown = "; ".join(f"pid {b['pid']} ({b['state']}{', since ' + b['since'] if b['since'] else ''}: {b['query']})" for b in blockers) or "none now"
    pids = ", ".join(str(b["pid"]) for b in blockers) or "<pid>"
    raise LockWaitTimeout(
        f"{what} could not lock {relation} in {attempts} tries of {lock_timeout_s:g} s: sessions holding it: {shown}",
        f"end those sessions (their own application, or SELECT pg_terminate_backend(pid) for pid {pids}) or wait until they finish, then re-run",
        blockers,
    )


def holders(conn, relation: str) -> list[dict]:
    """The other sessions holding a lock on `relation` (or on one of its partitions): pid,
    state, since when (ISO, UTC: the start of their transaction), their last statement."""
    rows = conn.execute(
        "SELECT DISTINCT a.pid, coalesce(a.state, ''), to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80)"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.granted AND l.pid <> pg_backend_pid()"
        "   AND l.relation IN (SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass)"
        " ORDER BY 1", [relation, relation]).fetchall()
    return [{"pid": pid, "state": state, "since": since, "query": query} for pid, state, since, query in rows]
