"""hotcold.pipeline.pg_hash against PostgreSQL's own hashtext / hashfloat8 / hashfloat4, value by value.

Every value is loaded into a real PostgreSQL with binary COPY (so floats arrive bit for bit,
NaN payloads and -0.0 included) and hashed there; the same values are hashed by the numpy module
and by the DuckDB UDFs, and all three must agree exactly.
"""
from __future__ import annotations

import struct

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
import pytest

from hotcold.pipeline import pg_hash

PG_EXPR = {
    "text": 'hashtext(x COLLATE "C")',
    "float8": "hashfloat8(x)",
    "float4": "hashfloat4(x)",
}
UDF = {"text": "hc_pg_hashtext", "float8": "hc_pg_hashfloat8", "float4": "hc_pg_hashfloat4"}
MODULE = {"text": pg_hash.hashtext, "float8": pg_hash.hashfloat8, "float4": pg_hash.hashfloat4}
ARROW_TYPE = {"text": pa.string(), "float8": pa.float64(), "float4": pa.float32()}


def pg_hashes(dsn: str, pgtype: str, values: list) -> list:
    with psycopg.connect(dsn) as conn:
        if pgtype == "text":
            # hashtext hashes the stored bytes, so a non-UTF-8 database would hash something else.
            assert conn.execute("SHOW server_encoding").fetchone()[0] == "UTF8"
        conn.execute(f"CREATE TEMP TABLE v (id int4 PRIMARY KEY, x {pgtype})")
        with conn.cursor().copy("COPY v (id, x) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", pgtype])
            for i, value in enumerate(values):
                copy.write_row((i, value))
        return [r[0] for r in conn.execute(f"SELECT {PG_EXPR[pgtype]} FROM v ORDER BY id")]


def duckdb_hashes(pgtype: str, arrow_values: pa.Array) -> list:
    conn = duckdb.connect()
    try:
        pg_hash.register(conn)
        pg_hash.register(conn)  # a second registration must replace, not fail
        table = pa.table({"id": pa.array(np.arange(len(arrow_values), dtype=np.int32)), "x": arrow_values})
        conn.register("v", table)
        return [r[0] for r in conn.execute(f"SELECT {UDF[pgtype]}(x) FROM v ORDER BY id").fetchall()]
    finally:
        conn.close()


def assert_same(values: list, expected: list, got: list, label: str) -> None:
    assert len(got) == len(expected), f"{label}: {len(got)} results for {len(expected)} values"
    bad = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
    if bad:
        lines = [f"  [{i}] {_show(values[i])}: PostgreSQL {expected[i]}, {label} {got[i]}" for i in bad[:10]]
        pytest.fail(f"{label} differs from PostgreSQL on {len(bad)} of {len(values)} values:\n" + "\n".join(lines))


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v!r} (bits {struct.pack('>d', v).hex()})"
    if isinstance(v, str):
        b = v.encode()
        return f"{v[:30]!r}{'...' if len(v) > 30 else ''} ({len(b)} bytes)"
    return repr(v)


def check(dsn: str, pgtype: str, values: list, arrow_values: pa.Array | None = None) -> list:
    """Compare module and DuckDB UDF with PostgreSQL; return PostgreSQL's hashes."""
    if arrow_values is None:
        arrow_values = pa.array(values, ARROW_TYPE[pgtype])
    expected = pg_hashes(dsn, pgtype, values)
    got = MODULE[pgtype](arrow_values)
    assert got.type == pa.int32()
    assert_same(values, expected, got.to_pylist(), f"pg_hash.{MODULE[pgtype].__name__}")
    assert_same(values, expected, duckdb_hashes(pgtype, arrow_values), UDF[pgtype])
    return expected


def utf8_of_length(n: int, start: int) -> str:
    """A string of exactly n UTF-8 bytes mixing 1- to 4-byte characters, so bytes >= 0x80 land
    in every position of the tail words."""
    pieces = ["é", "日", "😀", "a", "ß"]
    out, size, i = [], 0, start
    while size < n:
        ch = pieces[i % len(pieces)]
        i += 1
        if size + len(ch.encode()) > n:
            ch = "z"
        out.append(ch)
        size += len(ch.encode())
    s = "".join(out)
    assert len(s.encode()) == n
    return s


def edge_strings() -> list:
    ascii_ = "".join(chr(c) for c in range(0x21, 0x7F))
    values = [""]
    for n in range(1, 41):  # every tail length 0..11 around the 12-, 24- and 36-byte blocks
        values.append(ascii_[n % 7: n % 7 + n])
        values.append(utf8_of_length(n, n))
    values += [
        "é", "日本", "😀", "👍🏽", "🇫🇷", "naïve café", "日本語のテキスト", "Ω≈ç√∫", "\u00a0", "\uffff", "\U0010ffff",
        "x" * 5000, utf8_of_length(5000, 3), "AAPL", "BRK.B", "ES=F", " ", "a ", " a",
        "'", "''", '"', "\\", "\\\\", "a'b\"c\\d", "\\x00", "%s", "{}", "\t\n\r", "\x01\x1f\x7f",
        None, "after a null", None,
    ]
    return values


def test_hashtext_edge_values(pg_dsn):
    check(pg_dsn, "text", edge_strings())


def test_hashtext_arrow_layouts(pg_dsn):
    values = edge_strings()
    expected = pg_hashes(pg_dsn, "text", values)
    plain = pa.array(values, pa.string())
    layouts = {
        "large_string": pa.array(values, pa.large_string()),
        "string_view": pa.array(values, pa.string_view()),
        "dictionary": plain.dictionary_encode(),
        "chunked": pa.chunked_array([plain[:7], plain[7:7], plain[7:50], plain[50:]]),
        "chunked dictionary": pa.chunked_array([plain[:30].dictionary_encode(), plain[30:].dictionary_encode()]),
        "binary": pa.array([None if v is None else v.encode() for v in values], pa.binary()),
    }
    for name, arr in layouts.items():
        got = pg_hash.hashtext(arr)
        assert isinstance(got, pa.Int32Array), name
        assert_same(values, expected, got.to_pylist(), f"hashtext({name})")
    # Sliced arrays: the offset must be honoured for the offsets, the data and the null bitmap.
    for start in (1, 3, 8, 9):
        assert_same(values[start:], expected[start:], pg_hash.hashtext(plain[start:]).to_pylist(),
                    f"hashtext(slice from {start})")
    assert pg_hash.hashtext(pa.array([], pa.string())).to_pylist() == []
    assert pg_hash.hashtext(pa.array([None, None], pa.string())).to_pylist() == [None, None]
    assert pg_hash.hashtext(pa.array(["", ""], pa.string())).to_pylist() == [expected[0]] * 2


def test_hashtext_lengths_around_every_block_boundary(pg_dsn):
    # Every byte length 0..200 with distinct content, so a wrong block count or tail shift shows.
    values = [utf8_of_length(n, n * 7) for n in range(201)] + ["q" * n for n in range(201)]
    check(pg_dsn, "text", values)


def random_strings(rng: np.random.Generator, n: int, long_share: float = 0.2) -> list:
    """n random strings: mostly 0-39 characters, ``long_share`` of them 40-2999, drawn from ASCII,
    control characters, Latin, Greek, CJK, Hangul, private use, emoji and astral planes (never
    NUL, which text cannot hold, nor surrogates, which UTF-8 cannot)."""
    ranges = np.array([(0x20, 0x7E), (0x01, 0x1F), (0xA0, 0x24F), (0x370, 0x3FF), (0x4E00, 0x9FFF),
                       (0xAC00, 0xD7A3), (0xE000, 0xFFFD), (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF)])
    weights = np.array([40, 2, 10, 5, 15, 5, 3, 15, 5], float)
    lengths = np.where(rng.random(n) < long_share, rng.integers(40, 3000, n), rng.integers(0, 40, n))
    which = rng.choice(len(ranges), size=int(lengths.sum()), p=weights / weights.sum())
    lo, hi = ranges[which, 0], ranges[which, 1]
    points = (lo + (rng.random(len(which)) * (hi - lo + 1)).astype(np.int64)).astype("<u4")
    text = points.tobytes().decode("utf-32-le")
    ends = np.cumsum(lengths)
    return [text[e - k: e] for e, k in zip(ends.tolist(), lengths.tolist())]


def test_hashtext_random_strings(pg_dsn):
    rng = np.random.default_rng(20240615)
    values = random_strings(rng, 3000)
    values[::97] = [None] * len(values[::97])
    check(pg_dsn, "text", values)


def test_hashtext_both_strategies(pg_dsn):
    # More than the 16384-value sample: unique values are hashed directly, a low-cardinality
    # column goes through the dictionary. Both must match PostgreSQL.
    rng = np.random.default_rng(7)
    unique = [f"{i:06d}-{s}" for i, s in enumerate(random_strings(rng, 20000, long_share=0.02))]
    check(pg_dsn, "text", unique)
    pool = random_strings(rng, 40) + ["AAPL", "MSFT", ""]
    repeated = [None if i % 1000 == 0 else pool[int(j)] for i, j in enumerate(rng.integers(0, len(pool), 30000))]
    expected = check(pg_dsn, "text", repeated)
    chunked = pa.chunked_array([pa.array(repeated[:12345]), pa.array(repeated[12345:])])
    assert_same(repeated, expected, pg_hash.hashtext(chunked).to_pylist(), "hashtext(chunked, repeated)")


def f64(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def f32(x) -> float:
    """The float4 nearest x, as the exactly equal Python float."""
    return float(np.float32(x))


EDGE_DOUBLES = [
    0.0, -0.0, float("nan"), -float("nan"), f64(0xFFF8000000000000), f64(0x7FF0000000000001),  # NaNs
    f64(0x7FFFFFFFFFFFFFFF), f64(0x7FF8DEADBEEF0000), float("inf"), -float("inf"),
    5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
    -1.7976931348623157e308, 0.1, 1e300, -123.456, 1.0, -1.0, 2.0 ** 53, 2.0 ** 53 + 2, 1e-300, 3.141592653589793,
    f32(0.1), f32(-123.456), f32(3.4028234663852886e38), f32(1.401298464324817e-45), f32(1.1754943508222875e-38),
    None, 42.0, None,
]

EDGE_FLOATS = [
    0.0, -0.0, float("nan"), -float("nan"), float("inf"), -float("inf"), f32(0.1), f32(-123.456), 1.0, -1.0,
    f32(3.4028234663852886e38), -f32(3.4028234663852886e38), f32(1.401298464324817e-45),
    -f32(1.401298464324817e-45), f32(1.1754943508222875e-38), f32(1e-40), f32(16777217.0), f32(1e30), None, 2.5, None,
]


def test_hashfloat8_edge_values(pg_dsn):
    check(pg_dsn, "float8", EDGE_DOUBLES)


def test_hashfloat4_edge_values(pg_dsn):
    expected = check(pg_dsn, "float4", EDGE_FLOATS)
    # hashfunc.c widens float4 to float8, so equal values hash alike across the two types.
    assert pg_hash.hashfloat8(pa.array(EDGE_FLOATS, pa.float64())).to_pylist() == expected
    assert pg_hash.hashfloat8(pa.array(EDGE_FLOATS, pa.float32())).to_pylist() == expected


def test_float_arrow_layouts(pg_dsn):
    expected = pg_hashes(pg_dsn, "float8", EDGE_DOUBLES)
    arr = pa.array(EDGE_DOUBLES, pa.float64())
    for start in (1, 5, 8, 11):
        assert_same(EDGE_DOUBLES[start:], expected[start:], pg_hash.hashfloat8(arr[start:]).to_pylist(),
                    f"hashfloat8(slice from {start})")
    chunked = pa.chunked_array([arr[:10], arr[10:10], arr[10:]])
    assert_same(EDGE_DOUBLES, expected, pg_hash.hashfloat8(chunked).to_pylist(), "hashfloat8(chunked)")
    assert pg_hash.hashfloat8(pa.array([], pa.float64())).to_pylist() == []
    with pytest.raises(TypeError):
        pg_hash.hashfloat4(arr)  # doubles would need PostgreSQL's rounding to float4 first


def test_hashfloat8_random(pg_dsn):
    rng = np.random.default_rng(99)
    bits = rng.integers(0, 2 ** 64, 2000, dtype=np.uint64, endpoint=False)  # any pattern: NaN payloads, subnormals
    typical = rng.standard_normal(2000) * 10.0 ** rng.integers(-300, 300, 2000)
    prices = np.round(rng.uniform(0, 5000, 2000), 2)
    values = bits.view(np.float64).tolist() + typical.tolist() + prices.tolist()
    values[::101] = [None] * len(values[::101])
    check(pg_dsn, "float8", values)


def test_hashfloat4_random(pg_dsn):
    rng = np.random.default_rng(98)
    bits = rng.integers(0, 2 ** 32, 3000, dtype=np.uint64).astype(np.uint32)
    with np.errstate(invalid="ignore"):  # widening signalling NaNs raises the FPU's invalid flag
        values = bits.view(np.float32).astype(np.float64).tolist()
    values[::89] = [None] * len(values[::89])
    check(pg_dsn, "float4", values)


def test_duckdb_nulls_and_reregistration():
    conn = duckdb.connect()
    try:
        pg_hash.register(conn)
        pg_hash.register(conn)
        row = conn.execute(
            "SELECT hc_pg_hashtext(NULL::VARCHAR), hc_pg_hashfloat8(NULL::DOUBLE), hc_pg_hashfloat4(NULL::FLOAT), "
            "hc_pg_hashfloat8(-0.0::DOUBLE), hc_pg_hashtext('')"
        ).fetchone()
        assert row == (None, None, None, 0, pg_hash.hashtext(pa.array([""])).to_pylist()[0])
        assert [d[1] for d in conn.execute("DESCRIBE SELECT hc_pg_hashtext('a') AS h").fetchall()] == ["INTEGER"]
    finally:
        conn.close()


def test_hashint8_and_timestamp_hash_match_postgres(pg_dsn):
    """timestamp_hash of the lake's timestamps (microseconds since 1970, DuckDB's ±infinity)
    equals PostgreSQL's of the same values (since 2000, its own ±infinity)."""
    import duckdb
    import psycopg
    import pyarrow as pa

    from hotcold.pipeline import pg_hash

    ints = [0, 1, -1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63), 123456789012, -987654321098765]
    stamps = ["2000-01-01 00:00:00.000001", "1970-01-01", "1901-12-13 20:45:52", "2400-02-29 23:59:59.999999", "0001-01-01",
              "9999-12-31 23:59:59.999999", "infinity", "-infinity", "1999-12-31 23:59:59.999999"]
    with psycopg.connect(pg_dsn, options="-c TimeZone=UTC") as conn:
        want_ints = [conn.execute("select hashint8(%s::bigint)", [v]).fetchone()[0] for v in ints]
        want_ts = [conn.execute("select timestamp_hash(%s::timestamp)", [v]).fetchone()[0] for v in stamps]
    assert pg_hash.hashint8(pa.array(ints + [None], pa.int64())).to_pylist() == want_ints + [None]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    pg_hash.register(con)
    got = [con.execute("select hc_pg_timestamp_hash(?::TIMESTAMP), hc_pg_timestamptz_hash(?::TIMESTAMPTZ)", [v, v]).fetchone() for v in stamps]
    assert [g[0] for g in got] == want_ts and [g[1] for g in got] == want_ts
