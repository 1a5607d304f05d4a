"""`hotcold partition TABLE --by day|month`: a plain PostgreSQL hot table becomes a table
range-partitioned on its time column, while the writers go on writing.

    check -> build the partitioned parent beside it -> CHECK (ts < boundary) NOT VALID
          -> VALIDATE (writers go on) -> one short swap under lock_timeout -> record

The swap is one transaction holding the old table's ACCESS EXCLUSIVE lock for milliseconds:
rename the old table to <table>_legacy and the new parent to <table>, move the index and
sequence names across, and ATTACH the old table as the partition FROM (MINVALUE) TO
(boundary), which PostgreSQL proves from the validated CHECK instead of scanning the table.
The parent was built beforehand with a DEFAULT partition (where a late row for a range that
has no partition lands, instead of being refused) and the partitions from the boundary up to
the as-of day + premake_days; each rotation then makes the next ones
(macros/lifecycle/partitions_ahead.sql). Why this way: docs/decisions/0006-converting-a-table-to-partitions.md.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from hotcold.config import Config
from hotcold.errors import HotColdError
from hotcold.faults import fail_point
from hotcold.ops.report import as_json, go_ahead
from hotcold.ops.rotation import parse_as_of
from hotcold.sqltext import lit, q
from hotcold.store.hot_store import connect_pg
from hotcold.store.lock import rotation_lock
from hotcold.store.strong_locks import (
    LockWaitTimeout,
    run_with_lock_timeout,
    with_lock_timeout,
)

BY = ("day", "month")
TIME_TYPES = {"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp", "date": "date"}
# The parent is built under this name, marked by its comment, and takes the table's name in the swap.
BUILDING = "_hotcold_new"
MARK = "hotcold partition: an unfinished conversion of {rel}; hotcold partition drops it when run again"
RECORD = ("CREATE SCHEMA IF NOT EXISTS hotcold;"
          " CREATE TABLE IF NOT EXISTS hotcold.partitioned_by (schema_name text, table_name text,"
          " by text CHECK (by IN ('day', 'month')), converted_at timestamptz, PRIMARY KEY (schema_name, table_name))")


@dataclass
class PartitionReport:
    """`hotcold partition`: the plan (`actions`) and, in `live` mode, what the conversion took.
    `lock_seconds` is how long the swap held the table's ACCESS EXCLUSIVE lock (writers wait at
    most that, plus one lock_timeout per attempt), `scan_skipped` that PostgreSQL proved the old
    rows' range from the validated CHECK rather than reading them under that lock.
    `to_dict()` is `partition --json` (docs/json.md)."""

    mode: str  # "dry-run", "cancelled" or "live"
    table: str
    schema: str
    by: str
    as_of: date
    boundary: date  # rows before it stay in the legacy partition; partitions start here
    newest: str | None  # the table's newest time when planned (ISO, UTC)
    legacy: str  # the old table, as the partition FROM (MINVALUE) TO (boundary)
    default: str  # where late rows for ranges without a partition land
    partitions: list[str] = field(default_factory=list)  # made ahead, boundary .. as_of + premake_days
    indexes: list[str] = field(default_factory=list)  # indexes and constraints the parent carries
    sequences: list[str] = field(default_factory=list)  # serial and identity sequences that go on counting
    actions: list[str] = field(default_factory=list)
    lock_seconds: float | None = None
    lock_attempts: int | None = None
    scan_skipped: bool | None = None
    validate_seconds: float | None = None
    seconds: float | None = None

    def to_dict(self) -> dict:
        return as_json(self)


@dataclass
class _Index:
    name: str
    constraint: str | None  # the constraint's definition when the index backs one (PK, UNIQUE)
    definition: str  # pg_get_indexdef
    temp: str = ""  # its name on the parent until the swap
    aside: str = ""  # the old table's index's name after the swap


@dataclass
class _Plan:
    report: PartitionReport
    rel: str  # "schema"."table"
    time_type: str  # timestamptz, timestamp or date
    owner: str
    comment: str | None
    checks: list[tuple[str, str]]  # (name, definition) of the table's CHECK constraints
    foreign_keys: list[tuple[str, str]]
    indexes: list[_Index]
    serials: list[tuple[str, str]]  # (column, sequence) a serial column's default draws from
    identities: list[tuple[str, str]]  # (column, sequence name) of identity columns
    grants: list[str]
    ts: str  # the time column
    bound_check: str | None  # a hotcold_before_* CHECK left by an unfinished run, if any
    bound_valid: bool = False
    ranges: list[tuple[str, date, date]] = field(default_factory=list)
    leftover: bool = False  # a parent from an unfinished run to drop first


def convert(
    config: Config,
    table: str,
    by: str,
    *,
    as_of: str | date | None = None,
    premake_days: int | None = None,
    dry_run: bool = False,
    confirm: Callable[[PartitionReport], bool] | None = None,
) -> PartitionReport:
    """Convert `table` (a configured table, plain, in storage.hot_store.schema) into a table
    range-partitioned by `by` ("day" or "month") on its time column. Everything that would
    stop it is checked before anything changes; `confirm` sees the plan and returns True to go
    ahead. Raises HotColdError (one line and its fix) for a table it cannot convert, and
    LockWaitTimeout naming the sessions in the way when the swap's lock cannot be had."""
    started = time.monotonic()
    with rotation_lock(config):
        plan = _plan(config, table, by, parse_as_of(as_of), config.hot.premake_days if premake_days is None else premake_days)
        report = plan.report
        if not go_ahead(report, dry_run, confirm):
            return report
        _run(config, plan)
    report.seconds = round(time.monotonic() - started, 3)
    return report


# --- the plan: every check before anything changes --------------------------------------------

def _plan(config: Config, table: str, by: str, as_of: date, premake_days: int) -> _Plan:
    if config.hot.kind != "postgres":
        raise HotColdError(f"hotcold partition converts PostgreSQL tables; the hot store is {config.hot.describe()}",
                           "DuckDB tables have no partitions: nothing to convert (set storage.hot_store.type: postgres for a server)")
    if by not in BY:
        raise HotColdError(f"--by must be day or month, got {by!r}", "use --by day (busy tables) or --by month")
    if not 0 <= premake_days <= 366:
        raise HotColdError(f"--premake-days must be 0 to 366, got {premake_days}", "e.g. --premake-days 7 (storage.hot_store.partitions.premake_days)")
    spec = config.table(table)
    schema, ts = config.hot.schema, spec.time_column
    rel = f"{q(schema)}.{q(table)}"
    if len(table) + len(BUILDING) > 63:
        raise HotColdError(f"table name {table} is too long to name its partitions ({len(table)} characters; PostgreSQL's names stop at 63)",
                           f"rename the table to at most {63 - len(BUILDING)} characters, then convert it")
    with connect_pg(config, autocommit=True) as conn:
        def one(sql: str, args=()):
            return conn.execute(sql, args).fetchone()

        def all_(sql: str, args=()):
            return conn.execute(sql, args).fetchall()

        found = one("SELECT c.oid, c.relkind, c.relispartition, pg_get_userbyid(c.relowner), c.relrowsecurity,"
                    " EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid), obj_description(c.oid, 'pg_class')"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s", [schema, table])
        if found is None:
            raise HotColdError(f"table {schema}.{table} not found in the hot store", f"create it, or fix tables.{table} / storage.hot_store.schema in {config.path.name}")
        oid, kind, is_partition, owner, rls, inherits, comment = found
        if kind == "p":
            recorded = one("SELECT by FROM hotcold.partitioned_by WHERE schema_name = %s AND table_name = %s", [schema, table]) \
                if one("SELECT to_regclass('hotcold.partitioned_by') IS NOT NULL")[0] else None
            how = f" (by hotcold partition --by {recorded[0]})" if recorded else ""
            raise HotColdError(f"table {schema}.{table} is already partitioned{how}",
                               "nothing to convert: it rotates as it is" + ("" if recorded else "; to have rotations make its partitions ahead, partition it with hotcold"))
        if kind != "r":
            raise HotColdError(f"{schema}.{table} is not a plain table (relkind {kind!r})", "hotcold partition converts ordinary tables")
        if is_partition or inherits:
            raise HotColdError(f"table {schema}.{table} takes part in table inheritance or is a partition", "convert a stand-alone table")
        col = one("SELECT format_type(a.atttypid, NULL), a.attnotnull, a.attnum FROM pg_attribute a"
                  " WHERE a.attrelid = %s AND a.attname = %s AND NOT a.attisdropped", [oid, ts])
        if col is None:
            raise HotColdError(f"table {schema}.{table} has no column {ts} (tables.{table}.time_column)", f"fix tables.{table}.time_column in {config.path.name}")
        if col[0] not in TIME_TYPES:
            raise HotColdError(f"{schema}.{table}.{ts} is {col[0]}; a table is partitioned on a timestamptz, timestamp or date column",
                               f"change the column's type (ALTER TABLE ... ALTER COLUMN {ts} TYPE timestamptz), or set tables.{table}.time_column to such a column")
        time_type, attnum = TIME_TYPES[col[0]], col[2]
        referencing = [r[0] for r in all_("SELECT format('%%s (%%s)', conrelid::regclass, conname) FROM pg_constraint WHERE confrelid = %s AND contype = 'f' ORDER BY 1", [oid])]
        if referencing:
            raise HotColdError(f"foreign keys reference {schema}.{table}: {', '.join(referencing)}; a partitioned table swapped in under its name would leave them pointing at the old rows only",
                               "drop those foreign keys, convert, then add them again (they may reference the partitioned table)")
        keys = all_("SELECT con.conname, con.contype,"
                    " EXISTS (SELECT FROM generate_series(0, i.indnkeyatts - 1) k WHERE i.indkey[k] = %s)"
                    " FROM pg_constraint con JOIN pg_index i ON i.indexrelid = con.conindid"
                    " WHERE con.conrelid = %s AND con.contype IN ('p', 'u', 'x') ORDER BY 1", [attnum, oid])
        keys += all_("SELECT c.relname, 'i', EXISTS (SELECT FROM generate_series(0, i.indnkeyatts - 1) k WHERE i.indkey[k] = %s)"
                     " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                     " WHERE i.indrelid = %s AND i.indisunique AND NOT EXISTS (SELECT FROM pg_constraint WHERE conindid = i.indexrelid) ORDER BY 1",
                     [attnum, oid])
        for name, contype, has_ts in keys:
            what = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint", "i": "unique index"}[contype]
            if contype == "x":
                raise HotColdError(f"{schema}.{table} has the {what} {name}; PostgreSQL 15 has no exclusion constraints on partitioned tables",
                                   "drop it (or keep the table plain)")
            if not has_ts:
                raise HotColdError(f"the {what} {name} of {schema}.{table} does not include its time column {ts}; on a partitioned table "
                                   "every unique key must include the partition column",
                                   f"add {ts} to it (ALTER TABLE ... DROP CONSTRAINT {name}, ADD PRIMARY KEY (..., {ts})), then convert")
        nulls = 0 if col[1] else one(f"SELECT count(*) FROM {rel} WHERE {q(ts)} IS NULL")[0]
        if nulls:
            raise HotColdError(f"{schema}.{table} holds {nulls:,} rows whose {ts} is NULL; they would go to the DEFAULT partition, where no rotation ever archives them",
                               f"give them a time (UPDATE {schema}.{table} SET {ts} = ... WHERE {ts} IS NULL) or delete them, then convert")
        triggers = [r[0] for r in all_("SELECT tgname FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal ORDER BY 1", [oid])]
        if triggers:
            raise HotColdError(f"{schema}.{table} has triggers ({', '.join(triggers)}), which the conversion does not move (they would fire on the old rows' partition only)",
                               "drop them, convert, then create them on the partitioned table")
        views = [r[0] for r in all_("SELECT DISTINCT r.ev_class::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid"
                                    " WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = %s AND r.ev_class <> %s ORDER BY 1", [oid, oid])]
        if views:
            raise HotColdError(f"views or rules read {schema}.{table} ({', '.join(views)}); they would go on reading the old rows' partition alone",
                               "drop them, convert, then create them again")
        publications = [r[0] for r in all_("SELECT p.pubname FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE r.prrelid = %s ORDER BY 1", [oid])]
        if publications or rls:
            what = f"is published ({', '.join(publications)})" if publications else "has row-level security"
            raise HotColdError(f"{schema}.{table} {what}, which the conversion does not carry over", "remove it, convert, then set it up on the partitioned table")
        newest = one(f"SELECT max({q(ts)}), max({q(ts)}) = 'infinity' FROM {rel}")
        if newest[1]:
            raise HotColdError(f"{schema}.{table} holds rows whose {ts} is infinity, which no partition before it can hold",
                               "give them a real time or delete them, then convert")
        boundary = _boundary(by, as_of, newest[0])
        names = _names(table, by, boundary, as_of, premake_days)
        taken = [n for n in [names["legacy"], names["default"], *[r[0] for r in names["ranges"]]]
                 if one("SELECT to_regclass(%s)", [f"{q(schema)}.{q(n)}"])[0] is not None]
        building = f"{q(schema)}.{q(table + BUILDING)}"
        leftover = one("SELECT obj_description(to_regclass(%s), 'pg_class')", [building])[0] if one("SELECT to_regclass(%s)", [building])[0] else None
        if leftover is not None and leftover != MARK.format(rel=rel):
            taken.insert(0, table + BUILDING)
        if taken and leftover != MARK.format(rel=rel):
            raise HotColdError(f"the names the conversion gives are taken in schema {schema}: {', '.join(taken)}",
                               "rename or drop those tables, then convert")
        checks = [(n, d) for n, d in all_("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s AND contype = 'c' ORDER BY oid", [oid])
                  if not n.startswith("hotcold_before_")]
        bound = all_("SELECT conname, convalidated FROM pg_constraint WHERE conrelid = %s AND contype = 'c' AND conname LIKE 'hotcold\\_before\\_%%'", [oid])
        foreign_keys = all_("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s AND contype = 'f' ORDER BY oid", [oid])
        # Constraint-backed indexes first: PostgreSQL matches the parent's indexes to the old
        # table's in that order when it attaches it, and a plain index must not take a key's match.
        indexes = [_Index(*r) for r in all_(
            "SELECT c.relname, pg_get_constraintdef(con.oid), pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
            " WHERE i.indrelid = %s AND i.indisvalid AND c.relname NOT LIKE 'hotcold\\_aging\\_%%'"
            " ORDER BY con.contype = 'p' DESC NULLS LAST, con.oid IS NULL, i.indexrelid", [oid])]
        sequences = all_("SELECT a.attname, a.attidentity <> '', format('%%I.%%I', sn.nspname, s.relname) FROM pg_depend d"
                         " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace"
                         " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
                         " WHERE d.refobjid = %s AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') ORDER BY a.attnum", [oid])
        grants = [f"GRANT {priv} ON {{parent}} TO {'PUBLIC' if grantee == 0 else q(role)}{' WITH GRANT OPTION' if grantable else ''}"
                  for grantee, role, priv, grantable in all_(
                      "SELECT a.grantee, pg_get_userbyid(a.grantee), a.privilege_type, a.is_grantable"
                      " FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s AND a.grantee <> c.relowner ORDER BY 1, 3", [oid])]
        taken_index = {r[0] for r in all_("SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace", [q(schema)])}
    for ix in indexes:
        ix.temp = "hotcold_new_" + hashlib.md5(f"{rel} {ix.name}".encode()).hexdigest()[:16]
        ix.aside = _free_name(f"{ix.name[:56]}_legacy", taken_index)
    legacy_seq = {}
    for column, identity, seq in sequences:
        if identity:
            legacy_seq[column] = seq
    report = PartitionReport(
        "plan", table, schema, by, as_of, boundary, _iso(newest[0]), names["legacy"], names["default"],
        partitions=[r[0] for r in names["ranges"]],
        indexes=[ix.name for ix in indexes] + [n for n, _ in foreign_keys],
        sequences=[seq for _, _, seq in sequences],
    )
    plan = _Plan(report, rel, time_type, owner, comment, checks, foreign_keys, indexes,
                 [(c, s) for c, identity, s in sequences if not identity], list(legacy_seq.items()), grants, ts,
                 bound[0][0] if bound else None, bool(bound and bound[0][1]), names["ranges"], leftover is not None)
    report.actions = _actions(plan, ts)
    return plan


def _boundary(by: str, as_of: date, newest) -> date:
    """The first day (by day) or first of a month (by month) at or after both the day after
    the table's newest time and two days after the as-of day: far enough ahead that no writer
    writes a time at or after it while the conversion runs (the CHECK would refuse that row)."""
    first = as_of + timedelta(days=2)
    if newest is not None:
        last_day = newest.astimezone(timezone.utc).date() if isinstance(newest, datetime) and newest.tzinfo else \
            (newest.date() if isinstance(newest, datetime) else newest)
        first = max(first, last_day + timedelta(days=1))
    if by == "month" and first.day != 1:
        first = _next_month(first)
    return first


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _names(table: str, by: str, boundary: date, as_of: date, premake_days: int) -> dict:
    """The legacy and default partitions' names, and the partitions made ahead: from the
    boundary to the one holding as_of + premake_days (at least the first)."""
    last = as_of + timedelta(days=premake_days)
    ranges, lo = [], boundary
    while lo <= last or not ranges:
        hi = lo + timedelta(days=1) if by == "day" else _next_month(lo)
        ranges.append((f"{table}_p{lo:%Y%m%d}" if by == "day" else f"{table}_p{lo:%Y%m}", lo, hi))
        lo = hi
    return {"legacy": f"{table}_legacy", "default": f"{table}_default", "ranges": ranges}


def _free_name(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name[:60]}_{n}"
    taken.add(out)
    return out


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo:
        value = value.astimezone(timezone.utc)
    return value.isoformat()


def _bound(day: date, time_type: str) -> str:
    """`day`'s start as a literal of the time column's type (UTC)."""
    text = {"date": day.isoformat(), "timestamp": f"{day} 00:00:00", "timestamptz": f"{day} 00:00:00+00"}[time_type]
    return f"{lit(text)}::{time_type}"


def _actions(plan: _Plan, ts: str) -> list[str]:
    r = plan.report
    first, last = plan.ranges[0], plan.ranges[-1]
    out = []
    if plan.leftover:
        out.append(f"drop {r.table}{BUILDING}, left by an unfinished conversion")
    out.append(f"build the partitioned table {r.table}{BUILDING} beside {r.schema}.{r.table}, PARTITION BY RANGE ({ts}): its columns, defaults, "
               f"CHECK constraints, {len(plan.indexes)} indexes/keys, grants and owner; a DEFAULT partition {r.default} (late rows for a range "
               f"without a partition land there) and {len(plan.ranges)} {'daily' if r.by == 'day' else 'monthly'} partitions {first[0]} .. {last[0]} ({first[1]} to {last[2]})")
    out.append(f"add CHECK ({ts} IS NOT NULL AND {ts} < '{r.boundary}') NOT VALID to {r.schema}.{r.table} (a moment's ACCESS EXCLUSIVE lock, "
               f"under lock_timeout), then VALIDATE it (reads the table; writers go on); a row written meanwhile at {r.boundary} or later is refused")
    out.append(f"swap, in one transaction under lock_timeout: rename {r.table} to {r.legacy} and the new table to {r.table}, move index and sequence names, "
               f"ATTACH {r.legacy} FOR VALUES FROM (MINVALUE) TO ('{r.boundary}') without a scan (the CHECK proves it); writers wait for this alone")
    out.append(f"record {r.schema}.{r.table} in hotcold.partitioned_by: every rotation makes its partitions up to the as-of day + premake_days ahead")
    return out


# --- the conversion -------------------------------------------------------------------------

def _run(config: Config, plan: _Plan) -> None:
    r = plan.report
    check = f"hotcold_before_{r.boundary:%Y%m%d}"
    with connect_pg(config, autocommit=True) as conn:
        conn.execute(RECORD)
        if plan.leftover:
            conn.execute(f"DROP TABLE {_building(plan)} CASCADE")
    try:
        with_lock_timeout(config, lambda conn: _build(conn, plan), plan.rel, f"building the partitioned {r.table}", transaction=True)
        if plan.bound_check != check:
            # A moment's ACCESS EXCLUSIVE lock (no scan); one left by an unfinished run for
            # another boundary goes in the same statement.
            drop = f"DROP CONSTRAINT IF EXISTS {q(plan.bound_check)}, " if plan.bound_check else ""
            run_with_lock_timeout(config, f"ALTER TABLE {plan.rel} {drop}ADD CONSTRAINT {q(check)} CHECK ({q(plan.ts)} IS NOT NULL AND {q(plan.ts)} < "
                                  f"{_bound(r.boundary, plan.time_type)}) NOT VALID", plan.rel, f"adding the CHECK to {r.table}")
            plan.bound_valid = False
        if not plan.bound_valid:
            t0 = time.monotonic()
            with connect_pg(config, autocommit=True) as conn:  # SHARE UPDATE EXCLUSIVE: writers go on
                conn.execute(f"ALTER TABLE {plan.rel} VALIDATE CONSTRAINT {q(check)}")
            r.validate_seconds = round(time.monotonic() - t0, 3)
        fail_point("partition.before_swap")
        (r.lock_seconds, r.scan_skipped), r.lock_attempts = with_lock_timeout(
            config, lambda conn: _swap(conn, plan, check), plan.rel, f"the swap of {r.table} for its partitioned table")
    except BaseException as exc:
        undone = _undo(config, plan)
        if isinstance(exc, HotColdError):
            exc.problem = f"{exc.problem}; {undone}"
            raise
        if _is_pg_error(exc):
            raise HotColdError(f"converting {r.schema}.{r.table} failed: {' '.join(str(exc).split())}; {undone}",
                               "fix what PostgreSQL names, then run hotcold partition again") from None
        raise


def _undo(config: Config, plan: _Plan) -> str:
    """After a failure: drop the parent being built and the CHECK on the old table (which would
    refuse rows from the boundary on). Returns what the user must know of the table's state."""
    import psycopg

    r = plan.report
    try:
        with connect_pg(config, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = '{int(config.hot.lock_timeout_s * 1000)}ms'")
            if conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class') = %s", [_building(plan), MARK.format(rel=plan.rel)]).fetchone()[0]:
                conn.execute(f"DROP TABLE {_building(plan)} CASCADE")
            checks = [row[0] for row in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'c' AND conname LIKE 'hotcold\\_before\\_%%'"
                " AND (SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)) = 'r'", [plan.rel, plan.rel])]
    except psycopg.Error as exc:
        return f"undoing it failed too ({' '.join(str(exc).split())}): run hotcold partition again to finish or undo it"
    for name in checks:
        try:
            run_with_lock_timeout(config, f"ALTER TABLE {plan.rel} DROP CONSTRAINT IF EXISTS {q(name)}", plan.rel, f"removing the CHECK from {r.table}", attempts=2)
        except (LockWaitTimeout, psycopg.Error):
            day = f"{name[-8:-4]}-{name[-4:-2]}-{name[-2:]}"
            return (f"{r.schema}.{r.table} still carries CHECK {name}, which refuses rows at {day} or later: run hotcold partition again "
                    f"(it goes on from there), or ALTER TABLE {plan.rel} DROP CONSTRAINT {name}")
    return "the table is as it was"


def _is_pg_error(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.Error)


def _building(plan: _Plan) -> str:
    return f"{q(plan.report.schema)}.{q(plan.report.table + BUILDING)}"


def _build(conn, plan: _Plan) -> None:
    """The partitioned parent under its building name, with its partitions; no one else uses
    it, so this takes no lock a writer waits for (a foreign key's referenced table aside)."""
    r = plan.report
    s = q(r.schema)
    parent = _building(plan)
    conn.execute(f"CREATE TABLE {parent} (LIKE {plan.rel} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE"
                 f" INCLUDING COMPRESSION INCLUDING COMMENTS) PARTITION BY RANGE ({q(plan.ts)})")
    conn.execute(f"COMMENT ON TABLE {parent} IS {lit(MARK.format(rel=plan.rel))}")
    for name, definition in plan.checks:  # NOT VALID ones stay NOT VALID: the old table's must match
        conn.execute(f"ALTER TABLE {parent} ADD CONSTRAINT {q(name)} {definition}")
    on = conn.execute("SELECT format(' ON %%I.%%I USING ', %s::text, %s::text)", [r.schema, r.table]).fetchone()[0]
    for ix in plan.indexes:
        if ix.constraint:
            conn.execute(f"ALTER TABLE {parent} ADD CONSTRAINT {q(ix.temp)} {ix.constraint}")
            continue
        head, sep, tail = ix.definition.partition(on)
        if not sep:
            raise HotColdError(f"cannot read the definition of index {ix.name}: {ix.definition}", "drop the index, convert, and create it again")
        conn.execute(f"CREATE {'UNIQUE ' if head.startswith('CREATE UNIQUE') else ''}INDEX {q(ix.temp)} ON {parent} USING {tail}")
    for name, definition in plan.foreign_keys:
        conn.execute(f"ALTER TABLE {parent} ADD CONSTRAINT {q(name)} {definition}")
    made = [f"{s}.{q(r.default)}"]
    conn.execute(f"CREATE TABLE {made[0]} PARTITION OF {parent} DEFAULT")
    for name, lo, hi in plan.ranges:
        made.append(f"{s}.{q(name)}")
        conn.execute(f"CREATE TABLE {made[-1]} PARTITION OF {parent} FOR VALUES FROM ({_bound(lo, plan.time_type)}) TO ({_bound(hi, plan.time_type)})")
    for rel in [parent, *made]:
        conn.execute(f"ALTER TABLE {rel} OWNER TO {q(plan.owner)}")
    for grant in plan.grants:
        conn.execute(grant.replace("{parent}", parent, 1))


def _swap(conn, plan: _Plan, check: str) -> tuple[float, bool]:
    """The one transaction the writers wait for. Returns the seconds it held the old table's
    ACCESS EXCLUSIVE lock (from granted to committed) and whether the ATTACH skipped its scan."""
    r = plan.report
    s = q(r.schema)
    legacy = f"{s}.{q(r.legacy)}"
    heard: list[str] = []
    conn.add_notice_handler(lambda d: heard.append(d.message_primary or ""))
    with conn.transaction():
        conn.execute("SET LOCAL client_min_messages = debug1")  # ATTACH says at DEBUG1 when the CHECK spared it the scan
        conn.execute(f"LOCK TABLE {plan.rel} IN ACCESS EXCLUSIVE MODE")
        locked = time.monotonic()
        conn.execute(f"ALTER TABLE {plan.rel} RENAME TO {q(r.legacy)}")
        conn.execute(f"ALTER TABLE {_building(plan)} RENAME TO {q(r.table)}")
        for ix in plan.indexes:  # renaming a key's index renames its constraint too
            conn.execute(f"ALTER INDEX {s}.{q(ix.name)} RENAME TO {q(ix.aside)}")
            conn.execute(f"ALTER INDEX {s}.{q(ix.temp)} RENAME TO {q(ix.name)}")
        for column, seq in plan.serials:  # dropping the old rows' partition one day must not drop the sequence
            conn.execute(f"ALTER SEQUENCE {seq} OWNED BY {plan.rel}.{q(column)}")
        for column, seq in plan.identities:  # the parent's own identity goes on from where the old one stopped
            new_seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", [plan.rel, column]).fetchone()[0]
            conn.execute("SELECT setval(%s, nextval(%s), false)", [new_seq, seq])
            old_name = conn.execute("SELECT relname FROM pg_class WHERE oid = %s::regclass", [seq]).fetchone()[0]
            conn.execute(f"ALTER SEQUENCE {seq} RENAME TO {q(old_name[:56] + '_legacy')}")
            conn.execute(f"ALTER SEQUENCE {new_seq} RENAME TO {q(old_name)}")
        conn.execute(f"ALTER TABLE {plan.rel} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO ({_bound(r.boundary, plan.time_type)})")
        conn.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {q(check)}")
        conn.execute(f"COMMENT ON TABLE {plan.rel} IS {lit(plan.comment) if plan.comment is not None else 'NULL'}")
        conn.execute("INSERT INTO hotcold.partitioned_by VALUES (%s, %s, %s, now()) ON CONFLICT (schema_name, table_name)"
                     " DO UPDATE SET by = excluded.by, converted_at = excluded.converted_at", [r.schema, r.table, r.by])
    held = round(time.monotonic() - locked, 4)
    return held, any("implied by existing constraints" in m and r.legacy in m for m in heard)
