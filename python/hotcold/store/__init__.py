"""Where data and state live: the hot store (PostgreSQL or DuckDB), the Parquet lake, the
state database beside it, and the locks that keep writers apart. Imports nothing from the
other subpackages but config and errors."""
