"""Cold queries against real PostgreSQL, a real lake and real dbt: the engine, the router,
the analysts' catalog and `hotcold query` / `hotcold sql`.

One PostgreSQL project is rotated once for the module. Before the rotation every row is
copied to `ref_<table>` in PostgreSQL: the truth each answer is compared with. One archived
row is then put back into the hot store with a new close, as a row sits in both tiers between a
rotation's publish and its delete; the hot version must win, once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotcold
from hotcold import ColdStorageQueryEngine, StorageRouter
from hotcold.errors import HotColdError
from hotcold.ops.demo import fill_demo_data
from hotcold.ops.rotation import rotate
from support import scratch_database, write_config

AS_OF = date(2026, 11, 25)
CUTOFF = datetime(2026, 10, 26, tzinfo=timezone.utc)  # AS_OF - 30 days
MD = "symbol, interval, ts, open, high, low, close, volume, vwap"
FEAT = "symbol, feature, ts, value"
SYMBOLS = [f"SYM{i:04d}" for i in range(6)]
UTC = timezone.utc


@pytest.fixture(scope="module")
def project(pg_server_dsn, tmp_path_factory):
    with scratch_database(pg_server_dsn) as dsn:
        config = hotcold.load_config(write_config(tmp_path_factory.mktemp("query"), "postgres", dsn))
        fill_demo_data(config, symbols=6, years=2, as_of=AS_OF)
        with pg(config) as conn:
            conn.execute("CREATE TABLE ref_market_data AS SELECT * FROM market_data; CREATE TABLE ref_features AS SELECT * FROM features")
        report = rotate(config, as_of=AS_OF, full=True)
        with pg(config) as conn:
            # An archived row back in the hot store, newer: the "in both tiers" case.
            both = conn.execute("SELECT symbol, interval, ts FROM ref_market_data WHERE interval = '1day' AND ts < %s ORDER BY ts DESC LIMIT 1", [CUTOFF - timedelta(days=3)]).fetchone()
            conn.execute(f"INSERT INTO market_data ({MD}) SELECT {MD.replace('close', 'close + 1000')} FROM ref_market_data WHERE (symbol, interval, ts) = (%s, %s, %s)", both)
            conn.execute("UPDATE ref_market_data SET close = close + 1000 WHERE (symbol, interval, ts) = (%s, %s, %s)", both)
        yield config, report, both


def pg(config):
    conn = psycopg.connect(config.hot.dsn, autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def ref_rows(config, table, cols, start, end, symbols=None, extra="", params=()):
    where, args = ["ts >= %s", "ts < %s"], [start, end]
    if symbols is not None:
        where.append("symbol = ANY(%s)")
        args.append(list(symbols))
    with pg(config) as conn:
        return sorted(conn.execute(f"SELECT {cols} FROM ref_{table} WHERE {' AND '.join(where)} {extra}", [*args, *params]).fetchall(), key=repr)


def arrow_rows(table) -> list[tuple]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


# -- results equal PostgreSQL's -------------------------------------------------------------

moments = st.builds(
    lambda days, hours: datetime.combine(AS_OF, datetime.min.time(), UTC) + timedelta(days=days, hours=hours),
    st.integers(-760, 3), st.sampled_from([0, 0, 0, 9, 15, 23]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=moments, length=st.integers(1, 500), unit=st.sampled_from(["hours", "days"]),
       symbols=st.one_of(st.none(), st.lists(st.sampled_from(SYMBOLS + ["NOPE"]), min_size=1, max_size=4, unique=True)))
@pytest.mark.slow
def test_router_equals_postgres_for_any_range_and_symbols(project, start, length, unit, symbols):
    config, _, _ = project
    end = start + timedelta(**{unit: length})
    router = _router(config)
    got = router.query("market_data", start, end, symbols=symbols)
    want = ref_rows(config, "market_data", MD, start, end, symbols)
    assert arrow_rows(got.table) == sorted(want, key=repr)
    keys = [(r["symbol"], r["interval"], r["ts"]) for r in got.table.select(["symbol", "interval", "ts"]).to_pylist()]
    assert len(keys) == len(set(keys)), "a key appears twice"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=moments, days=st.integers(1, 400), symbols=st.one_of(st.none(), st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True)))
def test_engine_equals_postgres_before_the_cutoff(project, start, days, symbols):
    config, _, _ = project
    end = min(start + timedelta(days=days), CUTOFF - timedelta(days=5))
    if start >= end:
        return
    got = _engine(config).query("features", start, end, symbols=symbols)
    assert arrow_rows(got) == sorted(ref_rows(config, "features", FEAT, start, end, symbols), key=repr)


def test_a_row_in_both_tiers_shows_once_in_its_hot_version(project):
    config, _, both = project
    day = both[2].replace(hour=0)
    res = _router(config).query("market_data", day, day + timedelta(days=1), symbols=[both[0]], where={"interval": "1day"})
    assert res.tiers == ("hot", "cold")
    assert res.num_rows == 1
    hot_close = ref_rows(config, "market_data", "close", day, day + timedelta(days=1), [both[0]], "AND interval = '1day'")[0][0]
    assert res.table.column("close").to_pylist() == [hot_close]
    # The engine alone sees the lake's (older) version.
    cold = _engine(config).query("market_data", day, day + timedelta(days=1), symbols=[both[0]], where={"interval": "1day"})
    assert cold.column("close").to_pylist() == [pytest.approx(hot_close - 1000, rel=1e-12)]


# -- routing ----------------------------------------------------------------------------------

def test_router_sends_each_range_to_the_tiers_that_hold_it(project):
    config, _, _ = project
    router = _router(config)
    inside = router.query("features", CUTOFF + timedelta(days=2), CUTOFF + timedelta(days=9))
    before = router.query("features", CUTOFF - timedelta(days=200), CUTOFF - timedelta(days=100))
    across = router.query("features", CUTOFF - timedelta(days=7), CUTOFF + timedelta(days=7))
    assert (inside.tiers, before.tiers, across.tiers) == (("hot",), ("cold",), ("hot", "cold"))
    assert inside.route.plan.files == () and before.route.hot_oldest == CUTOFF
    for res, (s, e) in ((inside, (CUTOFF + timedelta(days=2), CUTOFF + timedelta(days=9))), (across, (CUTOFF - timedelta(days=7), CUTOFF + timedelta(days=7)))):
        assert arrow_rows(res.table) == sorted(ref_rows(config, "features", FEAT, s, e), key=repr)
    assert router.query("features", "2001-01-01", "2001-02-01").tiers == ()
    assert router.query("features", "2001-01-01", "2001-02-01").num_rows == 0
    # Forced tiers, as `hotcold query --tier` does.
    assert router.query("features", CUTOFF - timedelta(days=7), CUTOFF + timedelta(days=7), tier="cold").num_rows == len(
        ref_rows(config, "features", FEAT, CUTOFF - timedelta(days=7), CUTOFF))


def test_results_convert_to_pandas(project):
    config, _, _ = project
    df = _router(config).query("market_data", CUTOFF - timedelta(days=10), CUTOFF + timedelta(days=3), columns=["symbol", "ts", "close"]).to_pandas()
    assert list(df.columns) == ["symbol", "ts", "close"] and len(df) > 0
    assert str(df["ts"].dt.tz) in ("UTC", "Etc/UTC")
    assert _engine(config).query("features", "2026-01-01", "2026-01-08").to_pandas()["value"].notna().all()


# -- aggregation: bars resampled ------------------------------------------------------------

PG_BARS = """SELECT symbol, date_trunc(%s, ts) AS b, (array_agg(open ORDER BY ts))[1], max(high), min(low),
                    (array_agg(close ORDER BY ts DESC))[1], sum(volume)::bigint
               FROM ref_market_data WHERE interval = %s AND ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 1, 2"""


def _bars(table):
    return [(r["symbol"], r["ts"], r["open"], r["high"], r["low"], r["close"], int(r["volume"])) for r in table.to_pylist()]


def test_monthly_ohlc_for_a_year_equals_postgres(project):
    config, _, _ = project
    start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    got = _engine(config).aggregate("market_data", "1mo", start=start, end=end, where={"interval": "1day"})
    with pg(config) as conn:
        want = conn.execute(PG_BARS, ["month", "1day", start, end]).fetchall()
    assert _bars(got) == want and len(want) == 6 * 12


def test_a_week_of_1min_bars_resampled_to_1h_equals_postgres(project):
    config, _, _ = project
    start, end = CUTOFF + timedelta(days=20), datetime.combine(AS_OF, datetime.min.time(), UTC)
    res = _router(config).aggregate("market_data", "1h", start=start, end=end, where={"interval": "1min"})
    with pg(config) as conn:
        want = conn.execute(PG_BARS, ["hour", "1min", start, end]).fetchall()
    assert "cold" in res.tiers, "1min bars are not a hot interval: the lake holds them even for recent days"
    assert _bars(res.table) == want and want


def _bucket_of(day: date, every: str) -> date:
    """time_bucket's buckets, written out: N days or weeks from Monday 2000-01-03, N months
    or years from 2000-01-01."""
    n, unit = int(every.rstrip("dwmoy")), every.lstrip("0123456789")
    if unit in ("d", "w"):
        width = n * (7 if unit == "w" else 1)
        origin = date(2000, 1, 3)
        return origin + timedelta(days=(day - origin).days // width * width)
    months = n * (12 if unit == "y" else 1)
    index = ((day.year - 2000) * 12 + day.month - 1) // months * months
    return date(2000 + index // 12, index % 12 + 1, 1)


def _bars_by_hand(config, every, start, end):
    rows = ref_rows(config, "market_data", "symbol, ts, open, high, low, close, volume", start, end, extra="AND interval = '1day'")
    bars: dict = {}
    for symbol, ts, o, h, lo, c, v in sorted(rows, key=lambda r: (r[0], r[1])):
        key = (symbol, datetime.combine(_bucket_of(ts.astimezone(UTC).date(), every), datetime.min.time(), UTC))
        bar = bars.get(key)
        bars[key] = [o, h, lo, c, v] if bar is None else [bar[0], max(bar[1], h), min(bar[2], lo), c, bar[4] + v]
    return [(*key, *bar) for key, bar in sorted(bars.items())]


@pytest.mark.parametrize("every", ["1d", "3d", "1w", "2w", "1mo", "3mo", "1y"])
def test_buckets_of_whole_days_equal_buckets_made_by_hand_in_both_tiers(project, every):
    # Cold rows take such buckets from their day file's day, hot rows from their time: both
    # must land where time_bucket puts the row, and the row in both tiers count once.
    config, _, both = project
    start, end = datetime(2024, 11, 13, 7, tzinfo=UTC), datetime.combine(AS_OF, datetime.min.time(), UTC)
    res = _router(config).aggregate("market_data", every, start=start, end=end, where={"interval": "1day"})
    assert res.tiers == ("hot", "cold")
    want = _bars_by_hand(config, every, start, end)
    assert _bars(res.table) == want and len(want) > 6
    # The lake alone, up to the row whose hot version is newer.
    cold = _engine(config).aggregate("market_data", every, start=start, end=both[2], where={"interval": "1day"})
    assert _bars(cold) == _bars_by_hand(config, every, start, both[2])


# -- pruning and cache ----------------------------------------------------------------------

def test_a_one_week_query_opens_only_that_weeks_files(project):
    config, _, _ = project
    engine = _engine(config)
    start = date(2025, 3, 3)
    plan = engine.plan("market_data", start, start + timedelta(days=7))
    every_file = sorted((config.lake_root / "market_data").rglob("*.parquet"))
    that_week = [p for p in every_file if start <= datetime.strptime(p.stem[-8:], "%Y%m%d").date() < start + timedelta(days=7)]
    assert list(plan.files) == that_week and len(that_week) == 5 and len(every_file) > 400
    # DuckDB's own profile of the engine's query: its scan read exactly those files, with the
    # time range and the symbol pushed into it. (For whole days DuckDB drops the time filter
    # itself: each file's statistics prove it true.)
    report = engine.explain("market_data", f"{start}T09:30", start + timedelta(days=7), symbols=["SYM0001"], columns=["ts", "close"])
    (scan,) = report["scans"]
    assert scan["files_read"] == 5 and sorted(scan["files"]) == [str(p) for p in that_week]
    assert "ts>='2025-03-03 09:30:00+00'" in scan["filters"] and "symbol='SYM0001'" in scan["filters"]


@pytest.mark.slow
def test_cache_serves_repeats_and_sees_new_files_after_a_rotation(pg_dsn, tmp_path):
    config = hotcold.load_config(write_config(tmp_path, "postgres", pg_dsn))
    fill_demo_data(config, symbols=3, years=1, as_of=AS_OF)
    rotate(config, as_of=AS_OF)
    engine = ColdStorageQueryEngine(config)
    args = ("market_data", CUTOFF - timedelta(days=10), CUTOFF + timedelta(days=10))
    first = engine.query(*args, where={"interval": "1day"})
    again = engine.query(*args, where={"interval": "1day"})
    info = engine.cache_info()
    assert again is first and (info.hits, info.misses) == (1, 1)
    rotate(config, as_of=AS_OF + timedelta(days=7))  # publishes the next days
    after = engine.query(*args, where={"interval": "1day"})
    assert engine.cache_info().misses == 2
    assert after.num_rows > first.num_rows
    assert max(after.column("ts").to_pylist()) >= CUTOFF
    # Other queries still hit: only what the rotation changed is recomputed.
    older = ("market_data", CUTOFF - timedelta(days=200), CUTOFF - timedelta(days=100))
    engine.query(*older)
    engine.query(*older)
    assert engine.cache_info().hits == 2


def test_streaming_returns_the_same_rows_in_batches(project):
    config, _, _ = project
    engine = _engine(config)
    reader = engine.query_batches("market_data", "2025-01-01", "2026-01-01", batch_rows=500)
    batches = list(reader)
    assert len(batches) > 1
    assert sum(b.num_rows for b in batches) == engine.query("market_data", "2025-01-01", "2026-01-01").num_rows


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"table": "nope"}, "unknown table 'nope'"),
    ({"columns": ["close; drop table market_data"]}, "unknown column"),
    ({"symbols": ["A'; DROP TABLE x; --"]}, "is not a ticker"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, "is not before end"),
    ({"start": "last tuesday"}, "is not a date or time"),
    ({"where": {"close": ("~~", 1)}}, "unknown operator"),
    ({"where": {"no_such": 1}}, "unknown column"),
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
])
@pytest.mark.slow
def test_bad_query_input_is_one_clear_error(project, kwargs, message):
    config, _, _ = project
    args = {"table": "market_data", "start": "2025-01-01", "end": "2025-02-01", **kwargs}
    with pytest.raises(HotColdError, match=message.replace("(", r"\(")):
        _router(config).query(**args)


def test_bad_aggregate_input_is_one_clear_error(project):
    config, _, _ = project
    engine = _engine(config)
    with pytest.raises(HotColdError, match="not a bucket width"):
        engine.aggregate("market_data", "fortnightly", start="2025-01-01", end="2025-02-01")
    with pytest.raises(HotColdError, match="unknown aggregate"):
        engine.aggregate("market_data", "1d", metrics={"close": "mode"}, start="2025-01-01", end="2025-02-01")
    with pytest.raises(HotColdError, match="no open/high/low/close"):
        engine.aggregate("features", "1d", start="2025-01-01", end="2025-02-01")


def test_ranges_accept_dates_datetimes_and_zones(project):
    config, _, _ = project
    engine = _engine(config)
    a = engine.query("features", date(2025, 5, 5), date(2025, 5, 6))
    b = engine.query("features", "2025-05-05T00:00:00Z", "2025-05-06")
    c = engine.query("features", "2025-05-04T20:00", "2025-05-05T20:00", tz="America/New_York")
    assert a.num_rows == b.num_rows == c.num_rows > 0


# -- the analysts' catalog -------------------------------------------------------------------

def test_rotation_built_the_catalog_and_cold_views_open_alone(project, tmp_path):
    config, report, both = project
    assert config.catalog_path.exists() and any("catalog views built" in n for n in report.notes)
    script = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(config.catalog_path)!r}, read_only=True)\n"
        "print(con.execute('select count(*), min(year), max(year) from cold.market_data').fetchone())\n"
        "print(con.execute(\"select typeof(year), typeof(month), typeof(day) from cold.features limit 1\").fetchone())\n"
        "try:\n    con.execute('select count(*) from unified.market_data').fetchone()\nexcept duckdb.Error as e:\n    print('unified needs hot:', 'hot' in str(e))\n"
        "print('hotcold' in sys.modules)\n"
    )
    # A fresh interpreter in isolated mode, elsewhere, with no PostgreSQL reachable.
    env = {"PATH": os.environ["PATH"], "PGHOST": "/nonexistent", "PGPORT": "1"}
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    with pg(config) as conn:
        archived = conn.execute("SELECT count(*) FROM ref_market_data").fetchone()[0] - conn.execute("SELECT count(*) FROM market_data").fetchone()[0] + 1
    assert lines[0] == f"({archived}, 2024, 2026)"
    assert lines[1:] == ["('INTEGER', 'INTEGER', 'INTEGER')", "unified needs hot: True", "False"]


def test_unified_view_holds_every_key_once_hot_winning(project):
    from hotcold.ops.catalog import open_catalog

    config, _, both = project
    con = open_catalog(config)
    try:
        n, keys = con.execute("select count(*), count(distinct (symbol, interval, ts)) from unified.market_data").fetchone()
        close = con.execute("select close from unified.market_data where symbol = $1 and interval = $2 and ts = $3", list(both)).fetchall()
    finally:
        con.close()
    with pg(config) as conn:
        want = conn.execute("SELECT count(*) FROM ref_market_data").fetchone()[0]
        ref_close = conn.execute("SELECT close FROM ref_market_data WHERE (symbol, interval, ts) = (%s, %s, %s)", both).fetchone()[0]
    assert n == keys == want
    assert close == [(ref_close,)]


@pytest.mark.slow
def test_catalog_empty_lake_gets_typed_placeholders_then_real_views(pg_dsn, tmp_path):
    from hotcold.ops import catalog

    config = hotcold.load_config(write_config(tmp_path, "postgres", pg_dsn))
    fill_demo_data(config, symbols=2, years=1, as_of=AS_OF)
    catalog.build(config)
    described = {v["view"]: v["comment"] for v in catalog.describe(config)}
    assert described["cold.market_data"].startswith(catalog.PLACEHOLDER)
    assert catalog.stale_tables(config) == []
    con = catalog.open_catalog(config, with_hot=False)
    assert con.execute("select count(*) from cold.market_data").fetchone() == (0,)
    assert ("year", "INTEGER") in con.execute("select column_name, data_type from information_schema.columns where table_schema = 'cold' and table_name = 'market_data'").fetchall()
    con.close()
    report = rotate(config, as_of=AS_OF)
    assert any("market_data" in n for n in report.notes)
    con = catalog.open_catalog(config, with_hot=False)
    assert con.execute("select count(*) from cold.market_data").fetchone()[0] == report.tables["market_data"].archived_rows > 0
    con.close()


# -- the command line ------------------------------------------------------------------------

def cli(config, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_") and k not in ("COLUMNS",)}
    done = subprocess.run([sys.executable, "-m", "hotcold.cli", *args, "--config", str(config.path)], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_cli_query_formats(project, tmp_path):
    config, _, _ = project
    rng = ["--start", "2026-10-20", "--end", "2026-10-30", "--symbol", "SYM0001,SYM0002", "--interval", "1day"]
    shown = cli(config, "query", "market_data", *rng, "--limit", "3")
    assert "more rows" in shown.stdout and "rows from hot+cold" in shown.stderr
    as_json = json.loads(cli(config, "query", "market_data", *rng, "--format", "json", "--columns", "symbol,ts,close").stdout)
    want = ref_rows(config, "market_data", "symbol, ts, close", datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC), ["SYM0001", "SYM0002"], "AND interval = '1day'")
    assert sorted(((r["symbol"], datetime.fromisoformat(r["ts"]), r["close"]) for r in as_json), key=repr) == want
    cli(config, "query", "market_data", *rng, "--format", "parquet", "--output", str(tmp_path / "q.parquet"))
    assert pq.read_table(tmp_path / "q.parquet").num_rows == len(want)
    cli(config, "query", "market_data", *rng, "--format", "csv", "--output", str(tmp_path / "q.csv"))
    assert len((tmp_path / "q.csv").read_text().splitlines()) == len(want) + 1
    bars = cli(config, "query", "market_data", "--start", "2025-01-01", "--end", "2026-01-01", "--interval", "1day", "--every", "1mo", "-s", "SYM0003", "--format", "csv")
    assert len(bars.stdout.strip().splitlines()) == 13 and bars.stdout.startswith('"symbol","ts","open","high","low","close","volume"')


def test_cli_sql_over_the_catalog(project):
    config, _, _ = project
    done = cli(config, "sql", "select count(*) as n from cold.market_data where year = 2025", "--format", "json")
    with pg(config) as conn:
        want = conn.execute("SELECT count(*) FROM ref_market_data WHERE ts >= '2025-01-01' AND ts < '2026-01-01'").fetchone()[0]
    assert json.loads(done.stdout) == [{"n": want}]
    unified = json.loads(cli(config, "sql", "select count(*) as n from unified.features", "--format", "json").stdout)
    with pg(config) as conn:
        assert unified == [{"n": conn.execute("SELECT count(*) FROM ref_features").fetchone()[0]}]


@pytest.mark.parametrize("args, message", [
    (["query", "nope"], "Error: unknown table 'nope'"),
    (["query", "market_data", "--symbol", "X';drop"], "is not a ticker"),
    (["query", "market_data", "--start", "2026-02-01", "--end", "2026-01-01"], "is not before end"),
    (["query", "market_data", "--columns", "close,(select 1)"], "unknown column"),
    (["query", "market_data", "--format", "parquet"], "--format parquet needs --output"),
    (["query", "market_data", "--every", "1 fortnight"], "not a bucket width"),
    (["query", "news", "--interval", "1min"], "has no interval column"),
    (["sql", "delete from cold.market_data"], "SQL failed"),
])
def test_cli_bad_input_is_one_line(project, args, message):
    config, _, _ = project
    done = cli(config, *args, check=False)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error:")


# -- helpers ------------------------------------------------------------------------------

_ENGINES: dict = {}


def _engine(config) -> ColdStorageQueryEngine:
    return _router(config).engine


def _router(config) -> StorageRouter:
    key = str(config.path)
    if key not in _ENGINES:
        _ENGINES[key] = StorageRouter(config, ColdStorageQueryEngine(config, cache_mb=0))
    return _ENGINES[key]
