"""Cold queries: the lake (ColdStorageQueryEngine) against PostgreSQL on the same rows.

    .venv/bin/python bench/cold_queries.py [--dsn 'host=127.0.0.1 user=postgres'] [--symbols 500] [--years 3]

Creates a database of its own, fills `market_data` with daily bars for every symbol over the
years plus a week of 1min bars, copies it to `market_data_pg` (primary key and an index on ts:
PostgreSQL at its best), rotates `market_data` whole into a lake, then times four queries on
each side, best of --repeat runs, results fetched to the client. The engine's cache is off.
Prints the ratios (PostgreSQL time / lake time: above 1 the lake is faster) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

import hotcold  # noqa: E402
from hotcold.query_engine import ColdStorageQueryEngine  # noqa: E402
from hotcold.rotation import rotate  # noqa: E402

LAST_DAY = date(2026, 10, 30)
UTC = timezone.utc

FILL = """
CREATE TABLE market_data (symbol text NOT NULL, interval text NOT NULL, ts timestamptz NOT NULL,
  open double precision, high double precision, low double precision, close double precision,
  volume bigint, PRIMARY KEY (symbol, interval, ts));
INSERT INTO market_data
SELECT s.symbol, '1day', d, o, greatest(o, c) * 1.01, least(o, c) * 0.99, c, (1000 + r * 100000)::bigint
  FROM (SELECT 'S' || lpad(i::text, 5, '0') AS symbol, 20 + (i * 37) %% 480 AS base FROM generate_series(0, %(symbols)s - 1) i) s,
       LATERAL (SELECT d, s.base * (1 + sin(extract(epoch FROM d) / 864000 + s.base) / 10) AS o,
                       s.base * (1 + sin(extract(epoch FROM d) / 864000 + s.base + 0.1) / 10) AS c, random() AS r
                  FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') d
                 WHERE extract(isodow FROM d) <= 5) v;
INSERT INTO market_data
SELECT s.symbol, '1min', d, o, o * 1.001, o * 0.999, o * (1 + (r - 0.5) / 500), (10 + r * 1000)::bigint
  FROM (SELECT 'S' || lpad(i::text, 5, '0') AS symbol, 20 + (i * 37) %% 480 AS base FROM generate_series(0, %(minute_symbols)s - 1) i) s,
       LATERAL (SELECT d, s.base * (1 + sin(extract(epoch FROM d) / 8640 + s.base) / 100) AS o, random() AS r
                  FROM generate_series(%(week)s::timestamptz, %(last)s::timestamptz + interval '1 day' - interval '1 minute', interval '1 minute') d
                 WHERE extract(isodow FROM d) <= 5 AND extract(hour FROM d) BETWEEN 14 AND 20) v;
CREATE TABLE market_data_pg AS SELECT * FROM market_data;
ALTER TABLE market_data_pg ADD PRIMARY KEY (symbol, interval, ts);
CREATE INDEX ON market_data_pg (ts);
VACUUM ANALYZE market_data_pg;
"""

PG_BARS = """SELECT symbol, date_trunc(%s, ts) AS ts, (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high,
  min(low) AS low, (array_agg(close ORDER BY ts DESC))[1] AS close, sum(volume) AS volume
  FROM market_data_pg WHERE interval = %s AND ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 1, 2"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", default=os.environ.get("HOTCOLD_BENCH_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"))
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--minute-symbols", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "cold_queries.json")
    args = ap.parse_args()

    db = f"hotcold_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        run(args, make_conninfo(args.dsn, dbname=db))
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))


def run(args, dsn: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="hotcold_bench_"))
    try:
        measure(args, dsn, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args, dsn: str, work: Path) -> None:
    first = LAST_DAY - timedelta(days=365 * args.years - 1)
    week = LAST_DAY - timedelta(days=6)
    log(f"filling PostgreSQL: {args.symbols} symbols x {args.years} years of daily bars + {args.minute_symbols} symbols x 1 week of 1min bars")
    with psycopg.connect(dsn, autocommit=True) as pg:
        params = {"symbols": args.symbols, "minute_symbols": args.minute_symbols, "first": first, "last": LAST_DAY, "week": week}
        for statement in filter(str.strip, FILL.split(";")):
            pg.execute(statement, params if "%(" in statement else None)
        rows = pg.execute("SELECT count(*) FROM market_data").fetchone()[0]

    cfg_path = work / "unified_config.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "storage": {
            "lifecycle": {"hot_days": 1, "hot_intervals": ["1day"]},
            "hot_store": {"type": "postgres", "dsn": dsn, "schema": "public"},
            "lake": {"root": str(work / "lake" / "cold_storage")},
            "logging": {"file": str(work / "rotation.log")},
        },
        "tables": {"market_data": {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"}},
    }))
    config = hotcold.load_config(cfg_path)
    log(f"rotating all {rows:,} rows into the lake at {config.lake_root}")
    t0 = time.perf_counter()
    rotate(config, as_of=LAST_DAY + timedelta(days=2))
    log(f"rotation took {time.perf_counter() - t0:.1f} s")

    engine = ColdStorageQueryEngine(config, cache_mb=0)
    day = datetime.combine(LAST_DAY - timedelta(days=30), datetime.min.time(), UTC)
    year_start = datetime(LAST_DAY.year - 1, 1, 1, tzinfo=UTC)
    week_start = datetime.combine(week, datetime.min.time(), UTC)
    week_end = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), UTC)
    sym = "S00007"
    cases = [
        ("one symbol's full daily history",
         lambda pg: pg.execute("SELECT * FROM market_data_pg WHERE symbol = %s AND interval = '1day' ORDER BY ts", [sym]).fetchall(),
         lambda: engine.query("market_data", symbols=[sym], where={"interval": "1day"})),
        ("one day across all symbols",
         lambda pg: pg.execute("SELECT * FROM market_data_pg WHERE ts >= %s AND ts < %s ORDER BY ts, symbol, interval", [day, day + timedelta(days=1)]).fetchall(),
         lambda: engine.query("market_data", day, day + timedelta(days=1))),
        ("monthly OHLC per symbol for a year",
         lambda pg: pg.execute(PG_BARS, ["month", "1day", year_start, year_start.replace(year=year_start.year + 1)]).fetchall(),
         lambda: engine.aggregate("market_data", "1mo", start=year_start, end=year_start.replace(year=year_start.year + 1), where={"interval": "1day"})),
        ("a week of 1min bars resampled to 1h",
         lambda pg: pg.execute(PG_BARS, ["hour", "1min", week_start, week_end]).fetchall(),
         lambda: engine.aggregate("market_data", "1h", start=week_start, end=week_end, where={"interval": "1min"})),
    ]
    results = []
    with psycopg.connect(dsn) as pg:
        pg.execute("SET TimeZone = 'UTC'")
        for name, on_pg, on_lake in cases:
            n_pg, t_pg = best(lambda: len(on_pg(pg)), args.repeat)
            n_lake, t_lake = best(lambda: on_lake().num_rows, args.repeat)
            if n_pg != n_lake:
                raise SystemExit(f"{name}: PostgreSQL returned {n_pg} rows, the lake {n_lake}: the benchmark compares different answers")
            results.append({"query": name, "rows": n_pg, "postgres_s": t_pg, "lake_s": t_lake, "ratio": t_pg / t_lake})
            log(f"{name}: {n_pg:,} rows, PostgreSQL {t_pg * 1000:.1f} ms, lake {t_lake * 1000:.1f} ms")
    engine.close()

    print(f"\nCold queries: {rows:,} rows, {args.symbols} symbols, {args.years} years, best of {args.repeat}; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print(f"{'query':<40} {'rows':>8} {'PostgreSQL':>11} {'lake':>9} {'PG / lake':>10}")
    for r in results:
        print(f"{r['query']:<40} {r['rows']:>8,} {r['postgres_s'] * 1000:>9.1f}ms {r['lake_s'] * 1000:>7.1f}ms {r['ratio']:>9.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "symbols": args.symbols, "years": args.years, "cores": os.cpu_count(), "results": results}, indent=2) + "\n")
    print(f"\nJSON: {args.json}")


def best(fn, repeat: int) -> tuple[int, float]:
    n, times = 0, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return n, min(times)


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
