"""The `hotcold` command as a user runs it: a real subprocess, real dbt, real PostgreSQL.

Mistakes a user can fix end in one `Error:` line plus a `fix:` line and exit code 1, never a
traceback (unless --debug), and never show a password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

import hotcold
from hotcold.ops.demo import fill_demo_data
from hotcold.store.lock import HELD_ENV, RotationLock
from support import lake_files, snapshot, write_config

AS_OF = date(2026, 11, 25)
MD_KEY = "symbol, interval, ts"
NEWS_KEY = "id"
TABLES = {"market_data", "news", "features", "social_sentiment"}
UNREACHABLE = "host=127.0.0.1 port=1 dbname=x user=postgres password=s3cret connect_timeout=5"


def clean_env(**extra: str) -> dict:
    """The user's environment minus anything hotcold reads, so only the test's config counts.

    Built explicitly: HOTCOLD_LOCK_HELD (set by RotationLock.acquire in this process) and the
    developer's own HOTCOLD_* overrides never reach the child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_") and k not in ("COLUMNS", "LINES")}
    assert HELD_ENV not in env
    env.update(extra)
    return env


def hotcold_cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "hotcold.cli", *args],
        cwd=cwd, env=env if env is not None else clean_env(), capture_output=True, text=True, timeout=300,
    )
    return proc


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1, exactly one `Error:` line naming the problem, a fix, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    errors = error_lines(proc)
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    assert any(ln.lstrip().startswith("fix:") for ln in proc.stderr.splitlines()), proc.stderr
    return errors[0]


def write_yaml(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


# --- user errors, no database needed -------------------------------------------------------------

def test_bad_config_is_one_error_line_and_debug_shows_the_traceback(tmp_path):
    write_config(tmp_path, "duckdb", hot_days=-1)
    proc = hotcold_cli(tmp_path, "status")
    assert_user_error(proc, "hot_days", "positive", "got -1")
    assert proc.stdout == ""

    debug = hotcold_cli(tmp_path, "--debug", "status")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr


def test_error_text_is_printed_verbatim_not_as_markup(tmp_path):
    """Rich markup in a message ('[symbol, ts]', '[/b]') must neither vanish nor crash."""
    write_config(tmp_path, "duckdb")
    proc = hotcold_cli(tmp_path, "rotate", "--table", "[/b]")
    assert_user_error(proc, "unknown table '[/b]'")

    cfg = yaml.safe_load((tmp_path / "unified_config.yaml").read_text())
    cfg["tables"]["news"]["key"] = []
    write_yaml(tmp_path / "unified_config.yaml", cfg)
    proc = hotcold_cli(tmp_path, "status")
    assert_user_error(proc, "'tables.news.key' must list the columns")
    assert "fix: e.g. key: [symbol, interval, ts]" in proc.stderr


def test_config_option_and_missing_config(tmp_path):
    proc = hotcold_cli(tmp_path, "status")  # no unified_config.yaml in cwd
    assert_user_error(proc, "config file not found", str(tmp_path / "unified_config.yaml"))
    proc = hotcold_cli(tmp_path, "status", "--config", str(tmp_path / "elsewhere.yaml"))
    assert_user_error(proc, "config file not found", "elsewhere.yaml")


def test_under_json_an_error_is_json_too(tmp_path):
    proc = hotcold_cli(tmp_path, "status", "--json")
    assert_user_error(proc, "config file not found")
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "ConfigError" and "config file not found" in error["problem"] and error["fix"]


def test_rotate_rejects_a_bad_date_and_an_unknown_table(tmp_path):
    write_config(tmp_path, "duckdb")
    assert_user_error(hotcold_cli(tmp_path, "rotate", "--as-of", "notadate"), "--as-of", "'notadate'")
    assert_user_error(hotcold_cli(tmp_path, "rotate", "--table", "nosuch"), "unknown table 'nosuch'")
    assert not (tmp_path / "lake").exists(), "nothing ran"


def test_usage_error_exits_2_without_traceback(tmp_path):
    proc = hotcold_cli(tmp_path, "rotate", "--no-such-option")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--no-such-option" in proc.stderr


# --- unreachable PostgreSQL ------------------------------------------------------------------------

def test_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    write_config(tmp_path, "postgres", UNREACHABLE)
    proc = hotcold_cli(tmp_path, "status")
    line = assert_user_error(proc, "cannot connect to the hot store", "port=1")
    assert "password=***" in line
    assert "s3cret" not in proc.stdout + proc.stderr


def test_unreachable_postgres_from_env_url_hides_the_password(tmp_path):
    write_config(tmp_path, "duckdb")
    env = clean_env(HOTCOLD_HOT_DSN="postgresql://postgres:s3cret@127.0.0.1:1/x?connect_timeout=5")
    proc = hotcold_cli(tmp_path, "rotate", "--as-of", "2026-11-25", env=env)
    assert_user_error(proc, "cannot connect to the hot store", "postgres:***@127.0.0.1:1")
    assert "s3cret" not in proc.stdout + proc.stderr
    assert not (tmp_path / "lake" / "cold_storage").exists() or lake_files(hotcold.load_config(tmp_path / "unified_config.yaml")) == []


# --- against real PostgreSQL ----------------------------------------------------------------------

def test_rotate_and_status_on_postgres(pg_project, tmp_path):
    config = pg_project
    md_before = snapshot(config, "market_data", MD_KEY)
    news_before = snapshot(config, "news", NEWS_KEY)
    assert md_before and news_before

    # Dry run: a plan as JSON, nothing changes.
    proc = hotcold_cli(tmp_path, "rotate", "--dry-run", "--as-of", "2026-11-25", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["dry_run"] is True and plan["as_of"] == "2026-11-25"
    assert plan["tables"]["market_data"]["rows"] > 0 and plan["tables"]["market_data"]["days"] > 0
    assert set(plan["tables"]) == {"market_data"}, "by default only storage.rotation.tables"
    assert snapshot(config, "market_data", MD_KEY) == md_before
    assert lake_files(config) == []

    # Only news, forced: market_data in the hot store is untouched.
    proc = hotcold_cli(tmp_path, "rotate", "--as-of", "2026-11-25", "--table", "news", "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["dry_run"] is False and set(report["tables"]) == {"news"}
    archived = report["tables"]["news"]["archived_rows"]
    assert archived > 0 and report["tables"]["news"]["deleted_rows"] == archived
    assert snapshot(config, "market_data", MD_KEY) == md_before
    assert len(snapshot(config, "news", NEWS_KEY)) == len(news_before) - archived
    files = lake_files(config)
    assert files and all(f.startswith("news/") for f in files)

    # Status as JSON: all four tables, news now partly in the lake.
    proc = hotcold_cli(tmp_path, "status", "--json", "--as-of", "2026-11-25")
    assert proc.returncode == 0, proc.stderr
    st = json.loads(proc.stdout)
    assert set(st["tables"]) == TABLES and st["as_of"] == "2026-11-25"
    assert st["tables"]["market_data"]["hot"]["rows"] == len(md_before)
    assert st["tables"]["market_data"]["lake"]["rows"] == 0
    assert st["tables"]["news"]["lake"]["rows"] == archived
    assert st["tables"]["news"]["last_run"]["outcome"] == "ok"
    assert "password" not in st["hot_store"] or "***" in st["hot_store"]

    # Status for people: a table.
    proc = hotcold_cli(tmp_path, "status", "--as-of", "2026-11-25")
    assert proc.returncode == 0, proc.stderr
    assert "hotcold status as of 2026-11-25" in proc.stdout
    rows = {ln.split()[1]: ln for ln in proc.stdout.splitlines() if ln.startswith("│")}
    assert set(rows) == TABLES, proc.stdout  # full names: piped output is not squeezed to 80 columns
    assert f"{len(md_before):,}" in rows["market_data"] and "never" in rows["market_data"]
    assert " ok 20" in rows["news"], "news was rotated once, successfully"


@pytest.mark.slow
def test_disabled_rotation_refuses_and_force_runs(tmp_path, pg_dsn):
    path = write_config(tmp_path, "postgres", pg_dsn, auto_rotation={"enabled": False, "schedule": "0 2 * * *"})
    config = hotcold.load_config(path)
    fill_demo_data(config, symbols=2, years=1, as_of=AS_OF)
    before = snapshot(config, "market_data", MD_KEY)

    proc = hotcold_cli(tmp_path, "rotate", "--as-of", "2026-11-25")
    assert_user_error(proc, "disabled")
    assert "--force" in proc.stderr
    assert snapshot(config, "market_data", MD_KEY) == before and lake_files(config) == []

    proc = hotcold_cli(tmp_path, "rotate", "--as-of", "2026-11-25", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "market_data" in proc.stdout
    assert len(snapshot(config, "market_data", MD_KEY)) < len(before)
    assert lake_files(config)


def test_a_held_rotation_lock_refuses_a_second_rotation(pg_project, tmp_path):
    config = pg_project
    before = snapshot(config, "market_data", MD_KEY)
    lock = RotationLock(config).acquire()
    try:
        assert os.environ.get(HELD_ENV) == str(os.getpid())
        proc = hotcold_cli(tmp_path, "rotate", "--as-of", "2026-11-25", env=clean_env())
    finally:
        lock.release()
    assert_user_error(proc, "another hotcold rotation")
    assert HELD_ENV not in os.environ
    assert snapshot(config, "market_data", MD_KEY) == before and lake_files(config) == []
