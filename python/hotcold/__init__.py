"""hotcold: a PostgreSQL hot window and a Hive-partitioned Parquet lake, rotated by dbt."""

from .config import Config, load as load_config
from .errors import HotColdError
from .lifecycle import DataLifecycleManager
from .rotation import RotationReport, rotate
from .status import archival_status

__all__ = ["Config", "DataLifecycleManager", "HotColdError", "RotationReport", "archival_status", "load_config", "rotate"]
__version__ = "0.1.0"
