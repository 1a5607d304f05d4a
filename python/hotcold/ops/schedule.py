"""Scheduled rotation: a crontab line for `auto_rotation.schedule`, or a foreground loop that
rotates at each tick of it (for a container, where there is no cron).

The loop takes "now" and "wait" as inputs, so a test can drive it with a clock of its own;
a stop event (SIGTERM in the CLI) ends it between runs, never inside one.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timezone
from typing import Callable

from croniter import croniter

from hotcold import config as config_mod
from hotcold.config import Config
from hotcold.errors import HotColdError, RotationDisabled
from hotcold.ops.rotation import rotate

MARK = "# hotcold:"


def cron_line(config: Config) -> str:
    """The crontab entry: absolute paths throughout (cron starts in $HOME with a bare PATH),
    output appended to a log file beside the rotation log, and a marker naming the config so
    --install and --remove find exactly this entry."""
    log = config.log_file.parent / "hotcold_cron.log"
    command = " ".join(shlex.quote(str(p)) for p in (sys.executable, "-m", "hotcold", "rotate", "--config", config.path))
    line = f"{config.schedule} cd {shlex.quote(str(config.project_dir))} && {command} >> {shlex.quote(str(log))} 2>&1 {MARK}{config.path}"
    # cron turns an unescaped % into a newline
    return line.replace("%", r"\%")


def environment_notes(config: Config) -> list[str]:
    """What the rotation reads from this shell's environment that cron's will not have."""
    names = sorted({name for name, _ in config_mod.ENV_REF.findall(config.path.read_text())})
    names += [n for n in ("HOTCOLD_HOT_DSN", "HOTCOLD_LAKE_ROOT", "HOTCOLD_STATE_PATH") if os.environ.get(n)]
    if not names:
        return []
    return [f"cron runs with a bare environment: set {', '.join(names)} at the top of the crontab (NAME=value lines) "
            "or in the config; passwords belong in ~/.pgpass"]


def install(config: Config) -> bool:
    """Add (or update) this config's line; True if the crontab changed."""
    current = _read_crontab()
    config.log_file.parent.mkdir(parents=True, exist_ok=True)  # cron's shell opens the log itself
    wanted = [ln for ln in current if not _ours(ln, config)] + [cron_line(config)]
    if wanted == current:
        return False
    _write_crontab(wanted)
    return True


def remove(config: Config) -> bool:
    """Remove this config's line; True if there was one."""
    current = _read_crontab()
    kept = [ln for ln in current if not _ours(ln, config)]
    if kept == current:
        return False
    _write_crontab(kept)
    return True


def _ours(line: str, config: Config) -> bool:
    return line.rstrip().endswith(f"{MARK}{config.path}".replace("%", r"\%"))


def _crontab() -> str:
    exe = shutil.which("crontab")
    if exe is None:
        raise HotColdError("the crontab command is not installed", "install cron (Debian: apt install cron), or add the line `hotcold schedule` prints to your scheduler")
    return exe


def _read_crontab() -> list[str]:
    proc = subprocess.run([_crontab(), "-l"], capture_output=True, text=True)
    if proc.returncode != 0:
        if re.search(r"no crontab", proc.stderr, re.I):
            return []
        raise HotColdError(f"crontab -l failed: {proc.stderr.strip()}", "check that this user may use cron (/etc/cron.allow)")
    return proc.stdout.splitlines()


def _write_crontab(lines: list[str]) -> None:
    proc = subprocess.run([_crontab(), "-"], input="".join(ln + "\n" for ln in lines), capture_output=True, text=True)
    if proc.returncode != 0:
        raise HotColdError(f"crontab rejected the new table: {proc.stderr.strip()}", "check the schedule in unified_config.yaml")


def next_tick(schedule: str, after: datetime) -> datetime:
    return croniter(schedule, after).get_next(datetime)


def run_schedule(
    config: Config,
    *,
    force: bool = False,
    now: Callable[[], datetime] | None = None,
    wait: Callable[[float], bool] | None = None,
    stop: threading.Event | None = None,
    max_runs: int | None = None,
    log: Callable[[str], None] = print,
) -> int:
    """Rotate at each tick of auto_rotation.schedule until stopped; returns the runs made.

    `now` gives the current time (aware; cron's local time by default); `wait(seconds)`
    sleeps and returns True if the loop should stop. A failed run is logged and the loop
    goes on to the next tick, as cron would. The config is read again before each run."""
    stop = stop or threading.Event()
    now = now or (lambda: datetime.now().astimezone())
    wait = wait or stop.wait
    if not config.auto_rotation_enabled and not force:
        raise RotationDisabled(f"rotation is disabled (storage.lifecycle.auto_rotation.enabled is false in {config.path.name})",
                               "set enabled: true, or pass --force to run the schedule anyway")
    runs = 0
    while not stop.is_set() and (max_runs is None or runs < max_runs):
        tick = next_tick(config.schedule, now())
        log(f"hotcold schedule: next rotation at {tick.isoformat()} ({config.schedule})")
        while (left := (tick - now()).total_seconds()) > 0:
            if wait(min(left, 3600.0)) or stop.is_set():
                log("hotcold schedule: stopped")
                return runs
        as_of = tick.astimezone(timezone.utc).date()
        try:
            config = config_mod.load(config.path)
            report = rotate(config, as_of=as_of, force=force)
            moved = report.archived_rows
            log(f"hotcold schedule: rotation {report.run_id} as of {as_of}: ok, {moved:,} rows archived")
        except HotColdError as exc:
            log(f"hotcold schedule: rotation as of {as_of} failed: {exc}")
        runs += 1
    log("hotcold schedule: stopped")
    return runs
