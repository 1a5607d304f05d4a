"""Every error says its cause, also when it is raised inside a Python step (a dbt Python model:
stage_write, publish, reconcile, record).

dbt-duckdb reports any exception there as `Python model failed:` followed by the traceback,
and dbt keeps only that text; the user once saw `Error: step hotcold_stage_write failed:
Python model failed:` and nothing more. On real rotations against PostgreSQL, with fail points
inside the Python steps: a HotColdError or StepFailed keeps its problem and its fix, any other
exception (a message on several lines, or none at all) says its type and first line, all on
one `Error:` line and one `fix:` line, exit 1, no traceback.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from datetime import date

import pytest
from dbt_common.exceptions import DbtRuntimeError

from hotcold import faults
from hotcold.cli import app as cli
from hotcold.dbt import runner as dbt_runner
from hotcold.errors import StepFailed
from hotcold.ops.rotation import rotate
from support import snapshot

AS_OF = date(2026, 11, 25)
MD_COLS = "symbol, interval, ts, open, high, low, close, volume, vwap"


def hotcold_rotate(config, fail_at: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_") and k not in ("COLUMNS", "LINES")}
    env["HOTCOLD_FAIL_AT"] = fail_at
    return subprocess.run([sys.executable, "-m", "hotcold", "rotate", "--as-of", AS_OF.isoformat(), "--config", str(config.path)],
                          env=env, capture_output=True, text=True, timeout=600)


def one_error(returncode: int, stderr: str) -> tuple[str, str]:
    """The run failed with exactly one `Error:` line and one `fix:` line, and nothing else that
    a user could take for the cause: no traceback, no bare `Python model failed:`."""
    assert returncode == 1, (returncode, stderr)
    assert "Traceback" not in stderr and "Python model failed" not in stderr, stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    fixes = [ln.strip() for ln in stderr.splitlines() if ln.lstrip().startswith("fix:")]
    assert len(errors) == 1 and len(fixes) == 1, stderr
    return errors[0], fixes[0]


@pytest.mark.parametrize("point, step, state", [
    ("stage.after", "hotcold_stage_write", "nothing was deleted from the hot store"),
    ("record.before", "hotcold_record", "rows were archived and deleted; re-run to finish the remaining steps"),
])
@pytest.mark.slow
def test_a_hotcold_error_in_a_python_step_keeps_its_problem_and_its_fix(pg_project, point, step, state):
    proc = hotcold_rotate(pg_project, point)
    error, fix = one_error(proc.returncode, proc.stderr)
    assert error == f"Error: step {step} failed: fail point {point} was armed (HOTCOLD_FAIL_AT)", proc.stderr
    assert fix == f"fix: unset HOTCOLD_FAIL_AT; {state}", proc.stderr


def test_a_step_failed_raised_inside_a_python_step_reaches_the_user_with_its_fix(pg_project, monkeypatch, capsys):
    hot_before = snapshot(pg_project, "market_data", MD_COLS)

    def disk_refuses():
        raise StepFailed("the lake's disk refused\n  day 2026-03-02 of market_data", "free space on the lake's disk, then re-run")

    monkeypatch.setattr(sys, "argv", ["hotcold", "rotate", "--as-of", AS_OF.isoformat(), "--config", str(pg_project.path)])
    monkeypatch.setitem(cli.STATE, "debug", False)
    faults.on("publish.before_replace", disk_refuses)
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.main()
    finally:
        faults.on("publish.before_replace", None)
    error, fix = one_error(exit_.value.code, capsys.readouterr().err)
    assert error == "Error: step hotcold_publish failed: the lake's disk refused day 2026-03-02 of market_data"
    assert fix == "fix: free space on the lake's disk, then re-run; nothing was deleted from the hot store"
    assert snapshot(pg_project, "market_data", MD_COLS) == hot_before


@pytest.mark.slow
def test_a_plain_exception_with_a_message_on_several_lines_shows_its_type_and_first_line(pg_project):
    proc = hotcold_rotate(pg_project, "stage.after:bug")
    error, fix = one_error(proc.returncode, proc.stderr)
    assert error == "Error: step hotcold_stage_write failed: ValueError: fail point stage.after raised a plain ValueError (HOTCOLD_FAIL_AT)"
    assert "more lines" not in proc.stderr, proc.stderr
    assert fix == "fix: nothing was deleted from the hot store; fix the problem and re-run"


@pytest.mark.slow
def test_an_exception_with_no_message_says_its_type_and_where_it_was_raised(pg_project):
    proc = hotcold_rotate(pg_project, "publish.before_replace:bare")
    error, fix = one_error(proc.returncode, proc.stderr)
    assert error.startswith("Error: step hotcold_publish failed: OverflowError with no message, raised at faults.py line "), error
    assert error.endswith(" (in fail_point)"), error
    assert fix == "fix: nothing was deleted from the hot store; fix the problem and re-run"


@pytest.mark.slow
def test_debug_shows_the_traceback_of_what_the_step_raised(pg_project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTCOLD_")}
    env["HOTCOLD_FAIL_AT"] = "stage.after:bug"
    proc = subprocess.run([sys.executable, "-m", "hotcold", "--debug", "rotate", "--as-of", AS_OF.isoformat(), "--config", str(pg_project.path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ValueError: fail point stage.after" in proc.stderr and "StepFailed" in proc.stderr, proc.stderr[-3000:]


def test_a_sql_step_keeps_its_own_message(pg_project):
    proc = hotcold_rotate(pg_project, "stage.before")
    error, fix = one_error(proc.returncode, proc.stderr)
    assert error.startswith("Error: step hotcold_stage failed: ") and "fail point stage.before was armed" in error, error
    assert fix == "fix: nothing was deleted from the hot store; fix the problem and re-run"


def test_the_traceback_text_alone_is_enough(pg_project, monkeypatch):
    """Should dbt-duckdb's Python runner change so that the exception itself cannot be caught,
    the traceback text dbt keeps still gives the cause."""
    monkeypatch.setattr(dbt_runner, "_python_step_errors", lambda: contextlib.nullcontext({}))
    seen = {}
    for mode in ("raise", "bug", "bare"):
        monkeypatch.setenv("HOTCOLD_FAIL_AT", f"stage.after:{mode}")
        with pytest.raises(StepFailed) as exc:
            rotate(pg_project, as_of=AS_OF)
        seen[mode] = exc.value.problem
        assert "\n" not in exc.value.problem and exc.value.fix, exc.value
    assert seen["raise"] == "step hotcold_stage_write failed: fail point stage.after was armed (HOTCOLD_FAIL_AT) (unset HOTCOLD_FAIL_AT)"
    assert seen["bug"] == "step hotcold_stage_write failed: ValueError: fail point stage.after raised a plain ValueError (HOTCOLD_FAIL_AT)"
    assert seen["bare"].startswith("step hotcold_stage_write failed: OverflowError with no message, raised at faults.py line ")


def _dbt_duckdb_message(exc: BaseException) -> str:
    """The text dbt-duckdb makes of an exception in a Python model, as dbt reports it."""
    import traceback

    try:
        raise exc
    except BaseException as err:
        return str(DbtRuntimeError(f"Python model failed:\n{''.join(traceback.format_exception(err))}"))


def test_the_traceback_text_of_a_library_error_or_a_chain():
    class ArrowInvalid(ValueError):  # pyarrow's: not named ...Error
        pass

    assert dbt_runner._clean(_dbt_duckdb_message(ArrowInvalid("Integer value -9223372036854775807 not in range"))) == \
        "ArrowInvalid: Integer value -9223372036854775807 not in range"
    try:
        try:
            raise OverflowError("date value out of range")
        except OverflowError as inner:
            raise RuntimeError("\n\n  reading the stage failed\n  ValueError: not this line") from inner
    except RuntimeError as outer:
        chained = outer
    assert dbt_runner._clean(_dbt_duckdb_message(chained)) == "RuntimeError: reading the stage failed"
