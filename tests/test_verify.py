"""`hotcold verify` finds what is wrong in a lake, and rotation will not delete rows of a day
whose published file fails the check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from hotcold import faults
from hotcold.errors import StepFailed
from hotcold.ops.rotation import rotate
from hotcold.ops.verify import verify
from hotcold.store.lake import day_file
from support import snapshot

AS_OF = date(2026, 11, 25)


@pytest.fixture
def rotated(pg_project):
    rotate(pg_project, as_of=AS_OF, full=True)
    return pg_project


def files(config, table="market_data"):
    return sorted((config.lake_root / table).rglob("*.parquet"))


@pytest.mark.slow
def test_a_clean_lake_verifies_deep(rotated):
    report = verify(rotated, deep=True)
    assert report.ok, report.problems
    assert report.tables["market_data"].files == len(files(rotated)) > 200


@pytest.mark.slow
def test_each_kind_of_damage_is_named(rotated):
    md = files(rotated)
    md[0].write_bytes(md[0].read_bytes()[:-20])                       # a torn footer
    md[1].unlink()                                                    # a missing day
    (md[2].parent / "notes.txt").write_text("x")                      # not the layout
    stray = day_file(rotated.lake_root, "market_data", date(2001, 1, 2))
    stray.parent.mkdir(parents=True)
    shutil.copy(md[3], stray)                                         # unrecorded, and its keys twice
    conn = duckdb.connect()                                           # same row count, other values
    conn.execute(f"copy (select * replace (close + 1 as close) from read_parquet('{md[4]}')) to '{md[4]}.tmp' (format parquet)")
    conn.close()
    shutil.move(f"{md[4]}.tmp", md[4])

    shallow = {(p.path, p.problem.split(":")[0].split(" ")[0]) for p in verify(rotated).problems}
    report = verify(rotated, deep=True)
    text = "\n".join(f"{p.path}: {p.problem}" for p in report.problems)
    assert f"{md[0]}: footer does not read" in text
    assert f"{md[1]}: recorded day has no file" in text
    assert f"{md[2].parent / 'notes.txt'}: path does not follow" in text
    assert f"{stray}: file is not in the lake's record" in text
    assert "key(s) appear more than once" in text
    assert f"{md[4]}: content differs from the record" in text
    assert not any(str(md[4]) == path for path, _ in shallow), "only --deep reads the values"

    proc = subprocess.run([sys.executable, "-m", "hotcold", "verify", "--config", str(rotated.path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "footer does not read" in proc.stdout
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")] == ["Error: the lake has 5 problem(s), listed above"]


def test_rotation_refuses_to_delete_when_a_published_file_fails(pg_project):
    hot_before = snapshot(pg_project, "market_data", "*")
    torn = []

    def tear_first_published_file():
        published = files(pg_project)
        if published and not torn:
            published[0].write_bytes(published[0].read_bytes()[:-20])
            torn.append(published[0])

    faults.on("publish.after", tear_first_published_file)
    try:
        with pytest.raises(StepFailed) as exc:
            rotate(pg_project, as_of=AS_OF)
    finally:
        faults.on("publish.after", None)
    assert "hotcold_delete" in str(exc.value) and "nothing was deleted" in str(exc.value)
    assert snapshot(pg_project, "market_data", "*") == hot_before, "no hot row was deleted"
    assert any(p.problem.startswith("footer does not read") for p in verify(pg_project).problems)
