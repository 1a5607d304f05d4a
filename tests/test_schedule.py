"""Scheduled rotation: the crontab line (installed and removed with the real crontab), the
foreground loop rotating at a tick of an injected clock, and SIGTERM stopping it."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest

import hotcold
from hotcold.ops import schedule
from hotcold.store.state import open_state, rows
from support import demo_project, write_config


@pytest.fixture
def crontab():
    """The real crontab of this user, put back exactly as it was afterwards."""
    saved = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    try:
        yield lambda: subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout.splitlines()
    finally:
        if saved.returncode == 0:
            subprocess.run(["crontab", "-"], input=saved.stdout, text=True, check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True)


def test_the_crontab_line_is_absolute_and_installs_once(tmp_path, crontab):
    config = hotcold.load_config(write_config(tmp_path, "duckdb"))
    line = schedule.cron_line(config)
    fields = line.split()
    assert fields[:5] == ["0", "2", "*", "*", "*"]
    words = shlex.split(line.split(" && ", 1)[1].split(" >> ")[0])
    assert words[0] == sys.executable and words[1:4] == ["-m", "hotcold", "rotate"] and words[-1] == str(config.path)
    assert str(config.log_file.parent / "hotcold_cron.log") in line

    other = "30 5 * * 1 /usr/bin/true # someone else's job"
    subprocess.run(["crontab", "-"], input=other + "\n", text=True, check=True)
    assert schedule.install(config) is True
    assert schedule.install(config) is False, "installing twice changes nothing"
    assert crontab() == [other, line]
    assert schedule.remove(config) is True and schedule.remove(config) is False
    assert crontab() == [other]


def test_the_cli_prints_the_line_for_the_configured_schedule(tmp_path):
    path = write_config(tmp_path, "duckdb", auto_rotation={"enabled": True, "schedule": "15 3 * * 1-5"})
    proc = subprocess.run([sys.executable, "-m", "hotcold", "schedule", "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("15 3 * * 1-5 cd ") and f"--config {path}" in proc.stdout


class FakeClock:
    def __init__(self, start: datetime):
        self.t, self.waited = start, []

    def now(self) -> datetime:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.waited.append(seconds)
        self.t += timedelta(seconds=seconds)
        return False


@pytest.mark.slow
def test_the_loop_rotates_at_a_tick_of_the_injected_clock(tmp_path, pg_dsn):
    config = demo_project(tmp_path, "postgres", pg_dsn, symbols=2)
    clock = FakeClock(datetime(2026, 11, 25, 1, 59, 30, tzinfo=timezone.utc))
    lines = []
    runs = schedule.run_schedule(config, now=clock.now, wait=clock.wait, max_runs=1, log=lines.append)
    assert runs == 1 and clock.now() == datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc) and sum(clock.waited) == 30
    with open_state(config) as conn:
        done = rows(conn, "select as_of, outcome from _hotcold.runs")
    assert done == [{"as_of": date(2026, 11, 25), "outcome": "ok"}]
    assert any("next rotation at 2026-11-25T02:00:00+00:00" in ln for ln in lines)
    assert any(" as of 2026-11-25: ok, " in ln and "rows archived" in ln for ln in lines), lines


def test_the_loop_refuses_a_disabled_rotation_unless_forced(tmp_path):
    config = hotcold.load_config(write_config(tmp_path, "duckdb", auto_rotation={"enabled": False, "schedule": "0 2 * * *"}))
    with pytest.raises(hotcold.HotColdError, match="disabled"):
        schedule.run_schedule(config, max_runs=0)
    assert schedule.run_schedule(config, force=True, max_runs=0, log=lambda m: None) == 0


def test_sigterm_stops_the_foreground_loop_between_runs(tmp_path):
    path = write_config(tmp_path, "duckdb", auto_rotation={"enabled": True, "schedule": "0 2 1 1 *"})
    proc = subprocess.Popen([sys.executable, "-m", "hotcold", "schedule", "--run", "-c", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert "next rotation at" in first, first + proc.stderr.read()
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out and time.monotonic() - started < 10
