"""The four cold queries of the query engine, on the lake and on PostgreSQL with its indexes.

Both sides return the same rows (checked), fetched to the client; each is timed best of
--repeat in one warm process, the engine's result cache off. Each side has its indexes:
PostgreSQL its primary key and the index on ts, the lake its history index (which the
one-symbol query reads; the others read the day files).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from data import LAST_DAY

UTC = timezone.utc

PG_BARS = """SELECT symbol, date_trunc(%s, ts) AS ts, (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high,
  min(low) AS low, (array_agg(close ORDER BY ts DESC))[1] AS close, sum(volume) AS volume
  FROM {rel} WHERE interval = %s AND ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 1, 2"""


def midnight(d) -> datetime:
    return datetime.combine(d, datetime.min.time(), UTC)


def cases(engine, rel: str, cutoff: datetime, router=None):
    """History only: the lake holds the rows before the cutoff, PostgreSQL's copy all of them."""
    day = midnight(LAST_DAY - timedelta(days=63))  # a Friday, long aged
    year = datetime(LAST_DAY.year - 1, 1, 1, tzinfo=UTC)
    next_year = year.replace(year=year.year + 1)
    week, week_end = midnight(LAST_DAY - timedelta(days=6)), midnight(LAST_DAY + timedelta(days=1))
    bars = PG_BARS.format(rel=rel)
    sym = "S00007"
    return [
        ("one symbol's daily history", ">= 0.5x (at most 2x slower)",
         lambda pg: pg.execute(f"SELECT * FROM {rel} WHERE symbol = %s AND interval = '1day' AND ts < %s ORDER BY ts", [sym, cutoff]).fetchall(),
         lambda: engine.query("market_data", end=cutoff, symbols=[sym], where={"interval": "1day"})),
        ("one day across all symbols", "(no target)",
         lambda pg: pg.execute(f"SELECT * FROM {rel} WHERE ts >= %s AND ts < %s ORDER BY ts, symbol, interval", [day, day + timedelta(days=1)]).fetchall(),
         lambda: engine.query("market_data", day, day + timedelta(days=1))),
        # The router holds the tiers lock (lock.TiersReadLock) from its plan to its last row:
        # this line against the one above is what consistency during a rotation costs.
        ("one day across all symbols, via StorageRouter", "within 10% of the engine's",
         lambda pg: pg.execute(f"SELECT * FROM {rel} WHERE ts >= %s AND ts < %s ORDER BY ts, symbol, interval", [day, day + timedelta(days=1)]).fetchall(),
         lambda: router.query("market_data", day, day + timedelta(days=1))),
        ("monthly OHLC per symbol for a year", ">= 10x faster",
         lambda pg: pg.execute(bars, ["month", "1day", year, next_year]).fetchall(),
         lambda: engine.aggregate("market_data", "1mo", start=year, end=next_year, where={"interval": "1day"})),
        ("a week of 1min bars resampled to 1h", ">= 10x faster",
         lambda pg: pg.execute(bars, ["hour", "1min", week, week_end]).fetchall(),
         lambda: engine.aggregate("market_data", "1h", start=week, end=week_end, where={"interval": "1min"})),
    ]


def compare(engine, pg, rel: str, cutoff: datetime, repeat: int, log, router=None) -> list[dict]:
    results = []
    for name, target, on_pg, on_lake in cases(engine, rel, cutoff, router):
        if router is None and "StorageRouter" in name:
            continue
        n_pg, t_pg = best(lambda: len(on_pg(pg)), repeat)
        n_lake, t_lake = best(lambda: on_lake().num_rows, repeat)
        if n_pg != n_lake:
            raise SystemExit(f"{name}: PostgreSQL returned {n_pg} rows, the lake {n_lake}: the benchmark compares different answers")
        results.append({"query": name, "rows": n_pg, "postgres_s": t_pg, "lake_s": t_lake, "ratio": t_pg / t_lake, "target": target})
        log(f"cold: {name}: {n_pg:,} rows, PostgreSQL {t_pg * 1000:.1f} ms, lake {t_lake * 1000:.1f} ms")
    return results


def best(fn, repeat: int) -> tuple[int, float]:
    n, times = 0, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return n, min(times)
