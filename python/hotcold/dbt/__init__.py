"""hotcold's side of dbt: running the shipped project in-process (runner), the dbt-duckdb
plugin that opens each run's session with its settings and the pipeline's DuckDB functions
(plugin), and finding the project inside the installed package (shipped)."""
