"""What each PostgreSQL column becomes in the lake, for Python readers of the hot store.

The rule lives in the macro `hotcold_native_kind` (macros/lifecycle/lake_types.sql), which the
rotation runs; this is its twin for the router, which reads hot rows outside dbt and must see
them exactly as the lake holds them. A column whose base type (after domains) is one of these
travels as itself; every other column is PostgreSQL's own text of the value.
"""

from __future__ import annotations

import re

from hotcold import sqltext

_NATIVE = {"boolean", "smallint", "integer", "bigint", "real", "double precision", "text", "bytea", "date"}
_DECIMAL = re.compile(r"^numeric\((\d+),(\d+)\)$")
_TIMESTAMP = re.compile(r"^timestamp(\(\d\))? with(out)? time zone$")

# (name, type, base type) of a table's columns, in order; $1 is the table as regclass text.
COLUMNS_SQL = """WITH RECURSIVE base AS (
  SELECT a.attnum, a.atttypid AS typ, a.atttypmod AS mod, 0 AS depth FROM pg_attribute a
   WHERE a.attrelid = {rel}::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT b.attnum, t.typbasetype, t.typtypmod, b.depth + 1 FROM base b JOIN pg_type t ON t.oid = b.typ WHERE t.typtype = 'd')
SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type,
       (SELECT format_type(b.typ, b.mod) FROM base b WHERE b.attnum = a.attnum ORDER BY b.depth DESC LIMIT 1) AS base
  FROM pg_attribute a WHERE a.attrelid = {rel}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""


def is_native(base: str) -> bool:
    """True when a column of PostgreSQL base type `base` (format_type's text) reaches the lake
    as itself; False when it reaches it as exact text."""
    m = _DECIMAL.match(base)
    if m:
        return int(m.group(1)) <= 38
    return base in _NATIVE or base.startswith("character varying") or bool(_TIMESTAMP.match(base))


def sent_expression(name: str, type_: str, base: str) -> str:
    """The select expression that reads column `name` as the lake holds it (quoted)."""
    q = sqltext.q(name)
    if not is_native(base):
        return f"{q}::text"
    return q if type_ == base else f"{q}::{base}"
