"""Secrets and permissions: a password given in the DSN never reaches a log, status output,
dbt's artifacts, the catalog or the lake; lake files are private unless configured; a role
that owns nothing still rotates."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

import hotcold
from hotcold.ops.rotation import rotate

SECRET = "Pa55-w0rd-that-must-not-leak"


def cli(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hotcold", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_password_never_lands_in_output_or_files(pg_project, pg_dsn, tmp_path):
    user = "hc_secret_" + os.urandom(4).hex()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(SECRET)))
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}; GRANT CREATE ON DATABASE {} TO {}; GRANT ALL ON SCHEMA public TO {}").format(
            sql.Identifier(user), sql.Identifier(conn.info.dbname), sql.Identifier(user), sql.Identifier(user)))
        conn.execute(sql.SQL("ALTER TABLE market_data OWNER TO {}").format(sql.Identifier(user)))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
        env["HOTCOLD_HOT_DSN"] = make_conninfo(pg_dsn, user=user, password=SECRET)
        cfg = str(pg_project.path)
        outputs = [
            cli(tmp_path, env, "rotate", "--config", cfg, "--as-of", "2026-11-25"),
            cli(tmp_path, env, "status", "--config", cfg, "--json"),
            cli(tmp_path, env, "catalog", "--config", cfg, "--attach-sql"),
            cli(tmp_path, env, "query", "market_data", "--config", cfg, "--start", "2026-01-01", "--format", "csv"),
            cli(tmp_path, env, "rotate", "--config", cfg, "--table", "nope"),
        ]
        env["HOTCOLD_HOT_DSN"] = make_conninfo(pg_dsn, user=user, password=SECRET, port="1")
        outputs.append(cli(tmp_path, env, "status", "--config", cfg))
        assert [p.returncode for p in outputs] == [0, 0, 0, 0, 1, 1], [p.stderr[-500:] for p in outputs]
        for p in outputs:
            assert SECRET not in p.stdout + p.stderr
        written = [f for f in tmp_path.rglob("*") if f.is_file()]
        assert any("target" in f.parts for f in written) and any(f.suffix == ".parquet" for f in written) and any(f.name == "dbt.log" for f in written)
        leaks = [str(f) for f in written if SECRET.encode() in f.read_bytes()]
        assert leaks == [], f"the password is in {leaks}"
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE market_data OWNER TO CURRENT_USER")
            conn.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(user), sql.Identifier(user)))


def modes(root: Path):
    files = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_dir()}
    return files, dirs


@pytest.mark.slow
@pytest.mark.parametrize("file_mode, want_files, want_dirs", [(None, 0o600, 0o700), ("0640", 0o640, 0o750)])
def test_lake_files_are_private_unless_configured(pg_project, file_mode, want_files, want_dirs):
    if file_mode:
        cfg = yaml.safe_load(pg_project.path.read_text())
        cfg["storage"]["lake"]["file_mode"] = file_mode
        pg_project.path.write_text(yaml.safe_dump(cfg))
    config = hotcold.load_config(pg_project.path)
    rotate(config, as_of="2026-11-25")
    files, dirs = modes(config.lake_root / "market_data")
    assert files == {want_files} and dirs == {want_dirs}
    assert stat.S_IMODE(config.state_path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", ["0200", "644x", "rw-r--r--"])
def test_a_bad_file_mode_is_refused_at_load(pg_project, mode):
    cfg = yaml.safe_load(pg_project.path.read_text())
    cfg["storage"]["lake"]["file_mode"] = mode
    pg_project.path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(hotcold.HotColdError, match="storage.lake.file_mode"):
        hotcold.load_config(pg_project.path)


@pytest.mark.slow
def test_a_role_that_does_not_own_the_table_rotates_and_is_told_which_indexes_to_ask_for(pg_project, pg_dsn, tmp_path):
    # Least privilege: read, delete and write the hot table, own nothing.
    user = "hc_worker_" + os.urandom(4).hex()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA public TO {}; GRANT CREATE ON DATABASE {} TO {}; GRANT USAGE ON SCHEMA public TO {}").format(
            sql.Identifier(user), sql.Identifier(conn.info.dbname), sql.Identifier(user), sql.Identifier(user)))
        before = conn.execute("SELECT count(*) FROM market_data").fetchone()[0]
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
        env["HOTCOLD_HOT_DSN"] = make_conninfo(pg_dsn, user=user)
        proc = cli(tmp_path, env, "rotate", "--config", str(pg_project.path), "--as-of", "2026-11-25", "--json")
        assert proc.returncode == 0, proc.stderr[-800:]
        index = json.loads(proc.stdout)["tables"]["market_data"]["steps"]["index"]
        assert "only the owner of" in index["detail"] and "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"hotcold_aging_" in index["detail"]
        with psycopg.connect(pg_dsn) as conn:
            hot = conn.execute("SELECT count(*) FROM market_data").fetchone()[0]
        lake = duckdb.sql(f"select count(*) from read_parquet('{pg_project.lake_root}/market_data/*/*/*/*.parquet')").fetchone()[0]
        assert hot + lake == before and lake > 0
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(user), sql.Identifier(user)))
