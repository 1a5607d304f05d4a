"""Time ranges for queries: `[start, end)`, UTC unless a zone is given.

Accepts dates, datetimes (naive ones are read in `tz`), and ISO strings of either
("2024-03-01", "2024-03-01T09:30", "2024-03-01 09:30:00-05:00").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotcold.errors import HotColdError


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None  # inclusive, tz-aware UTC; None: from the beginning
    end: datetime | None  # exclusive, tz-aware UTC; None: up to now and beyond

    @property
    def first_day(self) -> date | None:
        return self.start.date() if self.start else None

    @property
    def last_day(self) -> date | None:
        """The last UTC day with an instant in the range ([start, end) excludes `end` itself)."""
        return (self.end - timedelta(microseconds=1)).date() if self.end else None

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None}


def time_range(start=None, end=None, tz: str | None = None) -> TimeRange:
    zone = _zone(tz)
    lo, hi = _bound(start, zone, "start"), _bound(end, zone, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise HotColdError(f"start {lo.isoformat()} is not before end {hi.isoformat()}", "ranges are [start, end): give an end after the start")
    return TimeRange(lo, hi)


def _zone(tz: str | None):
    if tz in (None, "", "UTC", "utc"):
        return timezone.utc
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HotColdError(f"unknown time zone {tz!r}", "use an IANA name such as America/New_York, or UTC") from None


def _bound(value, zone, name: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise HotColdError(f"{name} {value!r} is not a date or time", "use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else local_time(value, zone)
    elif isinstance(value, date):
        moment = local_time(datetime(value.year, value.month, value.day), zone)
    else:
        raise HotColdError(f"{name} must be a date, datetime or ISO string, got {type(value).__name__}", "pass e.g. '2024-03-01'")
    return moment.astimezone(timezone.utc)


def local_time(naive: datetime, zone) -> datetime:
    """The instant a wall-clock time names in `zone`, as PostgreSQL reads it with that TimeZone.

    Where a DST change makes the time ambiguous (01:30 on the autumn night in New York happens
    twice) or skips it (02:30 on the spring night never happens), PostgreSQL takes the offset in
    force after an autumn change and before a spring one (datetime docs, "Handling of Invalid
    or Ambiguous Timestamps"): in both cases the smaller of the two UTC offsets, which is also
    right where the change is not a whole hour (Lord Howe's 30 minutes)."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    return first if first.utcoffset() <= second.utcoffset() else second
