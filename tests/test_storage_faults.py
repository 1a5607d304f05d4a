"""Storage faults: an unwritable lake, a disk that fills during the COPY, a corrupt or missing
day file, PostgreSQL going away mid-run. Each stops before any delete and says what happened;
after the fault is fixed a plain re-run completes with nothing lost or duplicated."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from datetime import date, datetime, timezone

import psycopg
import pytest
import yaml

import hotcold
from hotcold import faults
from hotcold.errors import HotColdError, StepFailed
from hotcold.ops.rotation import rotate
from hotcold.ops.verify import verify
from hotcold.store.lake import day_file
from support import demo_project, snapshot, union_rows

pytestmark = pytest.mark.crash

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"


def everything(config):
    hot, lake = union_rows(config, "market_data", MD_COLS)
    return sorted(hot + lake, key=repr)


def assert_complete(config, before):
    hot, lake = union_rows(config, "market_data", MD_COLS)
    assert sorted(hot + lake, key=repr) == before
    assert len({r[:3] for r in hot + lake}) == len(before)
    assert verify(config, deep=True).ok


def with_lake(config_path, root):
    cfg = yaml.safe_load(config_path.read_text())
    cfg["storage"]["lake"]["root"] = str(root)
    config_path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(config_path)


@pytest.mark.parametrize("where", ["a file in the way", "a read-only filesystem"])
def test_an_unwritable_lake_is_one_line_and_changes_nothing(pg_project, tmp_path, where):
    if where == "a file in the way":
        (tmp_path / "blocked").write_text("not a folder")
        root = tmp_path / "blocked" / "cold_storage"
    else:
        root = "/proc/hotcold-lake/cold_storage"  # root cannot write there either
    config = with_lake(pg_project.path, root)
    hot_before = snapshot(config, "market_data", "*")
    proc = subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--config", str(config.path)], capture_output=True, text=True, timeout=120)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "not writable" in errors[0] or "cannot create the rotation lock" in errors[0]
    assert snapshot(config, "market_data", "*") == hot_before


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB filesystem (tmpfs), grown on request: the fault, then its fix."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    assert proc.returncode == 0, f"this test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): {proc.stderr}"

    def grow():
        subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)

    try:
        yield mount, grow
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_disk_that_fills_during_the_copy_stops_before_delete(tmp_path, pg_dsn, small_disk):
    mount, grow = small_disk
    config = demo_project(tmp_path, "postgres", pg_dsn, symbols=20)
    cfg = yaml.safe_load(config.path.read_text())
    cfg["storage"]["lake"] = {"root": str(mount / "cold_storage"), "state_path": str(tmp_path / "state" / "state.duckdb")}
    config.path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(config.path)
    before, hot_before = everything(config), snapshot(config, "market_data", MD_COLS)

    with pytest.raises(StepFailed) as exc:
        rotate(config, as_of=AS_OF)
    # The stage streams the day files onto the lake's disk, so that is where it fills.
    assert "hotcold_stage_write" in str(exc.value) and "No space left on device" in str(exc.value), exc.value
    assert "nothing was deleted" in str(exc.value)
    assert snapshot(config, "market_data", MD_COLS) == hot_before

    grow()
    rotate(config, as_of=AS_OF)
    assert_complete(config, before)


def _late_row(dsn: str, ts: datetime) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into market_data values ('LATE', '1day', %s, 1, 2, 0.5, 1.5, 10, 1.25)", [ts])


def test_a_corrupt_day_file_stops_the_merge_and_a_restored_one_completes(pg_project, pg_dsn, tmp_path):
    rotate(pg_project, as_of=AS_OF)
    day = datetime(2026, 3, 2, tzinfo=timezone.utc)
    path = day_file(pg_project.lake_root, "market_data", day.date())
    backup = tmp_path / "backup.parquet"
    shutil.copy(path, backup)
    _late_row(pg_dsn, day)
    before = everything(pg_project) + []
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])

    with pytest.raises(StepFailed) as exc:
        rotate(pg_project, as_of=AS_OF)
    assert "hotcold_export" in str(exc.value) and str(path) in str(exc.value) and "nothing was deleted" in str(exc.value)
    assert [r for r in snapshot(pg_project, "market_data", "symbol") if r[0] == "LATE"], "the late row is still hot"

    shutil.copy(backup, path)
    rotate(pg_project, as_of=AS_OF)
    assert_complete(pg_project, sorted(before, key=repr))


def test_a_missing_day_file_stops_the_merge(pg_project, pg_dsn):
    rotate(pg_project, as_of=AS_OF)
    day = datetime(2026, 3, 3, tzinfo=timezone.utc)
    path = day_file(pg_project.lake_root, "market_data", day.date())
    path.unlink()
    _late_row(pg_dsn, day)
    with pytest.raises(StepFailed, match=r"recorded but missing; restore it"):
        rotate(pg_project, as_of=AS_OF)
    assert [r for r in snapshot(pg_project, "market_data", "symbol") if r[0] == "LATE"]


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut, as a network or server failure."""

    def __init__(self, port: int):
        self.target, self.conns, self.up = port, [], True
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            Proxy._close(a, b)

    @staticmethod
    def _close(*sockets):
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.up = False
        self._close(*self.conns)

    def restore(self):
        self.up = True


def test_postgres_going_away_mid_run_stops_before_delete(pg_project, pg_dsn):
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = conninfo_to_dict(pg_dsn)
    proxy = Proxy(int(parts.get("port", 5432)))
    cfg = yaml.safe_load(pg_project.path.read_text())
    cfg["storage"]["hot_store"]["dsn"] = make_conninfo(pg_dsn, host="127.0.0.1", port=str(proxy.port))
    pg_project.path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(pg_project.path)
    before, hot_before = everything(config), snapshot(config, "market_data", MD_COLS)

    faults.on("publish.between_days", proxy.cut)
    try:
        with pytest.raises(HotColdError) as exc:
            rotate(config, as_of=AS_OF)
    finally:
        faults.on("publish.between_days", None)
    assert "nothing was deleted" in str(exc.value), exc.value
    proxy.restore()
    assert snapshot(config, "market_data", MD_COLS) == hot_before
    rotate(config, as_of=AS_OF)
    assert_complete(config, before)
