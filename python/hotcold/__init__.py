"""hotcold: a PostgreSQL hot window and a Hive-partitioned Parquet lake, rotated by dbt.

The names below are imported when first used (PEP 562), so `import hotcold` stays light and
the `hotcold` command starts fast: `hotcold --help` loads neither dbt, DuckDB nor pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> (module, attribute)
_EXPORTS = {
    "BackfillReport": ("ops.backfill", "BackfillReport"),
    "backfill": ("ops.backfill", "backfill"),
    "Config": ("config", "Config"),
    "load_config": ("config", "load"),
    "HotColdError": ("errors", "HotColdError"),
    "DataLifecycleManager": ("ops.lifecycle", "DataLifecycleManager"),
    "ColdStorageQueryEngine": ("query.engine", "ColdStorageQueryEngine"),
    "RotationReport": ("ops.rotation", "RotationReport"),
    "rotate": ("ops.rotation", "rotate"),
    "StorageRouter": ("query.router", "StorageRouter"),
    "Source": ("pipeline.sources", "Source"),
    "SyntheticBars": ("pipeline.sources", "SyntheticBars"),
    "StatusReport": ("ops.status", "StatusReport"),
    "archival_status": ("ops.status", "archival_status"),
    "VerifyReport": ("ops.verify", "VerifyReport"),
    "verify": ("ops.verify", "verify"),
}

__all__ = [*_EXPORTS, "lake_schema"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from hotcold.config import Config
    from hotcold.config import load as load_config
    from hotcold.errors import HotColdError
    from hotcold.ops.backfill import BackfillReport, backfill
    from hotcold.ops.lifecycle import DataLifecycleManager
    from hotcold.ops.rotation import RotationReport, rotate
    from hotcold.ops.status import StatusReport, archival_status
    from hotcold.ops.verify import VerifyReport, verify
    from hotcold.pipeline.sources import Source, SyntheticBars
    from hotcold.query.engine import ColdStorageQueryEngine
    from hotcold.query.router import StorageRouter


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hotcold' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])


def lake_schema(config, table: str):
    """The union of the columns of `table`'s day files, for pyarrow and other readers that take
    a schema (see lake.lake_schema)."""
    from hotcold.store.lake import lake_schema as _lake_schema

    return _lake_schema(config.lake_root, table)
