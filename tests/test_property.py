"""The invariant under random histories (hypothesis, stateful): inserts, late rows, updates,
deletes, rotations, backfills and crashed rotations, in any order, against a real PostgreSQL.
After every step the query layer shows each key once, in its latest version, and the lake
verifies; nothing is lost and nothing is duplicated."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

import hotcold
from hotcold.errors import HotColdError
from hotcold.ops.rotation import rotate
from hotcold.ops.verify import verify
from hotcold.query.router import StorageRouter
from support import TALLY, union_rows, write_config

pytestmark = pytest.mark.property

START = date(2026, 11, 25)
SYMBOLS = ["AAA", "BBB", "CCC"]
CRASH_POINTS = ["stage.after", "export.after_copy", "export.after_verify", "publish.before_replace", "publish.between_days",
                "publish.after", "delete.before", "delete.in_transaction", "delete.after", "vacuum.before", "record.before"]
DDL = ("create table market_data (symbol text not null, interval text not null, ts timestamptz not null, close double precision, "
       "primary key (symbol, interval, ts))")
HEADER = "symbol,interval,ts,close\n"

keys = st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(["1day", "1min"]), st.integers(0, 40))


class Lifecycle(RuleBasedStateMachine):
    server_dsn: str = ""

    @initialize()
    def setup(self):
        self.db = f"hc_prop_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(self.db)))
        self.dsn = make_conninfo(self.server_dsn, dbname=self.db)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(DDL)
        self.dir = Path(tempfile.mkdtemp(prefix="hc_prop_"))
        self.config = hotcold.load_config(write_config(self.dir, "postgres", self.dsn, hot_days=10))
        self.as_of = START
        self.truth: dict[tuple, float] = {}
        self.n = 0

    def teardown(self):
        if hasattr(self, "db"):
            with psycopg.connect(self.server_dsn, autocommit=True) as conn:
                conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(self.db)))
            shutil.rmtree(self.dir, ignore_errors=True)

    def _ts(self, interval: str, back: int) -> datetime:
        day = datetime(self.as_of.year, self.as_of.month, self.as_of.day, tzinfo=timezone.utc) - timedelta(days=back)
        return day + (timedelta(hours=14, minutes=back) if interval == "1min" else timedelta())

    def _value(self) -> float:
        self.n += 1
        return float(self.n)

    def _hot_keys(self) -> set:
        with psycopg.connect(self.dsn) as conn:
            return {r for r in conn.execute("select symbol, interval, ts from market_data")}

    @rule(k=keys)
    def insert(self, k):
        """A new row, or a late row for a key already archived (a correction)."""
        key = (k[0], k[1], self._ts(k[1], k[2]))
        if key in self._hot_keys():
            return
        value = self._value()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("insert into market_data values (%s, %s, %s, %s)", [*key, value])
        self.truth[key] = value

    @rule(data=st.data())
    def update(self, data):
        hot = sorted(self._hot_keys())
        if not hot:
            return
        key = data.draw(st.sampled_from(hot))
        value = self._value()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("update market_data set close = %s where symbol = %s and interval = %s and ts = %s", [value, *key])
        self.truth[key] = value

    @rule(data=st.data())
    def delete(self, data):
        # Only rows whose one copy is hot. Deleting the hot copy of a key the lake also holds
        # (a late correction, or what a crashed run left in both tiers) leaves the lake's
        # version: the hot store's delete is not a delete of archived history.
        hot, lake = union_rows(self.config, "market_data", "symbol, interval, ts")
        hot = sorted(set(hot) - set(lake))
        if not hot:
            return
        key = data.draw(st.sampled_from(hot))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("delete from market_data where symbol = %s and interval = %s and ts = %s", [*key])
        self.truth.pop(key, None)

    @rule(days=st.integers(0, 3))
    def rotate(self, days):
        self.as_of += timedelta(days=days)
        rotate(self.config, as_of=self.as_of)

    @rule(point=st.sampled_from(CRASH_POINTS), days=st.integers(0, 2))
    def crashed_rotation(self, point, days):
        self.as_of += timedelta(days=days)
        os.environ["HOTCOLD_FAIL_AT"] = point
        try:
            rotate(self.config, as_of=self.as_of)
        except HotColdError:
            TALLY["property: crashed runs"] += 1
        finally:
            del os.environ["HOTCOLD_FAIL_AT"]

    @rule(change=st.sampled_from(["add", "drop", "rename", "widen"]))
    def alter_table(self, change):
        """The user's own schema changes between rotations: archived values must survive every
        one (the lake keeps a dropped or renamed column in the days that held it)."""
        self.n += 1
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            extras = [r[0] for r in conn.execute("select attname::text from pg_attribute where attrelid = 'market_data'::regclass"
                                                 " and attnum > 0 and not attisdropped and attname like 'extra%' order by attnum")]
            if change == "add" or not extras:
                conn.execute(f"alter table market_data add column extra_{self.n} text default 'v{self.n}'")
            elif change == "drop":
                conn.execute(f"alter table market_data drop column {extras[0]}")
            elif change == "rename":
                conn.execute(f"alter table market_data rename column {extras[0]} to extra_{self.n}")
            else:
                conn.execute(f"alter table market_data add column extra_{self.n} int default {self.n}")
                conn.execute(f"alter table market_data alter column extra_{self.n} type bigint")
        TALLY["property: schema changes"] += 1

    @rule(rows=st.lists(keys, min_size=1, max_size=6), archive=st.booleans())
    def backfill(self, rows, archive):
        path = self.dir / f"bf_{self.n}.csv"
        lines, new = [], {}
        for s, iv, back in rows:
            key = (s, iv, self._ts(iv, back))
            new[key] = self._value()
        with psycopg.connect(self.dsn) as conn:
            extras = [r[0] for r in conn.execute("select attname::text from pg_attribute where attrelid = 'market_data'::regclass"
                                                 " and attnum > 4 and not attisdropped order by attnum")]
        for key, value in new.items():
            lines.append(f"{key[0]},{key[1]},{key[2].isoformat()},{value}" + "," * len(extras) + "\n")
        path.write_text(HEADER.strip() + "".join("," + e for e in extras) + "\n" + "".join(lines))
        hotcold.backfill(self.config, "market_data", [path], as_of=self.as_of, archive=archive)
        self.truth.update(new)

    @invariant()
    def each_key_once_in_its_latest_version(self):
        if not hasattr(self, "config"):
            return
        with StorageRouter(self.config) as router:
            rows = router.query("market_data").table.to_pylist()
        shown = {(r["symbol"], r["interval"], r["ts"]): r["close"] for r in rows}
        TALLY["property: rows duplicated"] += len(rows) - len(shown)
        TALLY["property: rows lost"] += len(set(self.truth) - set(shown))
        assert len(rows) == len(shown), "a key is shown twice"
        assert shown == self.truth
        hot, lake = union_rows(self.config, "market_data", "symbol, interval, ts")
        assert len(lake) == len(set(lake)) and len(hot) == len(set(hot))
        report = verify(self.config)
        assert report.ok, report.problems
        TALLY["property: steps checked"] += 1


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_random_histories_keep_every_row_once_in_its_latest_version(pg_server_dsn):
    Lifecycle.server_dsn = pg_server_dsn
    runner = Lifecycle.TestCase
    runner.settings = settings(max_examples=int(os.environ.get("HOTCOLD_PROPERTY_EXAMPLES", "15")), stateful_step_count=12, deadline=None,
                               suppress_health_check=list(HealthCheck), derandomize=True)
    runner("runTest").runTest()
