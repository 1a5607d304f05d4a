"""hotcold: a PostgreSQL hot window and a Hive-partitioned Parquet lake, rotated by dbt.

The names below are imported when first used (PEP 562), so `import hotcold` stays light and
the `hotcold` command starts fast: `hotcold --help` loads neither dbt, DuckDB nor pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> (module, attribute)
_EXPORTS = {
    "BackfillReport": ("backfill", "BackfillReport"),
    "backfill": ("backfill", "backfill"),
    "Config": ("config", "Config"),
    "load_config": ("config", "load"),
    "HotColdError": ("errors", "HotColdError"),
    "DataLifecycleManager": ("lifecycle", "DataLifecycleManager"),
    "ColdStorageQueryEngine": ("query_engine", "ColdStorageQueryEngine"),
    "RotationReport": ("rotation", "RotationReport"),
    "rotate": ("rotation", "rotate"),
    "StorageRouter": ("router", "StorageRouter"),
    "Source": ("sources", "Source"),
    "SyntheticBars": ("sources", "SyntheticBars"),
    "StatusReport": ("status", "StatusReport"),
    "archival_status": ("status", "archival_status"),
    "VerifyReport": ("verify", "VerifyReport"),
    "verify": ("verify", "verify"),
}

__all__ = [*_EXPORTS, "lake_schema"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from .backfill import BackfillReport, backfill
    from .config import Config, load as load_config
    from .errors import HotColdError
    from .lifecycle import DataLifecycleManager
    from .query_engine import ColdStorageQueryEngine
    from .rotation import RotationReport, rotate
    from .router import StorageRouter
    from .sources import Source, SyntheticBars
    from .status import StatusReport, archival_status
    from .verify import VerifyReport, verify


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
    from .lake import lake_schema as _lake_schema

    return _lake_schema(config.lake_root, table)
