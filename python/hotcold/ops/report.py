"""What every typed report shares: its `--json` form.

Reports are dataclasses (rotation.RotationReport, status.StatusReport, cleanup.CleanupReport,
verify.VerifyReport, backfill.BackfillReport); `as_json(report)` is the dict `--json` prints,
whose shape docs/json.md documents. Dates and times become ISO 8601 text (UTC).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime


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
