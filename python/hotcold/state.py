"""Read the state database beside the lake (runs, step log, the lake's own record)."""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

from .config import Config
from .errors import HotColdError


@contextmanager
def open_state(config: Config, must_exist: bool = True):
    if must_exist and not config.state_path.exists():
        raise HotColdError(f"no hotcold state at {config.state_path}", "run `hotcold rotate` (or `hotcold demo`) first")
    try:
        # Read-write, like dbt's own connection: DuckDB shares one instance per file within a
        # process and refuses a second one opened with other settings.
        conn = duckdb.connect(str(config.state_path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise HotColdError("the state database is in use by a running rotation", "try again when it finishes") from None
        raise
    try:
        yield conn
    finally:
        conn.close()


def rows(conn, sql: str, params=None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
