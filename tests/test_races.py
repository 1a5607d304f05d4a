"""Races: writers inserting, updating and deleting while a rotation runs; two rotations at
once; a rotation beside a backfill. Afterwards every row is in its latest version, once (or in
both tiers with the same key only until the next run, and the query layer shows it once)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from hotcold import faults
from hotcold.ops.rotation import rotate
from hotcold.ops.verify import verify
from hotcold.query.router import StorageRouter
from support import TALLY, union_rows

AS_OF = date(2026, 11, 25)
COLS = "symbol, interval, ts, close"


def pg_rows(dsn):
    with psycopg.connect(dsn) as conn:
        return {r[:3]: r for r in conn.execute(f"select {COLS} from market_data")}


@pytest.mark.slow
def test_writers_during_a_rotation_leave_every_row_in_its_latest_version_once(pg_project, pg_dsn):
    truth = pg_rows(pg_dsn)  # key -> latest row, as the writers leave it
    aged = sorted(k for k in truth if k[2] < datetime(2026, 10, 26, tzinfo=timezone.utc) and k[1] == "1day")
    stop, lock, ops = threading.Event(), threading.Lock(), []

    def writer(seed):
        r = random.Random(seed)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            n = 0
            while not stop.is_set() and n < 200:
                n += 1
                kind = r.choice(["insert_late", "insert_new", "update_aged", "delete_aged"])
                with lock:
                    if kind == "insert_late":
                        key = (f"W{seed}", "1day", datetime(2026, 2, 2, tzinfo=timezone.utc) + timedelta(days=n))
                        conn.execute("insert into market_data (symbol, interval, ts, close) values (%s, %s, %s, %s)", [*key, float(n)])
                        truth[key] = (*key, float(n))
                    elif kind == "insert_new":
                        key = (f"W{seed}", "1day", datetime(2026, 11, 20, tzinfo=timezone.utc) + timedelta(minutes=n))
                        conn.execute("insert into market_data (symbol, interval, ts, close) values (%s, %s, %s, %s)", [*key, float(n)])
                        truth[key] = (*key, float(n))
                    else:
                        key = r.choice(aged)
                        if kind == "update_aged":
                            cur = conn.execute("update market_data set close = %s where symbol = %s and interval = %s and ts = %s", [-float(n), *key])
                            if cur.rowcount:
                                truth[key] = (*key, -float(n))
                        else:
                            cur = conn.execute("delete from market_data where symbol = %s and interval = %s and ts = %s", [*key])
                            if cur.rowcount:
                                truth.pop(key, None)
                    ops.append(kind)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
    # Start the writers once the rotation has staged its rows, so they race export, publish and delete.
    faults.on("publish.before_replace", lambda: (faults.on("publish.before_replace", None), [t.start() for t in threads]))
    try:
        rotate(pg_project, as_of=AS_OF)
    finally:
        faults.on("publish.before_replace", None)
        stop.set()
        for t in threads:
            if t.is_alive() or t.ident:
                t.join()
    assert len(ops) > 50, "the writers raced the rotation"

    # Right after the run the query layer shows every key once, in its latest version. (A row
    # updated after the export and deleted after the delete step is still in the lake, in its
    # old version, until the next run withdraws it.)
    with StorageRouter(pg_project) as router:
        seen = router.query("market_data", columns=["symbol", "interval", "ts", "close"]).table.to_pylist()
    shown = {(r["symbol"], r["interval"], r["ts"]): (r["symbol"], r["interval"], r["ts"], r["close"]) for r in seen}
    assert len(seen) == len(shown)
    assert {k: shown.get(k) for k in truth} == truth

    # After the next run: each row in exactly one place.
    rotate(pg_project, as_of=AS_OF)
    hot, lake = union_rows(pg_project, "market_data", COLS)
    keys = [r[:3] for r in hot + lake]
    TALLY["rows duplicated"] += len(keys) - len(set(keys))
    TALLY["rows lost"] += len(set(truth) - set(keys))
    TALLY["race scenarios"] += 1
    assert len(keys) == len(set(keys)) and {r[:3]: r for r in hot + lake} == truth
    assert verify(pg_project, deep=True).ok


def _cli(config, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
    return subprocess.Popen([sys.executable, "-m", "hotcold", *args, "--config", str(config.path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _one_waits_or_refuses(config, a, b):
    before = union_rows(config, "market_data", COLS)
    first, second = _cli(config, *a), _cli(config, *b)
    results = [(p.wait(timeout=600), p.stderr.read()) for p in (first, second)]
    refused = [err for code, err in results if code == 1]
    assert sorted(code for code, _ in results) in ([0, 0], [0, 1]), results
    for err in refused:
        assert "another hotcold rotation" in err, err
    TALLY["race scenarios"] += 1
    return before


@pytest.mark.slow
def test_two_rotations_at_once_one_refuses_and_nothing_doubles(pg_project):
    hot, lake = _one_waits_or_refuses(pg_project, ["rotate", "--as-of", "2026-11-25"], ["rotate", "--as-of", "2026-11-25"])
    after_hot, after_lake = union_rows(pg_project, "market_data", COLS)
    assert sorted(after_hot + after_lake, key=repr) == sorted(hot + lake, key=repr)
    assert verify(pg_project).ok


@pytest.mark.slow
def test_a_rotation_beside_a_backfill_one_refuses(pg_project, tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("symbol,interval,ts,open,high,low,close,volume,vwap\n" + "".join(
        f"BF,1day,{(datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=d)).isoformat()},1,2,0.5,{d},10,1.5\n" for d in range(100)))
    _one_waits_or_refuses(pg_project, ["rotate", "--as-of", "2026-11-25"],
                          ["backfill", "--table", "market_data", "--from", str(path), "--as-of", "2026-11-25", "--no-archive"])
    hot, lake = union_rows(pg_project, "market_data", COLS)
    keys = [r[:3] for r in hot + lake if r[0] != "BF"]
    assert len(keys) == len(set(keys))
    assert verify(pg_project).ok
