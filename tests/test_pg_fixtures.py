"""The PostgreSQL fixtures give each test a real, private database."""
import psycopg
import pytest


def test_select_1(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# Run twice: whichever runs second would fail if the two tests shared a database.
@pytest.mark.parametrize("run", [1, 2])
def test_databases_are_isolated(pg_dsn, run):
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select current_database()").fetchone()[0].startswith("hc_test_")
        assert conn.execute("select to_regclass('public.hc_isolation_probe')").fetchone() == (None,)
        conn.execute("create table hc_isolation_probe (run int)")
