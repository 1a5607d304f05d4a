"""The operations people run: rotate, backfill, cleanup, verify, status, schedule, demo, init,
and the analysts' catalog. Each returns a typed report (report.as_json is its --json form)."""
