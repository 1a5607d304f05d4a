"""dbt-duckdb plugin: prepares every DuckDB connection dbt opens for hotcold.

Listed in profiles.yml, so a plain `dbt build` gets the same set-up as `hotcold rotate`:
the offline postgres extension, UTC, the hot store ATTACHed as `hot` (its DSN read from the
config and the environment, never from a file dbt writes), the rotation lock, and the
config's settings as one JSON value the macros and the Python steps read.
"""

from __future__ import annotations

import json
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from hotcold import config as config_mod
from hotcold import faults
from hotcold.pipeline import fingerprint, pg_hash
from hotcold.pipeline.settings import run_settings
from hotcold.store.hot_store import attach_hot
from hotcold.store.lake import private_dirs, stage_root, staging_root
from hotcold.store.lock import RotationLock, held_by_this_process

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
    """Expose the validated config to the steps as one JSON value, _hotcold.settings.value."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS _hotcold")
    conn.execute("CREATE OR REPLACE TABLE _hotcold.settings AS SELECT ?::JSON AS value", [json.dumps(run_settings(config))])
    conn.execute("DROP TABLE IF EXISTS _hotcold.table_specs")  # the per-table rows of earlier versions
