"""Exact or refused: the lake holds what PostgreSQL held, for every type, checked against
PostgreSQL's own values (issue "Exact or refused").

Each test rotates a table of its own on a real PostgreSQL, then reads the lake back through
every reader a user has and compares, in PostgreSQL, the value read back cast to the column's
type with the original.
"""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

import hotcold
from hotcold.ops import catalog
from hotcold.ops.rotation import rotate
from hotcold.store.duckdb_ext import load_postgres
from hotcold.store.hot_store import session_dsn
from support import TALLY, lake_files, write_config

AS_OF = date(2026, 11, 25)

# Every kind of column a desk's table holds, with edge values; (name, type, values of rows 1-4).
# Row 3 is all NULL. What each becomes in the lake is the README's table of types.
COLUMNS = [
    ("b", "boolean", ["true", "false", None, "true"]),
    ("i2", "smallint", ["-32768", "32767", None, "0"]),
    ("i4", "integer", ["-2147483648", "2147483647", None, "7"]),
    ("i8", "bigint", ["-9223372036854775808", "9223372036854775807", None, "42"]),
    ("f4", "real", ["NaN", "-0", None, "3.4028235e+38"]),
    ("f8", "double precision", ["-Infinity", "0.1", None, "4.9e-324"]),
    ("f8z", "double precision", ["-0", "NaN", None, "-2.2250738585072014e-308"]),
    ("n12", "numeric(12,4)", ["-99999999.9999", "0.0001", None, "12.5"]),
    ("n38", "numeric(38,10)", ["9999999999999999999999999999.9999999999", "-1e-10", None, "0"]),
    ("n50", "numeric(50,10)", ["12345678901234567890.1234567891", "-0.0000000001", None, "1e39"]),
    ("nn", "numeric", ["NaN", "Infinity", None, "-123456789012345678901234567890.123456789012345678901234567890"]),
    ("t", "text", ["é \"q\" \\ 日本 🚀 'x'", "", None, "a/b/c"]),
    ("vc", "varchar(8)", ["abcdefgh", " lead", None, "trail "]),
    ("ch", "char(4)", ["ab", "abcd", None, " a"]),
    ("nm", "name", ["pg_name", "x", None, "y"]),
    ("ba", "bytea", ["\\x00ff10", "\\x", None, "\\xdeadbeef"]),
    ("d", "date", ["infinity", "0001-01-01", None, "9999-12-31"]),
    ("tm", "time", ["24:00:00", "00:00:00.000001", None, "13:14:15.123456"]),
    ("tmtz", "timetz", ["10:00:00+05:30", "23:59:59.999999-12", None, "00:00:00+00"]),
    ("tsz", "timestamp", ["1901-12-13 20:45:52", "2400-02-29 23:59:59.999999", None, "-infinity"]),
    ("tstz", "timestamptz", ["2024-03-10 07:30:00+00", "infinity", None, "1970-01-01 00:00:00.000001+00"]),
    ("iv", "interval", ["1 day 00:00:00.000123", "580063 hours 44 minutes 54 seconds", None, "-1 year -2 mons +3 days -04:05:06.789"]),
    ("m", "money", ["-12.34", "92233720368547758.07", None, "0"]),
    ("bt", "bit(4)", ["1010", "0000", None, "1111"]),
    ("vb", "varbit", ["1", "", None, "101010101"]),
    ("ip", "inet", ["10.0.0.1/8", "::1", None, "192.168.1.1"]),
    ("cd", "cidr", ["10.0.0.0/8", "2001:db8::/32", None, "0.0.0.0/0"]),
    ("mac", "macaddr", ["08:00:2b:01:02:03", "ff:ff:ff:ff:ff:ff", None, "00:00:00:00:00:00"]),
    ("mac8", "macaddr8", ["08:00:2b:01:02:03:04:05", "00:00:00:00:00:00:00:00", None, "ff:ff:ff:ff:ff:ff:ff:ff"]),
    ("u", "uuid", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", None, "ffffffff-ffff-ffff-ffff-ffffffffffff"]),
    ("x", "xml", ["<a b=\"1\">é</a>", "text only", None, "<r/>"]),
    ("tv", "tsvector", ["a fat cat sat", "", None, "'x':1A"]),
    ("tq", "tsquery", ["fat & (rat | cat)", "a", None, "!x"]),
    ("js", "json", ["{\"b\": 1, \"a\": [1.50, null]}", "null", None, "\"é\""]),
    ("jb", "jsonb", ["{\"b\": 1, \"a\": [1.50, null]}", "[]", None, "12345678901234567890.1"]),
    ("pt", "point", ["(1.5,-2)", "(0,0)", None, "(1e300,-1e-300)"]),
    ("ln", "line", ["{1,-1,0}", "{0,1,2}", None, "{1,0,-3}"]),
    ("ls", "lseg", ["[(0,0),(1,1)]", "[(1,2),(3,4)]", None, "[(0,0),(0,0)]"]),
    ("bx", "box", ["(1,1),(0,0)", "(3,4),(1,2)", None, "(0,0),(0,0)"]),
    ("pth", "path", ["[(0,0),(1,1),(2,0)]", "((0,0),(1,1))", None, "[(1,1)]"]),
    ("pg", "polygon", ["((0,0),(1,1),(2,0))", "((0,0))", None, "((1,2),(3,4),(5,6))"]),
    ("cr", "circle", ["<(0,0),1>", "<(1.5,2.5),0.1>", None, "<(0,0),0>"]),
    ("dp", "px_nonneg", ["12.3456", "0", None, "99999999.9999"]),
    ("dt", "ticker", ["AAPL", "BRK.B", None, "^GSPC"]),
    ("sd", "trade_side", ["buy", "sell", None, "buy"]),
    ("ai", "int[]", ["{1,2,NULL}", "{}", None, "{-1}"]),
    ("a2", "int[][]", ["{{1,2},{3,4}}", "{{5}}", None, "{{NULL,1}}"]),
    ("at", "text[]", ["{\"a b\",\"c,d\",\"\\\"q\\\"\"}", "{NULL}", None, "{é}"]),
    ("an", "numeric[]", ["{1.5,NaN,12345678901234567890123456789012345678901}", "{}", None, "{-0.000001}"]),
    ("r4", "int4range", ["[1,5)", "empty", None, "(,3]"]),
    ("rts", "tstzrange", ["[2024-01-01 00:00:00+00,2024-01-02 00:00:00+00)", "(,infinity)", None, "empty"]),
    ("rn", "numrange", ["[1.5,2.25]", "(-1e-20,)", None, "empty"]),
    ("mr", "int4multirange", ["{[1,3),[5,7)}", "{}", None, "{[10,11)}"]),
    ("o", "oid", ["0", "4294967295", None, "12345"]),
    ("lsn", "pg_lsn", ["0/0", "FFFFFFFF/FFFFFFFF", None, "16/B374D848"]),
]
TYPES = """
CREATE DOMAIN px_nonneg AS numeric(12,4) CHECK (VALUE >= 0);
CREATE DOMAIN ticker AS varchar(12);
CREATE TYPE trade_side AS ENUM ('buy', 'sell');
"""


def kinds_config(tmp_path, dsn, table="kinds", spec=None):
    path = write_config(tmp_path, "postgres", dsn)
    cfg = yaml.safe_load(path.read_text())
    cfg["tables"][table] = spec or {"time_column": "ts", "key": ["id"]}
    cfg["storage"]["rotation"]["tables"] = [table]
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def create_kinds(conn):
    conn.execute(TYPES)
    cols = ", ".join(f'"{n}" {t}' for n, t, _ in COLUMNS)
    conn.execute(f"CREATE TABLE kinds (id int PRIMARY KEY, ts timestamptz NOT NULL, {cols})")
    for row in range(4):
        values = [v[row] for _, _, v in COLUMNS]
        marks = ", ".join(["%s"] * len(values))
        conn.execute(f"INSERT INTO kinds VALUES (%s, %s, {marks})", [row + 1, f"2025-06-0{row + 1} 12:00+00", *values])
    conn.execute("CREATE TABLE kinds_orig AS SELECT * FROM kinds")


def readers(config, table, tmp_path=None):
    """(name, Arrow table, whether it also shows hot rows) of the table through every reader a
    user has."""
    root = config.lake_root / table
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    yield "pyarrow.parquet", pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive"), False
    yield "pyarrow.dataset", ds.dataset(str(root), format="parquet", partitioning="hive", schema=hotcold.lake_schema(config, table)).to_table(), False
    with duckdb.connect() as con:
        yield "duckdb read_parquet", con.execute("select * from read_parquet(?, union_by_name = true)", [files]).to_arrow_table(), False
    # Built by the rotations themselves: when a table's first day arrives and when its columns change.
    con = catalog.open_catalog(config)
    try:
        yield "cold view", con.execute(f"select * from cold.{table}").to_arrow_table(), False
        yield "unified view", con.execute(f"select * from unified.{table}").to_arrow_table(), True
    finally:
        con.close()
    yield "ColdStorageQueryEngine", hotcold.ColdStorageQueryEngine(config).query(table), False
    yield "StorageRouter", hotcold.StorageRouter(config).query(table).to_arrow(), True
    if tmp_path is not None:
        out = tmp_path / f"{table}_query.parquet"
        proc = subprocess.run([sys.executable, "-m", "hotcold", "query", table, "--format", "parquet", "-o", str(out), "--config", str(config.path)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        yield "hotcold query", pq.read_table(out), True
        # A date or time Python cannot hold (infinity, -infinity) is shown, not a traceback.
        for fmt in ("json", "table", "csv"):
            proc = subprocess.run([sys.executable, "-m", "hotcold", "query", table, "--format", fmt, "--config", str(config.path)],
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def assert_same_in_postgres(config, dsn, arrow, reader, table="kinds", columns=COLUMNS, expected_rows=None):
    """Each value read back, cast to its column's type in PostgreSQL, equals the original
    (compared as PostgreSQL's text of the typed value; NULL only where NULL)."""
    back = f"back_{abs(hash(reader)) % 10**8}"
    keep = [n for n in arrow.column_names if n not in ("year", "month", "day")]
    with duckdb.connect() as con:
        load_postgres(con)
        con.execute("ATTACH '" + session_dsn(dsn).replace("'", "''") + "' AS pg (TYPE postgres)")
        con.register("arrow_rows", arrow.select(keep))
        con.execute(f"CREATE TABLE pg.public.{back} AS SELECT * FROM arrow_rows")
    wrong = []
    with psycopg.connect(session_dsn(dsn)) as conn:
        n = conn.execute(f"SELECT count(*) FROM {back}").fetchone()[0]
        assert n == (expected_rows if expected_rows is not None else conn.execute(f"SELECT count(*) FROM {table}_orig").fetchone()[0]), f"{reader}: {n} rows"
        for name, type_, _ in columns:
            bad = conn.execute(
                f'SELECT o.id, o."{name}"::text, b."{name}"::text FROM {table}_orig o JOIN {back} b USING (id)'
                f' WHERE (b."{name}"::text::{type_})::text IS DISTINCT FROM o."{name}"::text').fetchall()
            wrong += [(reader, name, *r) for r in bad]
        conn.execute(f"DROP TABLE {back}")
    return wrong


@pytest.mark.slow
def test_every_type_is_exact_or_exact_as_text_through_every_reader(tmp_path, pg_dsn):
    config = kinds_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_kinds(conn)
    # The cutoff is 2025-06-04 00:00 UTC: rows 1-3 age out, row 4 stays hot, so the readers
    # that span both tiers read its values from PostgreSQL as the lake would hold them.
    report = rotate(config, as_of=date(2025, 7, 4), tables=["kinds"])
    assert report.tables["kinds"].archived_rows == 3 and report.tables["kinds"].deleted_rows == 3
    wrong = []
    for reader, arrow, with_hot in readers(config, "kinds", tmp_path):
        wrong += assert_same_in_postgres(config, pg_dsn, arrow, reader, expected_rows=4 if with_hot else 3)
    TALLY["type matrix: columns"] += len(COLUMNS)
    TALLY["type matrix: values changed"] += len(wrong)
    assert wrong == []
    assert hotcold.verify(config, deep=True).ok


@pytest.mark.slow
def test_a_day_file_rewritten_by_a_merge_keeps_every_value(tmp_path, pg_dsn):
    # A late row for a day the lake holds, after the table gained a column: every day file is
    # read back, joined with the late rows and written again; -0.0 must stay -0.0 and so on.
    config = kinds_config(tmp_path, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_kinds(conn)
    rotate(config, as_of=date(2025, 7, 4), tables=["kinds"])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE kinds ADD COLUMN added text DEFAULT 'late'")
        late = ", ".join(f'"{n}"' for n, _, _ in COLUMNS)
        conn.execute(f"INSERT INTO kinds (id, ts, {late}) SELECT id + 10, ts + interval '1 hour', {late} FROM kinds_orig WHERE id <= 3")
        conn.execute(f"INSERT INTO kinds_orig SELECT id + 10, ts + interval '1 hour', {late} FROM kinds_orig WHERE id <= 3")
    report = rotate(config, as_of=date(2025, 7, 4), tables=["kinds"])
    assert report.tables["kinds"].archived_rows == 3 and report.tables["kinds"].deleted_rows == 3
    wrong = []
    for reader, arrow, with_hot in readers(config, "kinds"):
        wrong += assert_same_in_postgres(config, pg_dsn, arrow, reader, expected_rows=7 if with_hot else 6)
    TALLY["type matrix: values changed"] += len(wrong)
    assert wrong == []
    assert hotcold.verify(config, deep=True).ok


@pytest.mark.parametrize("ddl, column, message", [
    ("k numeric", "k", "equal numeric values can have different texts"),
    ("k interval", "k", "equal interval values can have different texts"),
    ("k text COLLATE case_blind", "k", "has a nondeterministic collation"),
])
@pytest.mark.slow
def test_a_key_the_lake_could_not_tell_apart_as_postgres_does_is_refused(tmp_path, pg_dsn, ddl, column, message):
    # 1.0 = 1.00 in PostgreSQL; as the lake's exact text they are two keys, and a late
    # correction would sit beside the archived row instead of replacing it.
    config = kinds_config(tmp_path, pg_dsn, "keyed", {"time_column": "ts", "key": [column]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE COLLATION case_blind (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        conn.execute(f"CREATE TABLE keyed ({ddl} PRIMARY KEY, ts timestamptz NOT NULL, v text)")
        conn.execute("INSERT INTO keyed VALUES (%s, '2025-01-05', 'old')", ["1 day" if "interval" in ddl else "1.0" if "numeric" in ddl else "abc"])
    proc = subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--config", str(config.path), "--as-of", "2026-11-25", "--force"],
                          capture_output=True, text=True, timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and message in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM keyed").fetchone()[0] == 1
    assert lake_files(config) == []


@pytest.mark.slow
def test_nan_in_a_numeric_column_with_a_precision_is_refused_by_name(tmp_path, pg_dsn):
    # DuckDB's DECIMAL cannot hold NaN; its postgres scanner reads it as 0.00 without a word.
    config = kinds_config(tmp_path, pg_dsn, "quotes", {"time_column": "ts", "key": ["id"]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE quotes (id int PRIMARY KEY, ts timestamptz NOT NULL, px numeric(10,2))")
        conn.execute("INSERT INTO quotes VALUES (1, '2025-01-02', 1.5), (2, '2025-01-02', 'NaN'), (3, '2025-01-03', 2)")
    proc = subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--config", str(config.path), "--as-of", "2026-11-25", "--force"],
                          capture_output=True, text=True, timeout=300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "quotes day 2025-01-02" in errors[0] and "column 'px' holds NaN or Infinity" in errors[0]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM quotes").fetchone()[0] == 3
    assert lake_files(config) == []


@pytest.mark.slow
def test_a_value_changed_after_postgres_sent_it_stops_the_run_before_anything_moves(tmp_path, pg_dsn, monkeypatch):
    config = kinds_config(tmp_path, pg_dsn, "bars", {"time_column": "ts", "key": ["symbol", "ts"]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bars (symbol text, ts timestamptz, close double precision, PRIMARY KEY (symbol, ts))")
        conn.execute("INSERT INTO bars SELECT 'S' || (i % 3), timestamptz '2025-01-01' + i * interval '7 hours', i * 1.5 FROM generate_series(1, 300) i")
        before = sorted(conn.execute("SELECT * FROM bars").fetchall())
    monkeypatch.setenv("HOTCOLD_FAIL_AT", "stage.change_value")
    with pytest.raises(hotcold.HotColdError, match=r"verify failed for bars day 2025-01-01: column 'close' differs from the hot store's own values"):
        rotate(config, as_of=AS_OF, tables=["bars"])
    with psycopg.connect(pg_dsn) as conn:
        assert sorted(conn.execute("SELECT * FROM bars").fetchall()) == before
    assert lake_files(config) == []
    TALLY["fail point: values changed in flight, caught"] += 1
    monkeypatch.delenv("HOTCOLD_FAIL_AT")
    assert rotate(config, as_of=AS_OF, tables=["bars"]).tables["bars"].deleted_rows == 300


@pytest.mark.slow
def test_a_zero_that_lost_its_sign_on_the_way_stops_the_run(tmp_path, pg_dsn, monkeypatch):
    # PostgreSQL's hashfloat8 hashes -0.0 as 0.0; the fingerprint counts negative zeros apart.
    config = kinds_config(tmp_path, pg_dsn, "fills", {"time_column": "ts", "key": ["id"]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE fills (id int PRIMARY KEY, ts timestamptz NOT NULL, pnl double precision)")
        conn.execute("INSERT INTO fills VALUES (1, '2025-01-02 10:00+00', '-0'), (2, '2025-01-02 11:00+00', 0), (3, '2025-01-03', -0.5)")
    monkeypatch.setenv("HOTCOLD_FAIL_AT", "stage.change_value")
    with pytest.raises(hotcold.HotColdError, match=r"verify failed for fills day 2025-01-02: column 'pnl' differs from the hot store's own values"):
        rotate(config, as_of=AS_OF, tables=["fills"])
    assert lake_files(config) == []
    TALLY["fail point: values changed in flight, caught"] += 1
    monkeypatch.delenv("HOTCOLD_FAIL_AT")
    assert rotate(config, as_of=AS_OF, tables=["fills"]).tables["fills"].deleted_rows == 3
    assert lake_rows(config, "fills", "id, pnl::varchar") == [(1, "-0.0"), (2, "0.0"), (3, "-0.5")]


def test_zeros_of_both_signs_in_one_day_staged_in_several_parts_keep_their_signs(tmp_path, pg_dsn):
    # Rows of two days interleaved on disk: the stream comes back to each day, so each day is
    # staged in several parts that publish combines into one file after verify. A Parquet
    # writer with a dictionary of doubles (DuckDB's) keeps one sign for -0.0 and 0.0.
    config = kinds_config(tmp_path, pg_dsn, "fills", {"time_column": "ts", "key": ["id"]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE fills (id int PRIMARY KEY, ts timestamptz NOT NULL, pnl double precision, qty real)")
        for i in range(40):
            conn.execute("INSERT INTO fills VALUES (%s, %s, %s, %s)", [i, f"2025-01-0{2 + i % 2} 10:{i:02d}+00", "-0" if i % 4 < 2 else "0", "-0" if i % 3 else "0"])
        want = conn.execute("SELECT id, pnl::text, qty::text FROM fills ORDER BY id").fetchall()
    assert rotate(config, as_of=AS_OF, tables=["fills"]).tables["fills"].deleted_rows == 40
    # Read with pyarrow: DuckDB's ORDER BY on a double gives -0.0 back as 0.0.
    read = pa.concat_tables([pq.read_table(p) for p in (config.lake_root / "fills").rglob("*.parquet")]).sort_by("id").to_pylist()
    got = [(r["id"], "-0" if math.copysign(1, r["pnl"]) < 0 else "0", "-0" if math.copysign(1, r["qty"]) < 0 else "0") for r in read]
    assert got == want
    assert len(list((config.lake_root / "fills").rglob("*.parquet"))) == 2


@pytest.mark.slow
def test_a_merge_keeps_zeros_of_both_signs_in_one_day(tmp_path, pg_dsn):
    # A late row makes the day's file be rewritten: -0.0 and 0.0 in one column must come out
    # as they went in, not one of them refused by verify night after night.
    config = kinds_config(tmp_path, pg_dsn, "fills", {"time_column": "ts", "key": ["id"]})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE fills (id int PRIMARY KEY, ts timestamptz NOT NULL, pnl double precision)")
        conn.execute("INSERT INTO fills SELECT i, '2025-01-02 10:00+00'::timestamptz + i * interval '1 minute', CASE WHEN i % 3 = 0 THEN '-0' ELSE '0' END::float8 FROM generate_series(1, 60) i")
    rotate(config, as_of=AS_OF, tables=["fills"])
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO fills VALUES (100, '2025-01-02 20:00+00', '-0')")
    assert rotate(config, as_of=AS_OF, tables=["fills"]).tables["fills"].deleted_rows == 1
    read = pa.concat_tables([pq.read_table(p) for p in (config.lake_root / "fills").rglob("*.parquet")]).sort_by("id").to_pylist()
    assert [(r["id"], math.copysign(1, r["pnl"])) for r in read] == [(i, -1.0 if i % 3 == 0 else 1.0) for i in range(1, 61)] + [(100, -1.0)]


def test_combining_a_days_staged_parts_keeps_every_bit(tmp_path):
    # A large day streams in several parts, combined into one file after verify; DuckDB's
    # writer gives a column's -0.0 and 0.0 one sign, which the record's checksum (DuckDB's
    # hash) does not see, so the combine must not go through it.
    from hotcold.pipeline import publish
    from hotcold.store import lake

    day = tmp_path / "year=2025" / "month=01" / "day=02"
    day.mkdir(parents=True)
    parts = []
    for n in range(2):
        zeros = pa.array([-0.0 if (i + n) % 3 else 0.0 for i in range(100)], pa.float64())
        parts.append(day / f"t_20250102_{n}.parquet")
        pq.write_table(pa.table({"id": pa.array(range(n * 100, n * 100 + 100)), "pnl": zeros, "sym": ["A"] * 100}), parts[-1], use_dictionary=["sym"])
    with duckdb.connect() as con:
        rows, checksum = con.execute(f"select count(*), {lake.checksum_expr(['id', 'pnl', 'sym'])} from read_parquet(?)", [[str(p) for p in parts]]).fetchone()
        signs = [math.copysign(1, x) for p in parts for x in pq.read_table(p).column("pnl").to_pylist()]
        out = publish._combine(con, parts, rows, checksum, "snappy")
    assert [math.copysign(1, x) for x in pq.read_table(out).column("pnl").to_pylist()] == signs


def test_the_embedded_hot_store_has_the_same_guarantee_against_its_own_values(tmp_path, monkeypatch):
    from support import demo_project, snapshot

    config = demo_project(tmp_path, "duckdb", symbols=2)
    before = snapshot(config, "market_data", "*")
    monkeypatch.setenv("HOTCOLD_FAIL_AT", "stage.change_value")
    with pytest.raises(hotcold.HotColdError, match=r"verify failed for market_data day .*: column '\w+' differs from the hot store's own values"):
        rotate(config, as_of=AS_OF, tables=["market_data"])
    assert snapshot(config, "market_data", "*") == before and lake_files(config) == []
    TALLY["fail point: values changed in flight, caught"] += 1


@pytest.mark.slow
@pytest.mark.parametrize("time_type", ["timestamptz", "timestamp", "date"])
def test_times_that_fit_no_day_stay_hot_with_a_warning(tmp_path, pg_dsn, time_type):
    config = kinds_config(tmp_path, pg_dsn, "events", {"time_column": "ts", "key": ["id"], "interval_column": "iv"})
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE events (id int PRIMARY KEY, ts {time_type}, iv text, v int)")
        conn.execute("INSERT INTO events VALUES (1, '2025-01-02', '1min', 1), (2, NULL, '1min', 2), (3, '-infinity', '1day', 3),"
                     " (4, 'infinity', '1min', 4), (5, '2025-01-03', '1day', 5), (6, '0044-03-15 BC', '1min', 6), (7, '2026-11-24', '1min', 7),"
                     # Far from 1970 but within years 1-9999: filed under their own days.
                     " (8, '2300-01-01', '1min', 8), (9, '0005-01-02', '1min', 9)")
    report = rotate(config, as_of=AS_OF, tables=["events"])
    assert report.tables["events"].deleted_rows == 5 and report.tables["events"].unfileable_rows == 4
    assert report.warnings == ["events: 4 rows stay in the hot store: their ts is NULL, infinite or outside years 1-9999, which no lake day can hold; fix those values to archive them"]
    with psycopg.connect(pg_dsn) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT id FROM events").fetchall()) == [2, 3, 4, 6]
    assert hotcold.archival_status(config, AS_OF).tables["events"].hot.unfileable_rows == 4
    assert sorted(lake_files(config)) == ["events/year=0005/month=01/day=02/events_00050102.parquet",
                                          "events/year=2025/month=01/day=02/events_20250102.parquet",
                                          "events/year=2025/month=01/day=03/events_20250103.parquet",
                                          "events/year=2026/month=11/day=24/events_20261124.parquet",
                                          "events/year=2300/month=01/day=01/events_23000101.parquet"]
    assert hotcold.verify(config, deep=True).ok
    # The router takes a hot store whose oldest time Python cannot hold (BC, -infinity).
    rows = hotcold.StorageRouter(config).query("events", start="2025-01-01", end="2025-02-01").to_arrow()
    assert sorted(rows.column("id").to_pylist()) == [1, 5]


@pytest.fixture
def server_zone(pg_dsn):
    """Set the whole server's TimeZone (postgresql.conf, by ALTER SYSTEM) for one test."""
    def set_zone(zone):
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET TimeZone = '{zone}'" if zone else "ALTER SYSTEM RESET TimeZone")
            conn.execute("SELECT pg_reload_conf()")
    yield set_zone
    set_zone(None)


@pytest.mark.parametrize("level, zone", [("database", "Asia/Tokyo"), ("database", "America/New_York"), ("server", "Asia/Tokyo")])
def test_timestamp_without_time_zone_is_utc_wall_time_whatever_the_database_zone(tmp_path, pg_dsn, server_zone, level, zone):
    config = kinds_config(tmp_path, pg_dsn, "ticks", {"time_column": "ts", "key": ["id"]})
    dbname = psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    if level == "server":
        server_zone(zone)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        if level == "database":
            conn.execute(f"ALTER DATABASE \"{dbname}\" SET TimeZone = '{zone}'")
        conn.execute("CREATE TABLE ticks (id int PRIMARY KEY, ts timestamp NOT NULL, at timestamptz, px float8)")
        # The cutoff is 2026-10-26 00:00 UTC; row 2 is 30 minutes inside the window in UTC
        # wall time, which the server's own zone would place before it.
        conn.execute("INSERT INTO ticks VALUES (1, '2026-10-25 23:30', '2026-10-25 23:30+00', 1), (2, '2026-10-26 00:30', '2026-10-26 00:30+00', 2),"
                     " (3, '2026-03-08 02:30', '2026-03-08 02:30+00', 3), (4, '2026-11-01 01:30', '2026-11-01 01:30+00', 4)")
    report = rotate(config, as_of=date(2026, 11, 25), tables=["ticks"])
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SHOW TimeZone").fetchone()[0] == zone
        assert sorted(r[0] for r in conn.execute("SELECT id FROM ticks").fetchall()) == [2, 4]
    assert report.tables["ticks"].deleted_rows == 2
    assert sorted(lake_files(config)) == ["ticks/year=2026/month=03/day=08/ticks_20260308.parquet",
                                          "ticks/year=2026/month=10/day=25/ticks_20261025.parquet"]
    lake = pq.read_table(config.lake_root / "ticks" / "year=2026" / "month=10" / "day=25" / "ticks_20261025.parquet")
    assert str(lake.column("ts")[0].as_py()) == "2026-10-25 23:30:00" and lake.schema.field("at").type.tz == "UTC"


def lake_rows(config, table, columns):
    files = [str(p) for p in (config.lake_root / table).rglob("*.parquet")]
    with duckdb.connect() as con:
        return con.execute(f"select {columns} from read_parquet(?, union_by_name = true) order by all", [files]).fetchall()


def lake_rows_columns(config, table):
    files = [str(p) for p in (config.lake_root / table).rglob("*.parquet")]
    with duckdb.connect() as con:
        return [r[0] for r in con.execute("describe select * from read_parquet(?, union_by_name = true, hive_partitioning = false)", [files]).fetchall()]


@pytest.mark.slow
def test_schema_changes_keep_every_archived_value_and_every_reader_sees_the_union(tmp_path, pg_dsn):
    config = kinds_config(tmp_path, pg_dsn, "bars", {"time_column": "ts", "key": ["symbol", "ts"]})
    late = iter(range(100, 200))

    def step(sql, as_of=AS_OF):
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            if sql:
                conn.execute(sql)
            # A late row for a day the lake already holds: its day file is merged again.
            conn.execute("INSERT INTO bars (symbol, ts, close, qty) VALUES (%s, '2025-01-02 15:00+00', 1.5, 1)", [f"L{next(late)}"])
        report = rotate(config, as_of=as_of, tables=["bars"])
        assert report.tables["bars"].deleted_rows == 1
        # Every reader sees every archived row, and the union of the columns so far.
        wanted = set(lake_rows_columns(config, "bars"))
        for reader, arrow, with_hot in readers(config, "bars"):
            assert wanted <= set(arrow.column_names) and arrow.num_rows == len(lake_rows(config, "bars", "*")) + with_hot, reader
        TALLY["schema changes: steps"] += 1

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bars (symbol text, ts timestamptz, close numeric(12,4), qty int, note varchar(10), PRIMARY KEY (symbol, ts))")
        conn.execute("INSERT INTO bars VALUES ('A', '2025-01-02 10:00+00', 10.1234, 5, 'first'), ('B', '2025-01-02 11:00+00', 20.5, 6, 'second'),"
                     " ('A', '2025-01-03 10:00+00', 11, 7, 'third')")
        # One row stays hot throughout: readers that span both tiers must line its columns up
        # with the lake's, whatever the hot table has dropped or renamed since.
        conn.execute("INSERT INTO bars VALUES ('H', '2026-11-24 10:00+00', 1, 1, 'hot')")
    rotate(config, as_of=AS_OF, tables=["bars"])
    step("ALTER TABLE bars ADD COLUMN venue text DEFAULT 'XNYS'")
    step("ALTER TABLE bars DROP COLUMN note")
    step("ALTER TABLE bars ALTER COLUMN qty TYPE bigint, ALTER COLUMN close TYPE numeric(18,6), ALTER COLUMN venue TYPE varchar(20)")
    step("ALTER TABLE bars RENAME COLUMN venue TO exchange")
    # Every archived value is still there, under the column it was archived under.
    rows = lake_rows(config, "bars", "symbol, close::varchar, qty, note, venue, exchange")
    assert ("A", "10.123400", 5, "first", None, None) in rows and ("B", "20.500000", 6, "second", None, None) in rows
    assert ("A", "11.000000", 7, "third", None, None) in rows
    assert ("L101", "1.500000", 1, None, "XNYS", None) in rows and ("L103", "1.500000", 1, None, None, "XNYS") in rows
    report = hotcold.verify(config, deep=True)
    assert len(rows) == 7 and report.ok
    # verify's schema history, by day: the day the late rows rewrote holds every column; the
    # next day was archived before any change and keeps its own.
    history = report.tables["bars"].schema_history
    assert [h["days"] for h in history] == [1, 1] and set(history[1]["dropped"]) == {"venue", "exchange"}
    assert history[1]["retyped"] == {"close": "DECIMAL(18,6) -> DECIMAL(12,4)", "qty": "BIGINT -> INTEGER"}
    # Every reader sees the union of columns, NULL where a day has none.
    for reader, arrow, with_hot in readers(config, "bars"):
        assert {"note", "venue", "exchange", "close", "qty"} <= set(arrow.column_names), reader
        assert arrow.num_rows == 7 + with_hot, reader
    # Every file carries the same timestamp zone: the files unify (widened types promote).
    schemas = [pq.read_schema(p) for p in (config.lake_root / "bars").rglob("*.parquet")]
    assert {s.field("ts").type for s in schemas} == {pa.timestamp("us", "UTC")}
    pa.unify_schemas(schemas, promote_options="permissive")
    # A narrowing or incompatible change is refused by name, before anything moves.
    for change, column in [("ALTER TABLE bars ALTER COLUMN close TYPE numeric(10,2)", "close"), ("ALTER TABLE bars ALTER COLUMN qty TYPE text", "qty")]:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(change)
            conn.execute("INSERT INTO bars (symbol, ts, close, qty) VALUES ('Z', '2025-01-02 16:00+00', 2, '2') ON CONFLICT DO NOTHING")
        with pytest.raises(hotcold.HotColdError, match=f"column '{column}' is .* in the hot store but .* in the lake"):
            rotate(config, as_of=AS_OF, tables=["bars"])
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM bars WHERE symbol = 'Z'").fetchone()[0] == 1
            conn.execute("DELETE FROM bars WHERE symbol = 'Z'")
            conn.execute("ALTER TABLE bars ALTER COLUMN close TYPE numeric(18,6), ALTER COLUMN qty TYPE bigint USING qty::bigint")
    assert len(lake_rows(config, "bars", "*")) == 7
