"""`hotcold demo`: fill the hot store with synthetic data, then rotate every table."""

from __future__ import annotations

from datetime import date

from hotcold.config import Config
from hotcold.dbt import runner as dbt_runner
from hotcold.ops.rotation import RotationReport, parse_as_of, rotate


def fill_demo_data(config: Config, symbols: int = 200, years: int = 3, as_of: str | date | None = None) -> None:
    day = parse_as_of(as_of)
    args = {"symbols": symbols, "years": years, "as_of": day.isoformat()}
    import json

    dbt_runner.invoke(config, ["run-operation", "hotcold_demo_data", "--args", json.dumps(args)])


def run_demo(config: Config, symbols: int = 200, years: int = 3, as_of: str | date | None = None, on_step=None) -> RotationReport:
    fill_demo_data(config, symbols, years, as_of)
    return rotate(config, as_of=as_of, full=True, force=True, on_step=on_step)
