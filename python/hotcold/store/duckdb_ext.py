"""Install DuckDB's postgres extension from its PyPI wheel instead of the network.

DuckDB downloads extensions at run time, which a trading desk's machine (and CI) cannot do.
The signed extension ships in `duckdb-extension-postgres-scanner`, pinned to our DuckDB
version; installing it from that file puts it where `LOAD postgres` finds it, and DuckDB
still checks its signature.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from hotcold.errors import HotColdError
from hotcold.sqltext import lit


def postgres_extension_file() -> Path:
    try:
        import duckdb_extension_postgres_scanner as pkg
    except ImportError:
        raise HotColdError(
            "the DuckDB postgres extension package is not installed",
            f"pip install duckdb-extension-postgres-scanner=={duckdb.__version__}",
        ) from None
    files = sorted(Path(pkg.__file__).parent.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
    if not files:
        raise HotColdError(
            f"no postgres extension for DuckDB {duckdb.__version__} in {Path(pkg.__file__).parent}",
            f"pip install duckdb-extension-postgres-scanner=={duckdb.__version__} (it must match duckdb exactly)",
        )
    return files[0]


def load_postgres(conn: duckdb.DuckDBPyConnection) -> None:
    installed = conn.execute(
        "select installed from duckdb_extensions() where extension_name = 'postgres_scanner'"
    ).fetchone()
    if not (installed and installed[0]):
        conn.execute(f"INSTALL {lit(postgres_extension_file())}")
    conn.execute("LOAD postgres")
