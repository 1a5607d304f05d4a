"""Installable anywhere (issue "Installable anywhere"): the wheel, installed non-editable into a
fresh virtualenv, runs from an empty folder with nothing but what pip put there: `hotcold
init`, `hotcold demo`, `hotcold status`, and plain `dbt deps && dbt run` in the dbt project
init wrote, which takes hotcold's rotation as a dbt package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(args, cwd, env=None, timeout=600):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv with the wheel built from this checkout, installed non-editable."""
    tmp = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(ROOT)], cwd=tmp)
    wheel = next((tmp / "dist").glob("hotcold-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    run([str(bin_dir / "pip"), "install", "-q", str(wheel)], cwd=tmp, timeout=900)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTCOLD_", "DBT_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return bin_dir, env


def test_the_wheel_runs_from_an_empty_folder_with_the_cli_and_with_plain_dbt(installed, tmp_path):
    bin_dir, env = installed
    work = tmp_path / "desk"
    work.mkdir()
    # The package, not this checkout: the dbt project comes from site-packages.
    where = run([str(bin_dir / "python"), "-c", "import hotcold.dbt.shipped as s; print(s.project_dir())"], cwd=work, env=env)
    assert "site-packages" in where and str(ROOT) not in where
    run([str(bin_dir / "hotcold"), "init", "."], cwd=work, env=env)
    assert {p.name for p in work.iterdir()} >= {"unified_config.yaml", "dbt_project.yml", "packages.yml", "profiles.yml", "models"}
    assert "storage:" in (work / "unified_config.yaml").read_text() and "# " in (work / "unified_config.yaml").read_text()
    # A second init refuses to overwrite, with one line and the fix.
    proc = subprocess.run([str(bin_dir / "hotcold"), "init", "."], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--force" in proc.stderr and "Traceback" not in proc.stderr

    run([str(bin_dir / "hotcold"), "demo", "--symbols", "2", "--years", "1", "--as-of", "2026-11-10"], cwd=work, env=env)
    before = json.loads(run([str(bin_dir / "hotcold"), "status", "--json", "--as-of", "2026-11-10"], cwd=work, env=env))
    # The README's line for analysts: the DuckDB CLI came with the install.
    counted = run([str(bin_dir / "duckdb"), "-readonly", "data_lake/hotcold.duckdb", "-csv", "-noheader", "-c", "select count(*) from cold.market_data"], cwd=work, env=env)
    lake_rows = before["tables"]["market_data"]["lake"]["rows"]
    assert int(counted.strip()) == lake_rows
    assert before["tables"]["market_data"]["lake"]["days"] > 200

    # Plain dbt in the user's own project: the rotation runs from the hotcold package.
    run([str(bin_dir / "dbt"), "deps"], cwd=work, env=env)
    out = run([str(bin_dir / "dbt"), "run", "--vars", "{as_of: 2026-11-25}"], cwd=work, env=env)
    assert "hotcold_publish" in out and "ERROR=0" in out
    after = json.loads(run([str(bin_dir / "hotcold"), "status", "--json", "--as-of", "2026-11-25"], cwd=work, env=env))
    # Fifteen more days of daily bars aged out (the lake had those days' 1min bars already).
    assert after["tables"]["market_data"]["lake"]["rows"] == lake_rows + before["tables"]["market_data"]["hot"]["rows"] - after["tables"]["market_data"]["hot"]["rows"] > lake_rows
    assert after["tables"]["market_data"]["hot"]["oldest"] >= "2026-10-26"


def test_demo_in_an_empty_folder_needs_no_config_file(installed, tmp_path):
    bin_dir, env = installed
    out = run([str(bin_dir / "hotcold"), "demo", "--symbols", "1", "--years", "1", "--json"], cwd=tmp_path, env=env)
    assert json.loads(out)["tables"]
    assert (tmp_path / "unified_config.yaml").is_file() and (tmp_path / "data_lake" / "cold_storage" / "market_data").is_dir()
