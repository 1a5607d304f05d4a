"""Fixtures backed by a real PostgreSQL: tests never mock it and never skip for lack of it.

``pg_server_dsn`` (session) finds a server, in this order:

1. ``$HOTCOLD_TEST_PG_DSN`` - any libpq DSN whose user may CREATE DATABASE;
2. a server on 127.0.0.1:5432 accepting user ``postgres`` without a password
   (``HOTCOLD_TEST_PG_NO_LOCAL=1`` ignores it, e.g. to exercise 3.);
3. a throwaway cluster built with local ``initdb``/``pg_ctl`` and deleted at session end.

If none works the session fails. ``pg_dsn`` gives each test its own fresh database.
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile

import psycopg
import pytest

LOCAL_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
HOW_TO = (
    "no PostgreSQL for the tests: set HOTCOLD_TEST_PG_DSN, or run a server on 127.0.0.1:5432 "
    "that accepts user postgres, or install the PostgreSQL server binaries (initdb, pg_ctl)"
)
_source = None  # which server pg_server_dsn picked, shown in the terminal summary


def _connect_error(dsn):
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as e:
        return " ".join(str(e).split())
    return None


def _pg_bindir():
    dirs = [os.path.dirname(p) for p in [shutil.which("initdb")] if p]
    dirs += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(n) for n in re.findall(r"\d+", d)],
        reverse=True,
    )
    for d in dirs:
        if all(os.access(os.path.join(d, exe), os.X_OK) for exe in ("initdb", "pg_ctl")):
            return d
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _throwaway_cluster(bindir):
    root = tempfile.mkdtemp(prefix="hc_pg_")
    data, port = os.path.join(root, "data"), _free_port()
    as_owner = []

    def run(exe, *args):
        # cwd=root: the postgres user may not be able to read our cwd (e.g. /root).
        subprocess.run(as_owner + [os.path.join(bindir, exe), *args], cwd=root, check=True,
                       capture_output=True, text=True)

    try:
        if os.geteuid() == 0:
            # initdb refuses to run as root, so the cluster belongs to the postgres OS user.
            shutil.chown(root, user="postgres")
            # runuser lives in /usr/sbin, which a non-login root PATH may lack.
            runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
            as_owner = [runuser or "runuser", "-u", "postgres", "--"]
        run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C")
        # -l matters: without it the server inherits our pipes and subprocess.run never returns.
        run("pg_ctl", "-D", data, "-l", os.path.join(root, "server.log"),
            "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "-w", "start")
    except (OSError, LookupError, subprocess.CalledProcessError) as e:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(e, "stderr", None) or str(e)
        pytest.fail(f"{HOW_TO} (throwaway cluster from {bindir} failed: {' '.join(detail.split())})",
                    pytrace=False)
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        try:
            run("pg_ctl", "-D", data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_dsn():
    global _source
    dsn = os.environ.get("HOTCOLD_TEST_PG_DSN")
    if dsn:
        # An explicit choice that does not work is an error, not a reason to look elsewhere.
        error = _connect_error(dsn)
        if error:
            pytest.fail(f"HOTCOLD_TEST_PG_DSN is set but unusable: {error}", pytrace=False)
        _source = "HOTCOLD_TEST_PG_DSN"
        yield dsn
        return
    if os.environ.get("HOTCOLD_TEST_PG_NO_LOCAL") != "1" and not _connect_error(LOCAL_DSN):
        _source = "server on 127.0.0.1:5432"
        yield LOCAL_DSN
        return
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail(HOW_TO, pytrace=False)
    with _throwaway_cluster(bindir) as dsn:
        _source = f"throwaway cluster from {bindir} ({dsn})"
        yield dsn


@pytest.fixture
def pg_dsn(pg_server_dsn):
    from support import scratch_database

    with scratch_database(pg_server_dsn) as dsn:
        yield dsn


_worker_figures: list[dict] = []  # on the xdist controller: what each worker proved


def pytest_collection_modifyitems(items):
    # The three kinds of long fault test are slow too, so `-m "not slow"` leaves them out.
    for item in items:
        if any(item.get_closest_marker(m) for m in ("crash", "property", "bench")):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session):
    # On an xdist worker: hand the figures to the controller, which prints the sum.
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        from support import TALLY

        output["hotcold"] = {"tally": dict(TALLY), "source": _source}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    figures = getattr(node, "workeroutput", {}).get("hotcold")
    if figures:
        _worker_figures.append(figures)


def pytest_terminal_summary(terminalreporter):
    from collections import Counter

    from support import TALLY

    tally, sources = Counter(TALLY), {_source} if _source else set()
    for figures in _worker_figures:
        tally.update(figures["tally"])
        if figures["source"]:
            sources.add(figures["source"])
    # Known only once a test has asked for PostgreSQL, hence not in the report header.
    if sources:
        terminalreporter.write_line(f"hotcold tests used PostgreSQL: {'; '.join(sorted(sources))}")
    if tally:
        terminalreporter.write_line("hotcold fault figures: " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.items())))


@pytest.fixture
def pg_project(tmp_path, pg_dsn):
    """A PostgreSQL hot store of its own, filled with a year of the demo's data (3 symbols)."""
    from support import demo_project

    return demo_project(tmp_path, "postgres", pg_dsn)
