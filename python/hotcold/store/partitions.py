"""Which partitions of a range-partitioned hot table leave whole (DETACH and DROP) rather than
row by row: one rule, here, for the rotation and for the read-only commands.

A partition leaves whole when PostgreSQL's own bound says every row it can hold is older than
the window: its parent is partitioned by range on the time column alone (timestamptz,
timestamp or date), it is not the DEFAULT partition, and its upper bound is at or before the
cutoff, and it is not its parent's newest range (pg_partman makes the next partition from the
last one). Of such partitions nested in one another, the topmost. The rotation then checks, under
the DETACH's lock, that every row the partition holds is one it staged; `status` and
`rotate --dry-run` check that every row ages out (macros/lifecycle/partitions.sql,
docs/decisions/0007-whole-partitions-leave.md).

The rotation's macros get `TREE_SQL` through the run's settings (pipeline/settings.py), so the
rule is written once.
"""

from __future__ import annotations

from hotcold.sqltext import lit

# Markers the caller replaces with SQL literals: the table's quoted name, the time column's
# name, the cutoff (ISO, UTC). Rows: rel (quoted name), name, schema, parent_rel, parent_name,
# parent_schema, isleaf; leaves (the topmost partitions wholly before the cutoff), under (it
# or an ancestor leaves), parent_default (its parent has a DEFAULT partition), all_aged (its
# bound holds only rows that age out), holds_older (its bound lets it hold rows older than the
# cutoff). No rows for a table that is not partitioned.
TREE_SQL = """WITH node AS (
  SELECT t.relid, t.parentrelid, t.isleaf,
         format('%I.%I', n.nspname, c.relname) AS rel, c.relname::text AS name, n.nspname::text AS schema,
         format('%I.%I', pn.nspname, pc.relname) AS parent_rel, pc.relname::text AS parent_name, pn.nspname::text AS parent_schema,
         pg_get_expr(c.relpartbound, c.oid) AS bound,
         (pt.partstrat = 'r' AND pt.partnatts = 1 AND pa.attname = @time_column@
          AND pa.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)) AS by_time
    FROM pg_partition_tree(@rel@::regclass) t
    JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class pc ON pc.oid = t.parentrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
    JOIN pg_partitioned_table pt ON pt.partrelid = t.parentrelid
    JOIN pg_attribute pa ON pa.attrelid = t.parentrelid AND pa.attnum = pt.partattrs[0]
   WHERE (SELECT relkind FROM pg_class WHERE oid = @rel@::regclass) = 'p'),
bounded AS (
  -- The upper bound as PostgreSQL prints it, read as a time in this session's zone (UTC, as
  -- every hotcold session): how ages_out compares a timestamp without time zone too. NULL for
  -- the default partition and for MAXVALUE, which lie after every time.
  SELECT node.*, CASE WHEN by_time AND bound <> 'DEFAULT'
                      THEN (regexp_match(bound, 'TO \\(''([^'']*)''\\)$'))[1]::timestamptz END AS upper_bound,
         CASE WHEN by_time AND bound <> 'DEFAULT'
              THEN (regexp_match(bound, '^FOR VALUES FROM \\(''([^'']*)''\\)'))[1]::timestamptz END AS lower_bound
    FROM node),
flagged AS (
  -- The newest range of a parent stays whatever its age: pg_partman (and any tool that makes
  -- the next partition from the last one) needs one to go on from.
  SELECT b.*, coalesce(b.upper_bound <= @cutoff@::timestamptz
         AND EXISTS (SELECT FROM bounded s WHERE s.parentrelid = b.parentrelid AND s.bound <> 'DEFAULT'
                      AND (s.upper_bound IS NULL OR s.upper_bound > b.upper_bound)), false) AS whole
    FROM bounded b)
SELECT f.rel, f.name, f.schema, f.parent_rel, f.parent_name, f.parent_schema, f.isleaf,
       f.whole AND NOT EXISTS (SELECT FROM pg_partition_ancestors(f.relid) a JOIN flagged g ON g.relid = a.relid
                                WHERE a.relid <> f.relid AND g.whole) AS leaves,
       EXISTS (SELECT FROM pg_partition_ancestors(f.relid) a JOIN flagged g ON g.relid = a.relid WHERE g.whole) AS under,
       EXISTS (SELECT FROM node d WHERE d.parentrelid = f.parentrelid AND d.bound = 'DEFAULT') AS parent_default,
       -- Its bound alone makes every row it can hold age out (fileable, older than the cutoff):
       -- the check under the lock then tests each row's version only.
       coalesce(f.whole AND f.lower_bound >= '0001-01-01 00:00:00+00'::timestamptz, false) AS all_aged,
       -- Its bound lets it hold rows older than the cutoff (its own, or a range above it: the
       -- default partition, MINVALUE, a level partitioned by something else).
       NOT coalesce(f.lower_bound >= @cutoff@::timestamptz, false) AS holds_older
  FROM flagged f ORDER BY f.rel"""


def tree_sql(rel: str, time_column: str, cutoff: str) -> str:
    """TREE_SQL for table `rel` (quoted name), its time column and the cutoff (ISO text, UTC)."""
    return TREE_SQL.replace("@rel@", lit(rel)).replace("@time_column@", lit(time_column)).replace("@cutoff@", lit(cutoff))
