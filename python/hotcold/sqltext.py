"""Quoting for SQL that hotcold must write as text (DDL, COPY targets, ATTACH, text sent on
to PostgreSQL through postgres_query): the one place identifiers and literals are quoted.
Both forms are standard SQL, read alike by PostgreSQL and DuckDB. Values from users are bound
as parameters wherever the statement allows one; identifiers from config were validated when
it loaded (config.identifier)."""

from __future__ import annotations


def q(name: str) -> str:
    """An identifier, double-quoted: `a"b` -> `"a""b"`."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(text) -> str:
    """A string literal, single-quoted: `it's` -> `'it''s'` (paths too)."""
    return "'" + str(text).replace("'", "''") + "'"
