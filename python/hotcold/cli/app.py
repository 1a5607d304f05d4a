"""The `hotcold` command: a thin layer over the library.

Every command takes --config; errors a user can fix print one `Error:` line with the fix and
exit 1 (--debug shows the traceback instead).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hotcold import config as config_mod
from hotcold.cli import render
from hotcold.errors import HotColdError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Hot/cold storage lifecycle: PostgreSQL hot window, Parquet lake.")
# Piped or redirected output (cron mail, `| less`) would be squeezed to 80 columns and the
# status table truncated to "mark…"; give it room unless the user set COLUMNS.
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200)
err = Console(stderr=True)
STATE = {"debug": False}

ConfigOpt = typer.Option(None, "--config", "-c", help="Path to unified_config.yaml (default: ./unified_config.yaml, or $HOTCOLD_CONFIG).")
AsOfOpt = typer.Option(None, "--as-of", help="Treat this date (YYYY-MM-DD, UTC) as today. Default: today.")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


@app.callback()
def main_options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors.")):
    STATE["debug"] = debug


def _config(path: Optional[Path]) -> config_mod.Config:
    return config_mod.load(path)


@contextmanager
def _progress(json_mode: bool):
    """Yields a step callback and shows the steps, files loaded and days published: a rich
    progress bar on a terminal, plain log lines otherwise, nothing with --json (stdout is
    the JSON)."""
    from hotcold import progress
    from hotcold.ops.rotation import STEPS

    if json_mode:
        yield None
        return
    if not err.is_terminal:
        with progress.listening(_plain_progress()):
            yield lambda node, status: None if status == "started" or node not in STEPS else err.print(
                f"hotcold: {node.replace('hotcold_', '')} {status}", highlight=False, soft_wrap=True)
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        steps = bar.add_task("steps", total=len(STEPS))
        tasks: dict[str, int] = {}

        def on_step(node: str, status: str) -> None:
            step = node.replace("hotcold_", "")
            if status == "started":
                bar.update(steps, description=f"step: {step}")
            elif node in STEPS:
                bar.advance(steps)
                err.print(f"[green]✓[/green] {step}", highlight=False)

        def on_event(event: str, data: dict) -> None:
            if event == "file":
                err.print(f"  loaded {escape(data['name'])}: {data['rows']:,} rows", highlight=False)
            elif event == "exported":
                tasks[data["table"]] = bar.add_task(f"publish {data['table']} days", total=data["days"])
            elif event == "day" and data["table"] in tasks:
                bar.advance(tasks[data["table"]])

        with progress.listening(on_event):
            yield on_step


def _plain_progress():
    """Log lines for cron mail and CI logs: every file, and publishing in tenths."""
    totals: dict[str, list[int]] = {}

    def on_event(event: str, data: dict) -> None:
        if event == "file":
            err.print(f"hotcold: loaded {data['name']}: {data['rows']:,} rows", highlight=False, soft_wrap=True)
        elif event == "exported":
            totals[data["table"]] = [0, data["days"]]
            err.print(f"hotcold: publishing {data['days']:,} days of {data['table']} ({data['rows']:,} new rows)", highlight=False, soft_wrap=True)
        elif event == "day" and data["table"] in totals:
            t = totals[data["table"]]
            t[0] += 1
            if t[0] == t[1] or t[0] % max(1, t[1] // 10) == 0:
                err.print(f"hotcold: published {t[0]:,}/{t[1]:,} days of {data['table']}", highlight=False, soft_wrap=True)

    return on_event


@app.command()
def rotate(
    config: Optional[Path] = ConfigOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would move; change nothing."),
    force: bool = typer.Option(False, "--force", help="Run even when auto_rotation.enabled is false."),
    full: bool = typer.Option(False, "--full", help="Rotate every configured table, not only storage.rotation.tables."),
    table: Optional[list[str]] = typer.Option(None, "--table", "-t", help="Rotate only this table (repeatable)."),
    as_of: Optional[str] = AsOfOpt,
    json_out: bool = JsonOpt,
):
    """Archive rows older than the hot window to the lake, verify, delete them, VACUUM."""
    from hotcold.ops.rotation import rotate as do_rotate

    cfg = _config(config)
    with _progress(json_out) as on_step:
        report = do_rotate(cfg, as_of=as_of, tables=table, full=full, force=force, dry_run=dry_run, on_step=on_step)
    if json_out:
        _json(report)
        return
    _print_report(report)


@app.command()
def status(config: Optional[Path] = ConfigOpt, as_of: Optional[str] = AsOfOpt, json_out: bool = JsonOpt):
    """Per table: what the hot store holds, what the lake holds, and the last run."""
    from hotcold.ops.status import archival_status

    report = archival_status(_config(config), as_of)
    _json(report) if json_out else render.status(out, report)


@app.command()
def init(
    folder: Path = typer.Argument(Path("."), help="The folder to set up (made if missing)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that are already there."),
    json_out: bool = JsonOpt,
):
    """Write a commented unified_config.yaml and a dbt project that runs hotcold as a dbt package."""
    from hotcold.ops.init_project import init as do_init

    written = do_init(folder, force=force)
    if json_out:
        out.print_json(json.dumps({"written": [str(p) for p in written]}))
        return
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    out.print(f"\nNext: edit {written[0].name} (storage.hot_store), then [bold]hotcold status[/bold] or [bold]hotcold demo[/bold];"
              f" with dbt alone: [bold]cd {folder} && dbt deps && dbt run[/bold]")


@app.command()
def demo(
    config: Optional[Path] = ConfigOpt,
    symbols: int = typer.Option(200, min=1, help="How many symbols to invent."),
    years: int = typer.Option(3, min=1, help="How many years of history."),
    as_of: Optional[str] = AsOfOpt,
    json_out: bool = JsonOpt,
):
    """Fill the hot store with synthetic market data, news, features and sentiment, then rotate it.

    In a folder without unified_config.yaml it first writes hotcold's commented one there
    (an embedded hot store, the lake under ./data_lake), so the demo needs nothing but a folder."""
    from hotcold.ops.demo import run_demo
    from hotcold.ops.init_project import write_config_if_missing

    if config is None and not os.environ.get("HOTCOLD_CONFIG") and write_config_if_missing(Path(config_mod.DEFAULT_CONFIG)):
        err.print(f"hotcold demo: wrote {config_mod.DEFAULT_CONFIG} (hotcold's defaults, commented); edit it to point at your own PostgreSQL")
    cfg = _config(config)
    if not json_out:
        err.print(f"hotcold demo: {symbols} symbols × {years} years into {cfg.hot.describe()}, lake at {cfg.lake_root}")
    with _progress(json_out) as on_step:
        report = run_demo(cfg, symbols=symbols, years=years, as_of=as_of, on_step=on_step)
    if json_out:
        _json(report)
        return
    _print_report(report)
    out.print(f"\nLake: {cfg.lake_root}   log: {cfg.log_file}\nNext: [bold]hotcold status[/bold]")


@app.command()
def backfill(
    table: str = typer.Option(..., "--table", "-t", help="The table to load, e.g. market_data."),
    inputs: list[Path] = typer.Option(..., "--from", help="CSV or Parquet file, or a folder of them (repeatable; a later file's version of a key wins)."),
    archive: Optional[bool] = typer.Option(None, "--archive/--no-archive", help="Rotate the table afterwards (default: storage.lifecycle.archive_on_backfill)."),
    as_of: Optional[str] = AsOfOpt,
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    """Load history into the lake (every row) and the hot store (the window's hot-interval rows)."""
    from hotcold.ops.backfill import backfill as do_backfill

    cfg = _config(config)
    with _progress(json_out) as on_step:
        report = do_backfill(cfg, table, inputs, as_of=as_of, archive=archive, on_step=on_step)
    if json_out:
        _json(report)
        return
    render.backfill(out, report)


@app.command()
def cleanup(
    analyze_only: bool = typer.Option(False, "--analyze-only", help="Only report what each table holds and what lies outside the window."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be done; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (scripts)."),
    hot_days: Optional[int] = typer.Option(None, "--hot-days", help="Window for this run, in days (default: storage.lifecycle.hot_days)."),
    reclaim: str = typer.Option("vacuum", "--reclaim", help="vacuum: VACUUM (ANALYZE), space reusable; full: VACUUM FULL, files shrink (locks each table)."),
    table: Optional[list[str]] = typer.Option(None, "--table", "-t", help="Only this table (repeatable; default: every configured table)."),
    as_of: Optional[str] = AsOfOpt,
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    """Move everything outside the window to the lake once, then reclaim the space."""
    from hotcold.ops import cleanup as cleanup_mod

    cfg = _config(config)
    if analyze_only:
        report = cleanup_mod.analyze(cfg, as_of=as_of, hot_days=hot_days, tables=table)
        return _print_cleanup(report, json_out)
    if not (yes or dry_run or sys.stdin.isatty()):
        raise HotColdError("cleanup deletes rows from the hot store and asks first, but there is no terminal to ask on",
                           "pass --yes to confirm from a script (run --dry-run first to see what it does)")

    def confirm(plan) -> bool:
        if not json_out:
            _print_cleanup(plan, False)
        return yes or typer.confirm("Go ahead?", default=False, err=True)

    with _progress(json_out) as on_step:
        report = cleanup_mod.cleanup(cfg, as_of=as_of, hot_days=hot_days, tables=table, reclaim=reclaim, dry_run=dry_run, confirm=confirm, on_step=on_step)
    if json_out:
        _json(report)
    elif report.mode == "dry-run":
        _print_cleanup(report, False)
    elif report.mode == "cancelled":
        out.print("Cancelled: nothing was changed.")
    else:
        render.cleanup_done(out, report)


@app.command()
def partition(
    table: str = typer.Argument(..., help="A configured table, plain, in storage.hot_store.schema."),
    by: str = typer.Option(..., "--by", help="day or month: the range of each partition."),
    premake_days: Optional[int] = typer.Option(None, "--premake-days", help="Make partitions this many days past the as-of day (default: storage.hot_store.partitions.premake_days)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the table and print the plan; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (scripts)."),
    as_of: Optional[str] = AsOfOpt,
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    """Convert a plain PostgreSQL hot table into one range-partitioned on its time column, while writers write."""
    from hotcold.ops import partition as partition_mod

    cfg = _config(config)
    if not (yes or dry_run or sys.stdin.isatty()):
        raise HotColdError("partition renames and swaps a hot table and asks first, but there is no terminal to ask on",
                           "pass --yes to confirm from a script (run --dry-run first to see what it does)")

    def confirm(plan) -> bool:
        if not json_out:
            render.partition(out, plan)
        return yes or typer.confirm("Go ahead?", default=False, err=True)

    report = partition_mod.convert(cfg, table, by, as_of=as_of, premake_days=premake_days, dry_run=dry_run, confirm=confirm)
    if json_out:
        _json(report)
    elif report.mode == "cancelled":
        out.print("Cancelled: nothing was changed.")
    else:
        render.partition(out, report)


def _print_cleanup(report, json_out: bool) -> None:
    _json(report) if json_out else render.cleanup_plan(out, report)


@app.command()
def schedule(
    install: bool = typer.Option(False, "--install", help="Add the line to your crontab (idempotent)."),
    remove: bool = typer.Option(False, "--remove", help="Remove this config's line from your crontab."),
    run: bool = typer.Option(False, "--run", help="Stay in the foreground and rotate at each tick (containers); SIGTERM stops between runs."),
    force: bool = typer.Option(False, "--force", help="With --run: rotate even when auto_rotation.enabled is false."),
    config: Optional[Path] = ConfigOpt,
):
    """Run the rotation on storage.lifecycle.auto_rotation.schedule: print the crontab line, install it, or run the loop."""
    import signal
    import threading

    from hotcold.ops import schedule as schedule_mod

    if install + remove + run > 1:
        raise HotColdError("choose one of --install, --remove and --run", "run `hotcold schedule --help`")
    cfg = _config(config)
    if run:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        schedule_mod.run_schedule(cfg, force=force, stop=stop, log=lambda m: print(f"{_now()} {m}", flush=True))
        return
    if remove:
        changed = schedule_mod.remove(cfg)
        out.print("removed the hotcold line from your crontab" if changed else "no hotcold line for this config in your crontab", highlight=False)
        return
    if install:
        changed = schedule_mod.install(cfg)
        out.print("installed in your crontab:" if changed else "already in your crontab:", highlight=False)
    out.print(schedule_mod.cron_line(cfg), highlight=False, soft_wrap=True, markup=False)
    for note in schedule_mod.environment_notes(cfg):
        err.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    if not cfg.auto_rotation_enabled:
        err.print("note: auto_rotation.enabled is false, so the scheduled run will refuse; set it to true", highlight=False, soft_wrap=True)


def _now() -> str:
    from datetime import datetime

    return datetime.now().astimezone().isoformat(timespec="seconds")


@app.command()
def verify(
    table: Optional[list[str]] = typer.Option(None, "--table", "-t", help="Only this table (repeatable; default: every configured table)."),
    deep: bool = typer.Option(False, "--deep", help="Also re-read every row and compare each day's checksum with the record."),
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    """Check the lake against its record: layout, footers, row counts, missing days, keys that appear twice."""
    from hotcold.ops.verify import verify as do_verify

    report = do_verify(_config(config), tables=table, deep=deep)
    if json_out:
        _json(report)
    else:
        render.verify(out, report)
    if not report.ok:
        raise HotColdError(f"the lake has {len(report.problems)} problem(s), listed above",
                           "restore the named files from a backup, or re-run the rotation/backfill that wrote those days; rotation will not delete rows of a day that fails")


@app.command()
def index(
    table: Optional[list[str]] = typer.Option(None, "--table", "-t", help="Only this table (repeatable; default: every table with a symbol column)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Read every day file again and sort the index from scratch."),
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    """Bring the history index (one symbol's years in milliseconds) up to the lake. Rotations
    and backfills do this after they publish; run it after restoring files by hand."""
    from hotcold.query.history import index_path, refresh

    cfg = _config(config)
    if not cfg.history_index:
        raise HotColdError("the history index is off (storage.lake.history_index: false)", "set storage.lake.history_index: true to keep one")
    done = refresh(cfg, table, rebuild=rebuild)
    if json_out:
        out.print_json(json.dumps({"path": str(index_path(cfg.lake_root)), "tables": [r.to_dict() for r in done]}))
    else:
        t = Table(title=f"history index {index_path(cfg.lake_root)}")
        for col in ("table", "days read", "days dropped", "rows", "re-sorted", "seconds"):
            t.add_column(col, justify="left" if col == "table" else "right")
        for r in done:
            t.add_row(r.table, render.n(r.days_read), render.n(r.days_dropped), render.n(r.rows), "yes" if r.sorted else "no", f"{r.seconds:.2f}")
        out.print(t)
    skipped = [r for r in done if r.skipped]
    if skipped:
        raise HotColdError(f"{skipped[0].skipped} ({', '.join(r.table for r in skipped)})",
                           "run `hotcold index` again when the rotation or query holding it has finished")


RANGE_HELP = "Ranges are [start, end): start included, end excluded. Dates (2024-03-01) and times (2024-03-01T09:30, 2024-03-01 09:30:00-05:00) are UTC unless they carry an offset or --tz is given."


@app.command(help=f"Rows of TABLE in [--start, --end), from the tier(s) that hold them; --every resamples. {RANGE_HELP}")
def query(
    table: str = typer.Argument(..., help="market_data, news, features, social_sentiment, or another configured table."),
    start: Optional[str] = typer.Option(None, "--start", help="First instant included (date or time)."),
    end: Optional[str] = typer.Option(None, "--end", help="First instant excluded (date or time)."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Zone for dates and times without an offset (default UTC), e.g. America/New_York."),
    symbol: Optional[list[str]] = typer.Option(None, "--symbol", "-s", help="Only this symbol (repeatable, or comma-separated)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Comma-separated columns (default: all)."),
    interval: Optional[str] = typer.Option(None, "--interval", help="Only rows of this interval (tables with an interval column), e.g. 1min."),
    where: Optional[list[str]] = typer.Option(None, "--where", help="Filter COLUMN OP VALUE, OP one of = != < <= > >=, or 'COLUMN in A,B' (any of). Repeat it: every filter applies (AND), so a range is --where 'close>=110' --where 'close<115'; for other ORs use hotcold sql."),
    every: Optional[str] = typer.Option(None, "--every", help="Resample into buckets: 1min, 5min, 1h, 1d, 1w, 1mo."),
    by: Optional[str] = typer.Option(None, "--by", help="With --every: group columns (default: the symbol column)."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="With --every: OUT=FUNC[:COLUMN],... (first last min max sum mean median std count); default open/high/low/close/volume bars."),
    tier: str = typer.Option("auto", "--tier", help="auto (route by where the rows are), hot or cold."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of the terminal."),
    limit: int = typer.Option(50, "--limit", min=0, help="Rows shown by --format table."),
    config: Optional[Path] = ConfigOpt,
):
    from hotcold.query.output import check_output, write_result
    from hotcold.query.router import StorageRouter
    from hotcold.query.sql import where_text

    check_output(fmt, output)
    cfg = _config(config)
    spec = cfg.table(table)
    filters = where_text(where)
    if interval:
        if not spec.interval_column:
            raise HotColdError(f"table {table} has no interval column", f"drop --interval, or set tables.{table}.interval_column")
        filters.append((spec.interval_column, "=", interval))
    symbols = [x.strip() for s in symbol for x in s.split(",") if x.strip()] if symbol else None
    with StorageRouter(cfg) as router:
        if every:
            res = router.aggregate(table, every, by=by, metrics=_metrics(metrics), start=start, end=end, symbols=symbols, where=filters, tz=tz, tier=tier)
        else:
            res = router.query(table, start, end, symbols=symbols, columns=columns, where=filters, tz=tz, tier=tier)
    tiers = "+".join(res.tiers) or "none"
    read = "the history index" if res.history_index else f"{len(res.route.plan.files)} lake day files"
    err.print(f"hotcold: {res.num_rows:,} rows from {tiers} ({read})", highlight=False)
    write_result(res.table, fmt, output, out, limit, title=escape(f"{table} [{tiers}]"))


def _metrics(text: Optional[str]):
    if not text:
        return None
    if text.strip() == "ohlcv":
        return "ohlcv"
    found = {}
    for part in text.split(","):
        name, _, how = part.partition("=")
        if not how:
            raise HotColdError(f"--metrics {part!r} is not OUT=FUNC[:COLUMN]", "e.g. --metrics close=last,volume=sum,avg_close=mean:close")
        func, _, col = how.partition(":")
        found[name.strip()] = (func.strip(), (col or name).strip())
    return found


@app.command(help="Run SQL over the analysts' catalog: cold.<table> (the lake) and unified.<table> (hot and cold, each key once).")
def sql(
    statement: str = typer.Argument(..., help='e.g. "select symbol, count(*) from cold.market_data group by 1"'),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of the terminal."),
    limit: int = typer.Option(50, "--limit", min=0, help="Rows shown by --format table."),
    no_hot: bool = typer.Option(False, "--no-hot", help="Do not attach the hot store (cold views only)."),
    config: Optional[Path] = ConfigOpt,
):
    import duckdb

    from hotcold.ops.catalog import open_catalog
    from hotcold.query.output import check_output, write_result

    check_output(fmt, output)
    cfg = _config(config)
    con = open_catalog(cfg, with_hot=not no_hot)
    try:
        result = con.execute(statement).to_arrow_table()
    except duckdb.Error as exc:
        raise HotColdError(f"SQL failed: {' '.join(str(exc).split())}", "the catalog is read-only; query cold.<table> or unified.<table>") from None
    finally:
        con.close()
    write_result(result, fmt, output, out, limit)


@app.command(help="Build (or rebuild) the analysts' catalog file with dbt: cold.<table> and unified.<table> views.")
def catalog(
    attach_sql: bool = typer.Option(False, "--attach-sql", help="Print the SQL an analyst's DuckDB session runs to reach the hot store (for unified.*); build nothing."),
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
):
    from hotcold.ops import catalog as catalog_mod

    cfg = _config(config)
    if attach_sql:
        out.print("\n".join(catalog_mod.attach_sql(cfg)), highlight=False, soft_wrap=True)
        return
    catalog_mod.build(cfg)
    views = catalog_mod.describe(cfg)
    if json_out:
        out.print_json(json.dumps({"catalog": str(cfg.catalog_path), "views": views}, default=str))
        return
    t = Table(title=f"catalog {cfg.catalog_path}")
    for col in ("view", "comment"):
        t.add_column(col)
    for v in views:
        t.add_row(v["view"], v["comment"])
    out.print(t)
    out.print(f"open it: duckdb -readonly {cfg.catalog_path}", highlight=False)


def _print_report(report) -> None:
    render.rotation(out, report)


def _json(report) -> None:
    """A typed report as `--json` prints it (docs/json.md)."""
    out.print_json(json.dumps(report.to_dict(), default=str))


def main() -> None:
    try:
        # Standalone mode: typer reports usage errors itself (exit 2) and handles Exit/Abort.
        # (Recent typer vendors click, so matching click's exception classes here missed them
        # and printed a traceback for a mistyped option.) Our errors still propagate to here.
        app()
    except HotColdError as exc:
        if STATE["debug"]:
            raise
        if "--json" in sys.argv[1:]:
            # A script asked for JSON: the error is JSON on stdout too (docs/json.md), and
            # the usual lines on stderr for the person reading the log.
            print(json.dumps({"error": {"type": type(exc).__name__, "problem": exc.problem, "fix": exc.fix or None}}))
        # Escape: messages carry user text ("[symbol, ts]", "--table '[/b]'") that is not markup.
        # soft_wrap: one line each, whatever the terminal width, so scripts can grep them.
        err.print(f"[bold red]Error:[/bold red] {escape(exc.problem)}", highlight=False, soft_wrap=True)
        if exc.fix:
            err.print(f"  fix: {escape(exc.fix)}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
