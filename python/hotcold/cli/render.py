"""Reports for people: each typed report (rotation, status, backfill, cleanup, partition, verify) as rich
tables on a console. The CLI calls the library, then one of these; `--json` prints
`report.to_dict()` instead. Sizes are decimal (kB = 1000 bytes), times UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import filesize
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the reports' modules load DuckDB and pyarrow; `hotcold --help` needs neither
    from hotcold.ops.backfill import BackfillReport
    from hotcold.ops.cleanup import CleanupReport
    from hotcold.ops.partition import PartitionReport
    from hotcold.ops.rotation import RotationReport
    from hotcold.ops.status import StatusReport
    from hotcold.ops.verify import VerifyReport

# Step details the run's table leaves out: every run has them, so they say nothing.
ROUTINE_DETAILS = ("VACUUM", "new rows")


def rotation(out: Console, report: RotationReport) -> None:
    title = "rotation"
    if report.cutoff:
        title = f"{'DRY RUN — nothing changed. ' if report.dry_run else ''}rotation as of {report.as_of} (cutoff {report.cutoff:%Y-%m-%d} UTC)"
    t = Table(title=title)
    if report.dry_run:
        for col in ("table", "rows to archive", "days", "approx. size", "first day", "last day"):
            t.add_column(col)
        for name, p in report.tables.items():
            t.add_row(name, n(p.rows), n(p.days), size(p.bytes), _day(p.first_day), _day(p.last_day))
        t.caption = "\n".join(_leaving(name, p.partitions) for name, p in report.tables.items() if p.partitions) or None
    else:
        for col in ("table", "archived", "deleted from hot", "lake days written", "lake bytes written", "note"):
            t.add_column(col)
        for name, r in report.tables.items():
            notes = "; ".join(s.detail for s in r.steps.values() if s.detail and not any(d in s.detail for d in ROUTINE_DETAILS))
            t.add_row(name, n(r.archived_rows), n(r.deleted_rows), n(r.lake_days), size(r.lake_bytes), notes)
    out.print(t)
    for note in report.notes:
        out.print(f"note: {escape(note)}", highlight=False)
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


def status(out: Console, report: StatusReport) -> None:
    t = Table(title=f"hotcold status as of {report.as_of}  (hot: {report.hot_store})",
              caption="hot size: on disk, with indexes; reusable: free space inside it that new rows fill "
                      "(VACUUM frees deleted rows' space; `hotcold cleanup --reclaim full` gives it back to the disk)")
    for col in ("table", "hot rows", "hot size", "reusable", "oldest hot", "newest hot", "waiting", "lake days", "lake rows", "lake size", "last run"):
        t.add_column(col, justify="left" if col in ("table", "last run") else "right")
    for name, s in report.tables.items():
        h, lake, last = s.hot, s.lake, s.last_run
        t.add_row(
            name,
            n(h.rows) if h.note is None else h.note,
            size(h.disk_bytes if h.disk_bytes is not None else h.data_bytes), size(h.reusable_bytes),
            (h.oldest or "-")[:16], (h.newest or "-")[:16], n(h.aging_rows),
            n(lake.days), n(lake.rows), size(lake.bytes),
            f"{last.outcome} {(last.started_at or '')[:16]}" if last else "never",
        )
    out.print(t)
    for name, s in report.tables.items():
        if s.hot.partitions:
            out.print(_leaving(name, s.hot.partitions), highlight=False, soft_wrap=True)
        if s.hot.partman_retention:
            out.print(f"[yellow]warning:[/yellow] {name}: pg_partman's retention ({escape(s.hot.partman_retention)}) can drop partitions hotcold has not "
                      "archived: set it to NULL (hotcold drops them) or well beyond hot_days with retention_keep_table = true",
                      highlight=False, soft_wrap=True)
        if s.hot.unfileable_rows:
            out.print(f"[yellow]warning:[/yellow] {name}: {s.hot.unfileable_rows:,} rows never age out: their time is NULL, infinite "
                      "or outside years 1-9999; fix them to archive them", highlight=False)


def _leaving(name: str, plan) -> str:
    """One line on how a partitioned table's aged rows leave (hot_stats.PartitionPlan)."""
    if not plan.leaving:
        return f"{name}: no partition wholly before the window; {n(plan.rows_by_delete)} rows by row-level delete"
    names = [p.name for p in plan.leaving]
    shown = ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]} ... {names[-1]}"
    return (f"{name}: {len(names)} partitions leave whole by DETACH and DROP ({n(sum(p.rows for p in plan.leaving))} rows: {shown}); "
            f"{n(plan.rows_by_delete)} rows by row-level delete")


def backfill(out: Console, report: BackfillReport) -> None:
    t = Table(title=f"backfill of {report.table} from {len(report.files)} file(s)")
    for col in ("rows loaded", "lake days written", "lake bytes written", "written to hot store"):
        t.add_column(col, justify="right")
    t.add_row(n(report.rows), n(report.lake_days), size(report.lake_bytes), n(report.written_to_hot))
    out.print(t)
    if report.archive:
        rotation(out, report.archive)
    else:
        out.print("archival skipped (--no-archive or archive_on_backfill: false); the next rotation moves aged hot rows", highlight=False)


def cleanup_plan(out: Console, report: CleanupReport) -> None:
    """The analysis (`--analyze-only`, `--dry-run`, or before asking to go ahead)."""
    prefix = "DRY RUN — nothing changed. " if report.mode == "dry-run" else ""
    t = Table(title=f"{prefix}hot store as of {report.as_of} (window {report.hot_days} days, cutoff {(report.cutoff or '-')[:10]} UTC)")
    for col in ("table", "interval", "rows", "size", "oldest", "newest", "rows outside", "size outside"):
        t.add_column(col, justify="left" if col in ("table", "interval", "oldest", "newest") else "right")
    sizes = Table(title="size on disk")
    for col in ("table", "now", "expected after", "rows outside window"):
        sizes.add_column(col, justify="left" if col == "table" else "right")
    for name, r in report.tables.items():
        if r.note:
            t.add_row(name, "-", r.note, "", "", "", "", "")
            continue
        for i in r.intervals:
            t.add_row(name, i.interval or "-", n(i.rows), size(i.bytes), (i.oldest or "-")[:16], (i.newest or "-")[:16], n(i.aged_rows), size(i.aged_bytes))
        sizes.add_row(name, size(r.bytes), size(r.expected_bytes_after), n(r.aged_rows))
    out.print(t)
    out.print(sizes)
    verb = "would" if report.mode == "dry-run" else "will"
    for action in report.actions:
        out.print(f"{verb}: {escape(action)}", highlight=False, soft_wrap=True)


def cleanup_done(out: Console, report: CleanupReport) -> None:
    t = Table(title=f"cleanup done (window {report.hot_days} days, cutoff {(report.cutoff or '-')[:10]})")
    for col in ("table", "archived", "deleted from hot", "hot rows after", "size before", "size after"):
        t.add_column(col, justify="left" if col == "table" else "right")
    moved = report.rotation.tables if report.rotation else {}
    for name in report.present:
        r, done = report.tables[name], moved.get(name)
        t.add_row(name, n(done.archived_rows if done else 0), n(done.deleted_rows if done else 0), n(r.rows_after), size(r.bytes), size(r.bytes_after))
    out.print(t)
    if report.reclaim == "vacuum" and report.aged_rows:
        out.print("note: VACUUM made the space reusable; the files keep their size until --reclaim full (or pg_repack) rewrites them", highlight=False)


def partition(out: Console, report: PartitionReport) -> None:
    """The plan (`--dry-run`, or before asking to go ahead), or the conversion done."""
    done = report.mode == "live"
    title = f"{'DRY RUN — nothing changed. ' if report.mode == 'dry-run' else ''}{report.schema}.{report.table} partitioned by {report.by}"
    t = Table(title=title + ("" if done else f" (plan, as of {report.as_of})"))
    for col in ("partition", "holds"):
        t.add_column(col)
    newest = f", newest {report.newest[:19]}" if report.newest else ""
    t.add_row(report.legacy, f"the table's rows: MINVALUE to {report.boundary}{newest}")
    if report.partitions:
        first, last = report.partitions[0], report.partitions[-1]
        t.add_row(first if first == last else f"{first} .. {last}", f"{len(report.partitions)} {'daily' if report.by == 'day' else 'monthly'} partitions from {report.boundary}")
    t.add_row(report.default, "late rows for ranges without a partition")
    out.print(t)
    if done:
        out.print(f"swap held the ACCESS EXCLUSIVE lock {report.lock_seconds * 1000:,.0f} ms (attempt {report.lock_attempts}); "
                  f"ATTACH {'skipped its scan (the validated CHECK proved the range)' if report.scan_skipped else 'scanned the old rows'}; "
                  f"VALIDATE {report.validate_seconds or 0:.2f} s (writers went on); {report.seconds or 0:.1f} s in all", highlight=False, soft_wrap=True)
        out.print("rotations now make its partitions premake_days ahead (storage.hot_store.partitions.premake_days)", highlight=False)
        return
    verb = "would" if report.mode == "dry-run" else "will"
    for action in report.actions:
        out.print(f"{verb}: {escape(action)}", highlight=False, soft_wrap=True)


def verify(out: Console, report: VerifyReport) -> None:
    t = Table(title=f"lake verification{' (deep)' if report.deep else ''}")
    for col in ("table", "files", "rows", "recorded days", "problems"):
        t.add_column(col, justify="left" if col == "table" else "right")
    for name, s in report.tables.items():
        t.add_row(name, n(s.files), n(s.rows), n(s.days_recorded), n(sum(p.table == name for p in report.problems)))
    out.print(t)
    for name, s in report.tables.items():
        for h in s.schema_history[1:]:
            changes = [f"+{c}" for c in h["added"]] + [f"-{c}" for c in h["dropped"]] + [f"{c} {ty}" for c, ty in h["retyped"].items()]
            out.print(f"{name}: columns changed from {h['first_day']}: {escape(', '.join(changes))}", highlight=False, soft_wrap=True)
    for p in report.problems:
        out.print(f"{p.table} {p.day or ''} {p.path or ''}: {escape(p.problem)}", highlight=False, soft_wrap=True)


def n(v) -> str:
    """A count with thousands separators; '-' for unknown."""
    return "-" if v is None else f"{int(v):,}"


def size(v) -> str:
    """Bytes in decimal units (kB = 1000 bytes), as rich and `ls --si` print them; '-' for unknown."""
    return "-" if v is None else filesize.decimal(int(v))


def _day(d) -> str:
    return "-" if d is None else d.isoformat()
