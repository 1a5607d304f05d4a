"""What the rotation's dbt models call: staging days from the hot store, fingerprints of
PostgreSQL's own values, publishing day files into the lake, recording the run, reading
backfill inputs, and the run's settings as each step reads them. Knows nothing of dbt itself."""
