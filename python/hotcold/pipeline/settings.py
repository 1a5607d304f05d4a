"""The settings a rotation's steps read: the validated config, written by the hotcold dbt
plugin into the state database as one JSON value (`_hotcold.settings.value`), read by the
macros with fromjson (hotcold_settings) and by the Python steps with `settings(session)`."""

from __future__ import annotations

import json
from typing import Any

from hotcold.store.lake import stage_root, staging_root
from hotcold.store.partitions import TREE_SQL


def run_settings(config) -> dict[str, Any]:
    """What a rotation's steps need of the validated config, as one JSON-ready value: what
    the macros read with fromjson (hotcold_settings) and the Python steps with
    `settings(session)`, lists as lists. Holds no secret (the DSN stays in the ATTACH)."""
    return {
        "hot_kind": config.hot.kind,
        "hot_schema": config.hot.schema,
        "hot_days": config.hot_days,
        "lock_timeout_ms": int(config.hot.lock_timeout_s * 1000),
        "keep_detached": config.hot.keep_detached,
        "archive_schema": config.hot.archive_schema,
        "premake_days": config.hot.premake_days,
        "partition_tree_sql": TREE_SQL,
        "hot_intervals": list(config.hot_intervals),
        "lake_root": str(config.lake_root),
        "auto_rotation_enabled": config.auto_rotation_enabled,
        "config_path": str(config.path),
        "staging_root": str(staging_root(config.lake_root)),
        "stage_root": str(stage_root(config.lake_root)),
        "log_file": str(config.log_file),
        "catalog_path": str(config.catalog_path),
        "lake_file_mode": config.lake_file_mode,
        "lake_compression": config.lake_compression,
        "tables": [
            {"name": t.name, "time_column": t.time_column, "key": list(t.key), "interval_column": t.interval_column, "rotate": t.rotate}
            for t in sorted(config.tables.values(), key=lambda t: t.name)
        ],
    }


def settings(session) -> dict[str, Any]:
    """The run's settings (run_settings) from a step's DuckDB session."""
    return json.loads(session.execute("select value from _hotcold.settings").fetchone()[0])
