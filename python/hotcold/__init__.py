"""hotcold: a PostgreSQL hot window and a Hive-partitioned Parquet lake, rotated by dbt."""

from .backfill import BackfillReport, backfill
from .config import Config, load as load_config
from .errors import HotColdError
from .lifecycle import DataLifecycleManager
from .lake import lake_schema as _lake_schema
from .query_engine import ColdStorageQueryEngine
from .rotation import RotationReport, rotate
from .router import StorageRouter
from .sources import Source, SyntheticBars
from .status import archival_status
from .verify import VerifyReport, verify

__all__ = [
    "BackfillReport",
    "Source",
    "SyntheticBars",
    "backfill",
    "ColdStorageQueryEngine",
    "Config",
    "DataLifecycleManager",
    "HotColdError",
    "RotationReport",
    "StorageRouter",
    "archival_status",
    "lake_schema",
    "load_config",
    "rotate",
    "verify",
    "VerifyReport",
]
__version__ = "0.1.0"


def lake_schema(config: Config, table: str):
    """The union of the columns of `table`'s day files, for pyarrow and other readers that take
    a schema (see lake.lake_schema)."""
    return _lake_schema(config.lake_root, table)

