"""The benchmark's data: market_data shaped like a desk's, sized by --rows.

40% daily bars (a few thousand symbols over about five years of weekdays), 60% 1min bars
(7 trading hours a day over the last four weeks), inserted in time order as a feed would,
with the primary key and an index on ts: the table a user would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

LAST_DAY = date(2026, 10, 30)
AS_OF = LAST_DAY + timedelta(days=1)
MINUTE_WEEKDAYS = 20
MINUTES_PER_DAY = 7 * 60

TABLE = """CREATE TABLE {rel} (symbol text NOT NULL, interval text NOT NULL, ts timestamptz NOT NULL,
  open double precision, high double precision, low double precision, close double precision,
  volume bigint, PRIMARY KEY (symbol, interval, ts));
CREATE INDEX ON {rel} (ts)"""

# One day's bar per symbol, prices a smooth function of symbol and time so every run is alike.
BARS = """INSERT INTO {rel}
SELECT 'S' || lpad(i::text, 5, '0'), %(interval)s, d,
       20 + i %% 480 + sin(extract(epoch FROM d) / 86400 + i),
       20 + i %% 480 + sin(extract(epoch FROM d) / 86400 + i) + 1,
       20 + i %% 480 + sin(extract(epoch FROM d) / 86400 + i) - 1,
       20 + i %% 480 + cos(extract(epoch FROM d) / 86400 + i),
       (1000 + (i * 7919 + extract(epoch FROM d)::bigint) %% 100000)
  FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, %(step)s::interval) d
 CROSS JOIN generate_series(0, %(symbols)s - 1) i
 WHERE extract(isodow FROM d) <= %(max_dow)s AND extract(hour FROM d) BETWEEN %(from_hour)s AND %(to_hour)s"""


@dataclass(frozen=True)
class Shape:
    rows: int
    daily_symbols: int
    daily_weekdays: int
    minute_symbols: int

    @classmethod
    def for_rows(cls, rows: int) -> "Shape":
        daily = rows * 4 // 10
        symbols = max(20, min(3000, daily // 1300))
        minute_symbols = max(1, (rows - daily) // (MINUTE_WEEKDAYS * MINUTES_PER_DAY))
        return cls(rows, symbols, max(60, daily // symbols), minute_symbols)

    @property
    def first_day(self) -> date:
        return weekdays_back(LAST_DAY, self.daily_weekdays)

    @property
    def minute_first_day(self) -> date:
        return weekdays_back(LAST_DAY, MINUTE_WEEKDAYS)

    def describe(self) -> str:
        return (f"{self.daily_symbols:,} symbols x {self.daily_weekdays:,} weekdays of daily bars "
                f"({self.first_day} to {LAST_DAY}) + {self.minute_symbols:,} symbols x {MINUTE_WEEKDAYS} days of 1min bars")


def weekdays_back(last: date, n: int) -> date:
    d, seen = last, 0
    while True:
        if d.weekday() < 5:
            seen += 1
            if seen == n:
                return d
        d -= timedelta(days=1)


def create_table(pg, rel: str) -> None:
    for statement in TABLE.format(rel=rel).split(";"):
        pg.execute(statement)


def fill_market_data(pg, rel: str, shape: Shape) -> None:
    create_table(pg, rel)
    insert_bars(pg, rel, "1day", shape.daily_symbols, shape.first_day, LAST_DAY, "1 day")
    insert_bars(pg, rel, "1min", shape.minute_symbols, shape.minute_first_day, LAST_DAY + timedelta(days=1), "1 minute",
                from_hour=14, to_hour=20)
    pg.execute(f"VACUUM ANALYZE {rel}")


def fill_calendar_days(pg, rel: str, symbols: int, first: date, last: date, *, partitioned: bool = False) -> None:
    """Daily bars on every calendar day, so that each day of a rotation ages the same rows.
    partitioned=True: the table is range-partitioned by day on ts, a partition a day from
    `first` to a week after `last`, and a default partition."""
    if partitioned:
        pg.execute(TABLE.split(";")[0].format(rel=rel) + " PARTITION BY RANGE (ts)")
        pg.execute(f"CREATE INDEX ON {rel} (ts)")
        day = first
        while day <= last + timedelta(days=7):
            pg.execute(f"CREATE TABLE {rel}_{day:%Y%m%d} PARTITION OF {rel} FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')")
            day += timedelta(days=1)
        pg.execute(f"CREATE TABLE {rel}_default PARTITION OF {rel} DEFAULT")
    else:
        create_table(pg, rel)
    insert_bars(pg, rel, "1day", symbols, first, last, "1 day", max_dow=7)
    pg.execute(f"VACUUM ANALYZE {rel}")


def insert_bars(pg, rel, interval, symbols, first, last, step, *, max_dow=5, from_hour=0, to_hour=23) -> None:
    pg.execute(BARS.format(rel=rel), {"interval": interval, "symbols": symbols, "first": first, "last": last, "step": step,
                                      "max_dow": max_dow, "from_hour": from_hour, "to_hour": to_hour})
