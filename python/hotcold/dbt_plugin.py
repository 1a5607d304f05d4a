"""dbt-duckdb plugin: prepares every DuckDB connection dbt opens for hotcold.

Listed in profiles.yml, so a plain `dbt build` gets the same set-up as `hotcold rotate`:
the offline postgres extension, UTC, the hot store ATTACHed as `hot` (its DSN read from the
config and the environment, never from a file dbt writes), the rotation lock, and the
config's settings as tables the macros read.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from . import config as config_mod
from . import faults, fingerprint, pg_hash
from .hot_store import attach_hot
from .lake import private_dirs, stage_root, staging_root
from .lock import RotationLock, held_by_this_process

_PROCESS_LOCK: RotationLock | None = None  # held for the life of a plain `dbt` process


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.config = config_mod.load(plugin_config.get("config_path") or None)
        self.lock_rotation = bool(plugin_config.get("lock", True))

    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        # The state database lives beside the lake, wherever the config puts the lake.
        # Private: the state database and staged files hold the same data as the lake.
        private_dirs(self.config.state_path.parent)
        private_dirs(staging_root(self.config.lake_root))
        private_dirs(stage_root(self.config.lake_root))
        creds.path = str(self.config.state_path)
        if self.lock_rotation:
            _hold_process_lock(self.config)

    def configure_connection(self, conn) -> None:
        conn.execute("SET TimeZone = 'UTC'")
        # DuckDB draws its progress bar on stdout, where `rotate --json` writes its report.
        conn.execute("SET enable_progress_bar = false")
        faults.register(conn)
        # verify computes PostgreSQL's hash functions over the lake's values (lake_types.sql).
        pg_hash.register(conn)
        fingerprint.register(conn)
        attach_hot(conn, self.config)
        write_settings(conn, self.config)


def _hold_process_lock(config) -> None:
    global _PROCESS_LOCK
    if held_by_this_process() or _PROCESS_LOCK is not None:
        return
    _PROCESS_LOCK = RotationLock(config).acquire()


def write_settings(conn, config) -> None:
    """Expose the validated config to the macros as two small tables."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS _hotcold")
    conn.execute(
        """
        CREATE OR REPLACE TABLE _hotcold.settings AS SELECT
            ?::VARCHAR AS hot_kind, ?::VARCHAR AS hot_schema, ?::INTEGER AS hot_days,
            ?::VARCHAR AS hot_intervals, ?::VARCHAR AS lake_root,
            ?::BOOLEAN AS auto_rotation_enabled, ?::VARCHAR AS config_path,
            ?::VARCHAR AS staging_root, ?::VARCHAR AS log_file, ?::VARCHAR AS catalog_path,
            ?::INTEGER AS lake_file_mode, ?::VARCHAR AS stage_root, ?::VARCHAR AS lake_compression
        """,
        [
            config.hot.kind,
            config.hot.schema,
            config.hot_days,
            ",".join(config.hot_intervals),
            str(config.lake_root),
            config.auto_rotation_enabled,
            str(config.path),
            str(staging_root(config.lake_root)),
            str(config.log_file),
            str(config.catalog_path),
            config.lake_file_mode,
            str(stage_root(config.lake_root)),
            config.lake_compression,
        ],
    )
    conn.execute(
        """
        CREATE OR REPLACE TABLE _hotcold.table_specs (
            name VARCHAR, time_column VARCHAR, key_columns VARCHAR,
            interval_column VARCHAR, rotate BOOLEAN)
        """
    )
    conn.executemany(
        "INSERT INTO _hotcold.table_specs VALUES (?, ?, ?, ?, ?)",
        [
            [t.name, t.time_column, ",".join(t.key), t.interval_column or "", t.rotate]
            for t in config.tables.values()
        ],
    )
