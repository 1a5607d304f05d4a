"""hotcold's benchmark: every ratio of the Performance section, measured in one run.

    python bench/run.py [--rows 10000000] [--dsn 'host=127.0.0.1 user=postgres'] [--repeat 5]

Creates a PostgreSQL database of its own (dropped at the end) and, in order:
  1. fills market_data with --rows rows and copies it to reference.market_data (same indexes);
  2. archive: times raw binary COPY of the aged rows and the hand-written pandas job, then
     `hotcold rotate` (a separate process, for its peak memory) step by step;
  3. cold queries: the four of the query engine, and one through StorageRouter (with the lock
     a query across tiers holds), lake against reference.market_data;
  4. delete baseline: a bare DELETE of the aged rows + VACUUM on reference.market_data;
  5. daily rotation of one aging day with 1x and 10x the history in the table;
  6. peak memory: rotate again on a table of --rows / 10;
  7. partitioned tables: the hot-side cost (the delete's transaction in PostgreSQL, and
     VACUUM) of the first rotation and of each daily one, whole partitions leaving by DETACH
     and DROP against today's row-level DELETE + VACUUM of the same rows on a plain table,
     with 1x (30 aged days) and 10x (300) history; the 10x tables hold about --rows rows.
Prints one table of ratios and writes JSON (--json). Times vary with the machine; the ratios,
measured side by side, are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT / "python"), str(BENCH)]

import baselines  # noqa: E402
import cold  # noqa: E402
from data import AS_OF, Shape, fill_calendar_days, fill_market_data  # noqa: E402

HOT_DAYS = 30
UTC = timezone.utc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows in market_data (default 10,000,000)")
    ap.add_argument("--dsn", default=os.environ.get("HOTCOLD_BENCH_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"),
                    help="a server where the benchmark may create and drop a database (or $HOTCOLD_BENCH_DSN)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each query; the best counts")
    ap.add_argument("--days", type=int, default=3, help="daily rotations on each side; the median counts")
    ap.add_argument("--compression", default="snappy", help="storage.lake.compression for hotcold's lake and the pandas job's (default snappy, hotcold's default)")
    ap.add_argument("--only", choices=["partitioned"], help="run one section alone (its own rows of the table)")
    ap.add_argument("--json", type=Path, default=BENCH / "results" / "bench.json")
    args = ap.parse_args()
    if args.rows < 100_000:
        raise SystemExit("--rows must be at least 100000")

    db = f"hotcold_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    work = Path(tempfile.mkdtemp(prefix="hotcold_bench_"))
    try:
        results = Bench(args, make_conninfo(args.dsn, dbname=db), work).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nJSON: {args.json}")


class Bench:
    def __init__(self, args, dsn: str, work: Path):
        self.args, self.dsn, self.work = args, dsn, work
        self.shape = Shape.for_rows(args.rows)
        self.cutoff = datetime.combine(AS_OF - timedelta(days=HOT_DAYS), datetime.min.time(), UTC)
        self.pg = psycopg.connect(dsn, autocommit=True)
        self.pg.execute("SET TimeZone = 'UTC'")

    def run(self) -> dict:
        out = {"machine": machine(), "rows": self.args.rows, "shape": self.shape.describe(), "compression": self.args.compression}
        if self.args.only == "partitioned":
            out["partitioned"] = self.partitioned()
            return out
        self.fill()
        out["archive"] = self.archive()
        out["cold_queries"] = self.cold_queries()
        out["commands"] = self.commands()
        out["archive"]["bare_delete"] = self.bare_delete()
        out["daily"] = self.daily()
        out["memory"] = self.memory(out["archive"]["rotate"]["peak_rss_mb"])
        out["partitioned"] = self.partitioned()
        self.pg.close()
        return out

    def fill(self) -> None:
        log(f"filling market_data: {self.shape.describe()}")
        t0 = time.perf_counter()
        fill_market_data(self.pg, "public.market_data", self.shape)
        self.pg.execute("CREATE SCHEMA reference")
        self.pg.execute("CREATE TABLE reference.market_data AS SELECT * FROM public.market_data")
        self.pg.execute("ALTER TABLE reference.market_data ADD PRIMARY KEY (symbol, interval, ts)")
        self.pg.execute("CREATE INDEX ON reference.market_data (ts)")
        self.pg.execute("VACUUM ANALYZE reference.market_data")
        self.rows = self.pg.execute("SELECT count(*) FROM market_data").fetchone()[0]
        log(f"{self.rows:,} rows in {time.perf_counter() - t0:.0f} s")

    def aged(self) -> str:
        return f"ts < '{self.cutoff.isoformat()}' OR interval <> '1day'"

    def aged_select(self, rel: str) -> str:
        return f"SELECT * FROM {rel} WHERE {self.aged()}"

    def archive(self) -> dict:
        select = self.aged_select("market_data")
        aged = self.pg.execute(f"SELECT count(*) FROM market_data WHERE {self.aged()}").fetchone()[0]
        log(f"raw binary COPY of the {aged:,} aged rows")
        size, t_copy = baselines.raw_copy(self.pg, select)
        log(f"  {t_copy:.1f} s, {size / 1e6:.0f} MB")
        log("pandas job: read_sql in chunks + write_to_dataset by year/month/day")
        url = "postgresql+psycopg://" + sqlalchemy_part(self.dsn)
        n_pandas, t_pandas = baselines.pandas_job(url, select, self.work / "pandas_lake", self.args.compression)
        log(f"  {t_pandas:.1f} s, {n_pandas:,} rows")
        shutil.rmtree(self.work / "pandas_lake", ignore_errors=True)
        cfg = self.config("main", "public", HOT_DAYS)
        log("hotcold rotate")
        report, wall, rss = rotate(cfg, AS_OF)
        steps = report["tables"]["market_data"]["steps"]
        archived = report["tables"]["market_data"]["archived_rows"]
        if archived != aged:
            raise SystemExit(f"rotate archived {archived:,} rows, {aged:,} were aged: the benchmark compares different work")
        index_s = sum(t["seconds"] for t in report["history_index"])
        log(f"  {wall:.1f} s, peak {rss:.0f} MB: " + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in steps.items()) + f", history index {index_s:.1f} s")
        # The machine's speed drifts over minutes: the COPY is timed again right after the
        # rotate, on the reference copy of the same rows, and the baseline is the mean of the two.
        log("raw binary COPY again, of the same rows in reference.market_data")
        _, t_after = baselines.raw_copy(self.pg, self.aged_select("reference.market_data"))
        log(f"  {t_after:.1f} s")
        self.main_config = cfg
        return {"aged_rows": aged, "raw_copy_s": (t_copy + t_after) / 2, "raw_copy_runs_s": [t_copy, t_after], "raw_copy_bytes": size, "pandas_s": t_pandas,
                "rotate": {"wall_s": wall, "peak_rss_mb": rss, "steps": {k: v["seconds"] for k, v in steps.items()}, "history_index_s": index_s}}

    def cold_queries(self) -> list[dict]:
        import hotcold
        from hotcold.query.engine import ColdStorageQueryEngine

        config = hotcold.load_config(self.main_config)
        engine = ColdStorageQueryEngine(config, cache_mb=0)
        router = hotcold.StorageRouter(config, engine)
        try:
            return cold.compare(engine, self.pg, "reference.market_data", self.cutoff, self.args.repeat, log, router)
        finally:
            router.close()

    def commands(self) -> dict:
        """Seconds a person waits for `hotcold --help`, `hotcold status`, `hotcold rotate --dry-run`
        and `hotcold verify` on the rotated lake (a new process each, best of --repeat): the
        target is under 1.5 s each."""
        out = {}
        cfg, as_of = ["-c", str(self.main_config)], ["--as-of", AS_OF.isoformat()]
        for name, args in (("--help", ["--help"]), ("status", ["status", "--json", *cfg, *as_of]),
                           ("rotate --dry-run", ["rotate", "--dry-run", "--json", *cfg, *as_of]), ("verify", ["verify", "--json", *cfg])):
            times = []
            for _ in range(max(1, min(self.args.repeat, 3))):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "hotcold", *args], check=True, capture_output=True, cwd=self.work)
                times.append(time.perf_counter() - t0)
            out[name] = min(times)
            log(f"command: hotcold {name}: {min(times):.2f} s")
        return out

    def bare_delete(self) -> dict:
        log("bare DELETE of the aged rows + VACUUM (ANALYZE) on reference.market_data")
        n, t_delete, t_vacuum = baselines.bare_delete(self.pg, "reference.market_data", self.aged())
        log(f"  {n:,} rows: DELETE {t_delete:.1f} s, VACUUM {t_vacuum:.1f} s")
        return {"rows": n, "delete_s": t_delete, "vacuum_s": t_vacuum}

    def daily(self) -> dict:
        """One day ages out of a table holding 1x (30 days) or 10x (300 days) of history."""
        symbols = self.shape.daily_symbols
        sides = {}
        for name, hot_days in (("1x", HOT_DAYS), ("10x", HOT_DAYS * 10)):
            schema = f"daily_{name}"
            self.pg.execute(f"CREATE SCHEMA {schema}")
            fill_calendar_days(self.pg, f"{schema}.market_data", symbols, AS_OF - timedelta(days=hot_days + 1), AS_OF + timedelta(days=self.args.days))
            held = self.pg.execute(f"SELECT count(*) FROM {schema}.market_data").fetchone()[0]
            sides[name] = {"hot_days": hot_days, "table_rows": held, "config": self.config(schema, schema, hot_days), "runs": []}
        log(f"daily rotation: {symbols:,} rows age out each day; tables hold {sides['1x']['table_rows']:,} and {sides['10x']['table_rows']:,} rows")
        for i in range(self.args.days):
            for name, side in sides.items():
                report, wall, _ = rotate(side["config"], AS_OF + timedelta(days=i))
                t = report["tables"]["market_data"]
                if t["archived_rows"] != symbols:
                    raise SystemExit(f"daily rotation {name} archived {t['archived_rows']} rows, expected {symbols}")
                side["runs"].append({"wall_s": wall, "steps_s": sum(s["seconds"] for s in t["steps"].values())})
                log(f"  day {i + 1} {name}: {wall:.2f} s (steps {side['runs'][-1]['steps_s']:.2f} s)")
        for side in sides.values():
            side.pop("config")
            side["wall_s"] = median(r["wall_s"] for r in side["runs"])
            side["steps_s"] = median(r["steps_s"] for r in side["runs"])
        return sides

    def memory(self, big_rss: float) -> dict:
        small = Shape.for_rows(self.args.rows // 10)
        log(f"peak memory: rotate on {small.rows:,} rows ({small.describe()})")
        self.pg.execute("CREATE SCHEMA small")
        fill_market_data(self.pg, "small.market_data", small)
        _, wall, rss = rotate(self.config("small", "small", HOT_DAYS), AS_OF)
        log(f"  {wall:.1f} s, peak {rss:.0f} MB (at {self.args.rows:,} rows: {big_rss:.0f} MB)")
        return {"small_rows": small.rows, "small_peak_rss_mb": rss, "large_rows": self.args.rows, "large_peak_rss_mb": big_rss}

    def partitioned(self) -> dict:
        """Per history (1x, 10x) and table kind (partitioned, plain): the hot-side seconds of
        the first rotation and the median of --days daily ones. Hot side: the delete step's
        own transaction as PostgreSQL timed it (hotcold.step_results.seconds), plus the vacuum
        step when it ran a VACUUM; the stage, export and publish are the same work on both
        kinds."""
        per_day = max(50, self.args.rows // (HOT_DAYS * 11 + self.args.days))
        out = {"rows_per_day": per_day}
        for history, aged_days in (("1x", HOT_DAYS), ("10x", HOT_DAYS * 10)):
            first, last = AS_OF - timedelta(days=HOT_DAYS + aged_days), AS_OF + timedelta(days=self.args.days)
            for kind in ("partitioned", "plain"):
                schema = f"part_{history}_{kind}"
                self.pg.execute(f"CREATE SCHEMA {schema}")
                fill_calendar_days(self.pg, f"{schema}.market_data", per_day, first, last, partitioned=kind == "partitioned")
                config = self.config(schema, schema, HOT_DAYS)
                runs = []
                for i in range(self.args.days + 1):
                    report, wall, _ = rotate(config, AS_OF + timedelta(days=i))
                    t = report["tables"]["market_data"]
                    expected = aged_days * per_day if i == 0 else per_day
                    if t["deleted_rows"] != expected:
                        raise SystemExit(f"{schema}: rotation {i} took {t['deleted_rows']:,} rows from the hot store, expected {expected:,}")
                    in_pg = self.pg.execute("SELECT seconds FROM hotcold.step_results WHERE run_id = %s AND step = 'delete'", [report["run_id"]]).fetchone()[0]
                    # The vacuum step counts when it ran a VACUUM (its time then includes the
                    # step's bookkeeping too); when no row was deleted row by row it runs none.
                    vacuum = t["steps"]["vacuum"]
                    vacuum_s = vacuum["seconds"] if vacuum["detail"].startswith("VACUUM") else 0.0
                    runs.append(in_pg + vacuum_s)
                    log(f"partitioned tables: {schema} rotation {i}: {t['deleted_rows']:,} rows, hot side {runs[-1]:.3f} s "
                        f"(delete {in_pg:.3f} s in PostgreSQL, vacuum step {vacuum['seconds']:.3f} s: {vacuum['detail'][:60]})")
                out[f"{history}_{kind}"] = {"first_s": runs[0], "daily_s": median(runs[1:]), "daily_runs_s": runs[1:], "table_rows": (aged_days + HOT_DAYS + self.args.days + 1) * per_day}
        return out

    def config(self, name: str, schema: str, hot_days: int) -> Path:
        home = self.work / name
        home.mkdir()
        path = home / "unified_config.yaml"
        path.write_text(yaml.safe_dump({
            "storage": {
                "lifecycle": {"hot_days": hot_days, "hot_intervals": ["1day"]},
                "hot_store": {"type": "postgres", "dsn": self.dsn, "schema": schema},
                "lake": {"root": str(home / "lake" / "cold_storage"), "compression": self.args.compression},
                "logging": {"file": str(home / "rotation.log")},
            },
            "tables": {"market_data": {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"}},
        }))
        return path


def rotate(config: Path, as_of) -> tuple[dict, float, float]:
    """`hotcold rotate` in its own process: its report, wall time and peak RSS (MB)."""
    out = config.parent / "rotate.json"
    t0 = time.perf_counter()
    with open(out, "w") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "hotcold", "rotate", "-c", str(config), "--as-of", as_of.isoformat(), "--json"],
                                stdout=stdout, stderr=subprocess.PIPE, cwd=config.parent)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"hotcold rotate failed:\n{proc.stderr.read().decode()}")
    return json.loads(out.read_text()), wall, usage.ru_maxrss / 1024


def print_table(r: dict) -> None:
    if "archive" not in r:  # --only partitioned
        print(f"\nhotcold benchmark, partitioned tables: {r['partitioned']['rows_per_day']:,} rows a day; machine: {r['machine']}")
        for name, ours, base, ratio, target in partitioned_rows(r["partitioned"]):
            print(f"{name:<66} {ours:>10} {base:>10} {ratio:>8.2f}x  {target}")
        return
    a, steps = r["archive"], r["archive"]["rotate"]["steps"]
    export = steps["stage"] + steps["export"]
    # PostgreSQL computes its fingerprint of each day inside the stage's statement; verify
    # compares the staged files with it: together, the export with its check against the source.
    checked = export + steps["verify"]
    evp = checked + steps["publish"]
    dv = steps["delete"] + steps["vacuum"]
    bare = a["bare_delete"]["delete_s"] + a["bare_delete"]["vacuum_s"]
    d, m = r["daily"], r["memory"]
    rows = [
        ("export (stage + COPY) vs raw binary COPY", f"{export:.1f} s", f"{a['raw_copy_s']:.1f} s", a["raw_copy_s"] / export, ">= 0.7x throughput"),
        ("export + verify against PostgreSQL vs raw binary COPY", f"{checked:.1f} s", f"{a['raw_copy_s']:.1f} s", a["raw_copy_s"] / checked, ">= 0.7x throughput"),
        ("export + verify + publish vs pandas job", f"{evp:.1f} s", f"{a['pandas_s']:.1f} s", a["pandas_s"] / evp, ">= 4x faster"),
        ("delete + vacuum vs bare DELETE + VACUUM", f"{dv:.1f} s", f"{bare:.1f} s", dv / bare, "<= 1.2x the time"),
        ("daily rotation, 10x vs 1x history", f"{d['10x']['wall_s']:.2f} s", f"{d['1x']['wall_s']:.2f} s", d["10x"]["wall_s"] / d["1x"]["wall_s"], "<= 1.2x the time"),
    ]
    for q in r["cold_queries"]:
        rows.append((f"cold: {q['query']} vs PostgreSQL", f"{q['lake_s'] * 1000:.0f} ms", f"{q['postgres_s'] * 1000:.0f} ms", q["ratio"], q["target"]))
    rows += partitioned_rows(r["partitioned"])
    rows.append(("rotate peak RSS, 10x vs 1x rows", f"{m['large_peak_rss_mb']:.0f} MB", f"{m['small_peak_rss_mb']:.0f} MB",
                 m["large_peak_rss_mb"] / m["small_peak_rss_mb"], "<= 1.2x"))
    print(f"\nhotcold benchmark: {r['rows']:,} rows ({r['shape']}), lake compression {r['compression']}")
    print(f"machine: {r['machine']}")
    print(f"{'measure':<58} {'hotcold':>10} {'baseline':>10} {'ratio':>8}  target")
    for name, ours, base, ratio, target in rows:
        print(f"{name:<58} {ours:>10} {base:>10} {ratio:>7.2f}x  {target}")
    print("commands (s, a new process each): " + ", ".join(f"hotcold {k} {v:.2f}" for k, v in r["commands"].items()) + "; target under 1.5 s each")
    print("\nrotate steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
          + f"; then the history index {a['rotate']['history_index_s']:.1f}; wall {a['rotate']['wall_s']:.1f} s including process and dbt start-up")


def partitioned_rows(p: dict) -> list[tuple]:
    """The partitioned section's lines: (measure, hotcold, baseline, ratio, target)."""
    rows = []
    for history in ("1x", "10x"):
        part, plain = p[f"{history}_partitioned"], p[f"{history}_plain"]
        rows.append((f"partitioned {history}: first rotation, hot side vs plain DELETE+VACUUM", f"{part['first_s']:.2f} s", f"{plain['first_s']:.2f} s",
                     plain["first_s"] / part["first_s"], ">= 10x faster"))
        rows.append((f"partitioned {history}: daily rotation, hot side vs plain DELETE+VACUUM", f"{part['daily_s'] * 1000:.0f} ms", f"{plain['daily_s'] * 1000:.0f} ms",
                     plain["daily_s"] / part["daily_s"], ">= 50x faster"))
    rows.append(("partitioned: daily hot side, 10x vs 1x history", f"{p['10x_partitioned']['daily_s'] * 1000:.0f} ms", f"{p['1x_partitioned']['daily_s'] * 1000:.0f} ms",
                 p["10x_partitioned"]["daily_s"] / p["1x_partitioned"]["daily_s"], "<= 1.2x the time"))
    return rows


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def sqlalchemy_part(dsn: str) -> str:
    d = conninfo_to_dict(dsn)
    auth = d.get("user", "") + (":" + d["password"] if d.get("password") else "")
    return f"{auth}@{d.get('host', '127.0.0.1')}:{d.get('port', 5432)}/{d['dbname']}"


def median(values) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
