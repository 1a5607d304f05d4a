"""What every typed report shares: its `--json` form.

Reports are dataclasses (rotation.RotationReport, status.StatusReport, cleanup.CleanupReport,
verify.VerifyReport, backfill.BackfillReport); `as_json(report)` is the dict `--json` prints,
whose shape docs/json.md documents. Dates and times become ISO 8601 text (UTC).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Callable


def as_json(value):
    """`value` (a dataclass, or dicts, lists and scalars holding them) as plain JSON values.
    A dataclass's properties listed in its `__json_extra__` are added after its fields."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_json(getattr(value, f.name)) for f in fields(value)}
        for name in getattr(value, "__json_extra__", ()):
            out[name] = as_json(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def go_ahead(report, dry_run: bool, confirm: Callable[[object], bool] | None) -> bool:
    """For a command that shows its plan before it changes anything (cleanup, partition): sets
    `report.mode` to "dry-run", "cancelled" (`confirm(report)` said no) or "live", and returns
    True only for "live"."""
    if dry_run:
        report.mode = "dry-run"
        return False
    if confirm is not None and not confirm(report):
        report.mode = "cancelled"
        return False
    report.mode = "live"
    return True
