"""`DataLifecycleManager`: the Python face of hotcold, awaitable as the user's code expects.

    manager = DataLifecycleManager("unified_config.yaml")
    status = await manager.get_archival_status()
    report = await manager.rotate(dry_run=True)

The work is blocking (dbt, DuckDB, PostgreSQL), so each call runs in a worker thread and
never stalls the caller's event loop.
"""

from __future__ import annotations

import asyncio
from datetime import date

from hotcold import config as config_mod
from hotcold.ops.rotation import RotationReport, rotate
from hotcold.ops.status import archival_status


class DataLifecycleManager:
    def __init__(self, config: str | config_mod.Config | None = None):
        self.config = config if isinstance(config, config_mod.Config) else config_mod.load(config)

    async def get_archival_status(self, as_of: str | date | None = None) -> dict:
        return await asyncio.to_thread(archival_status, self.config, as_of)

    async def rotate(self, **options) -> RotationReport:
        return await asyncio.to_thread(rotate, self.config, **options)
