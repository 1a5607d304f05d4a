"""The `hotcold` command: a thin layer over the library.

Every command takes --config; errors a user can fix print one `Error:` line with the fix and
exit 1 (--debug shows the traceback instead).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import config as config_mod
from .errors import HotColdError

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
    """Yields a step callback: a rich progress bar on a terminal, plain log lines otherwise,
    nothing with --json (stdout is the JSON)."""
    from .rotation import STEPS

    if json_mode:
        yield None
        return
    if not err.is_terminal:
        yield lambda node, status: err.print(f"hotcold: {node.replace('hotcold_', '')} {status}", highlight=False, soft_wrap=True)
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("rotation", total=len(STEPS))

        def on_step(node: str, status: str) -> None:
            step = node.replace("hotcold_", "")
            if status == "started":
                bar.update(task, description=f"rotation: {step}")
            elif node in STEPS:
                bar.advance(task)
                err.print(f"[green]✓[/green] {step}", highlight=False)

        yield on_step


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
    from .rotation import rotate as do_rotate

    cfg = _config(config)
    with _progress(json_out) as on_step:
        report = do_rotate(cfg, as_of=as_of, tables=table, full=full, force=force, dry_run=dry_run, on_step=on_step)
    if json_out:
        out.print_json(json.dumps(report.to_dict(), default=str))
        return
    _print_report(report)


@app.command()
def status(config: Optional[Path] = ConfigOpt, as_of: Optional[str] = AsOfOpt, json_out: bool = JsonOpt):
    """Per table: what the hot store holds, what the lake holds, and the last run."""
    from .status import archival_status

    st = archival_status(_config(config), as_of)
    if json_out:
        out.print_json(json.dumps(st, default=str))
        return
    t = Table(title=f"hotcold status as of {st['as_of']}  (hot: {st['hot_store']})")
    for col in ("table", "hot rows", "hot size", "oldest hot", "newest hot", "waiting", "lake days", "lake rows", "lake size", "last run"):
        t.add_column(col, justify="right" if col not in ("table", "last run") else "left")
    for name, s in st["tables"].items():
        h, l, r = s["hot"], s["lake"], s["last_run"]
        t.add_row(
            name,
            _n(h["rows"]) if h["note"] is None else h["note"],
            _bytes(h["bytes"]), (h["oldest"] or "-")[:16], (h["newest"] or "-")[:16], _n(h["rows_waiting_to_age_out"]),
            _n(l["days"]), _n(l["rows"]), _bytes(l["bytes"]),
            f"{r['outcome']} {r['started_at'][:16]}" if r else "never",
        )
    out.print(t)


@app.command()
def demo(
    config: Optional[Path] = ConfigOpt,
    symbols: int = typer.Option(200, min=1, help="How many symbols to invent."),
    years: int = typer.Option(3, min=1, help="How many years of history."),
    as_of: Optional[str] = AsOfOpt,
    json_out: bool = JsonOpt,
):
    """Fill the hot store with synthetic market data, news, features and sentiment, then rotate it."""
    from .demo import run_demo

    cfg = _config(config)
    if not json_out:
        err.print(f"hotcold demo: {symbols} symbols × {years} years into {cfg.hot.describe()}, lake at {cfg.lake_root}")
    with _progress(json_out) as on_step:
        report = run_demo(cfg, symbols=symbols, years=years, as_of=as_of, on_step=on_step)
    if json_out:
        out.print_json(json.dumps(report.to_dict(), default=str))
        return
    _print_report(report)
    out.print(f"\nLake: {cfg.lake_root}   log: {cfg.log_file}\nNext: [bold]hotcold status[/bold]")


def _print_report(report) -> None:
    title = f"{'DRY RUN — nothing changed. ' if report.dry_run else ''}rotation as of {report.as_of} (cutoff {report.cutoff:%Y-%m-%d} UTC)" if report.cutoff else "rotation"
    t = Table(title=title)
    if report.dry_run:
        for col in ("table", "rows to archive", "days", "approx. size", "first day", "last day"):
            t.add_column(col)
        for name, p in report.tables.items():
            t.add_row(name, _n(p["rows"]), _n(p["days"]), _bytes(p["bytes"]), p["first_day"] or "-", p["last_day"] or "-")
    else:
        for col in ("table", "archived", "deleted from hot", "lake days written", "lake bytes written", "note"):
            t.add_column(col)
        for name, p in report.tables.items():
            notes = "; ".join(s["detail"] for s in p["steps"].values() if s.get("detail") and "VACUUM" not in s["detail"] and "new rows" not in s["detail"])
            t.add_row(name, _n(p["archived_rows"]), _n(p["deleted_rows"]), _n(p["lake_days"]), _bytes(p["lake_bytes"]), notes)
    out.print(t)
    for note in report.notes:
        out.print(f"note: {escape(note)}", highlight=False)


def _n(v) -> str:
    return "-" if v is None else f"{int(v):,}"


def _bytes(v) -> str:
    if v is None:
        return "-"
    v = float(v)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if v < 1024 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024


def main() -> None:
    try:
        # Standalone mode: typer reports usage errors itself (exit 2) and handles Exit/Abort.
        # (Recent typer vendors click, so matching click's exception classes here missed them
        # and printed a traceback for a mistyped option.) Our errors still propagate to here.
        app()
    except HotColdError as exc:
        if STATE["debug"]:
            raise
        # Escape: messages carry user text ("[symbol, ts]", "--table '[/b]'") that is not markup.
        # soft_wrap: one line each, whatever the terminal width, so scripts can grep them.
        err.print(f"[bold red]Error:[/bold red] {escape(exc.problem)}", highlight=False, soft_wrap=True)
        if exc.fix:
            err.print(f"  fix: {escape(exc.fix)}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
