"""Read the state database beside the lake (runs, step log, the lake's own record)."""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

from hotcold.config import Config
from hotcold.errors import HotColdError


@contextmanager
def open_state(config: Config, must_exist: bool = True, read_only: bool = False):
    """A DuckDB connection to the state database. `read_only` suits readers (status): it
    needs no write access to the lake's folder, and falls back to read-write only where this
    process already has the file open that way. Raises HotColdError when it is missing
    (`must_exist`) or held by a rotation in another process."""
    if must_exist and not config.state_path.exists():
        raise HotColdError(f"no hotcold state at {config.state_path}", "run `hotcold rotate` (or `hotcold demo`) first")
    try:
        # Read-write, like dbt's own connection: DuckDB shares one instance per file within a
        # process and refuses a second one opened with other settings.
        conn = _connect(str(config.state_path), read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise HotColdError("the state database is in use by a running rotation", "try again when it finishes") from None
        raise
    try:
        yield conn
    finally:
        conn.close()


def _connect(path: str, read_only: bool):
    if read_only:
        try:
            return duckdb.connect(path, read_only=True)
        except duckdb.ConnectionException:  # open read-write elsewhere in this process
            pass
    return duckdb.connect(path)


def rows(conn, sql: str, params=None) -> list[dict]:
    # Without parameters, no parameter list: binding one makes DuckDB import pandas (0.4 s).
    cur = conn.execute(sql, params) if params else conn.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
