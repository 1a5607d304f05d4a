"""Where the dbt project hotcold ships lives: inside the installed package (hotcold/project/,
put there by setup.py when the wheel is built) or, in an editable install or a checkout, at the
repository's root, which is the one copy in the source tree."""

from __future__ import annotations

from pathlib import Path

from hotcold.errors import HotColdError

PACKAGED = Path(__file__).resolve().parents[1] / "project"  # hotcold/project
SOURCE = Path(__file__).resolve().parents[3]  # the checkout: python/hotcold/dbt/shipped.py


def project_dir() -> Path:
    """The folder holding hotcold's dbt_project.yml, profiles.yml, models/ and macros/.

    Raises HotColdError when neither place has it (a broken install)."""
    for candidate in (PACKAGED, SOURCE):
        if (candidate / "dbt_project.yml").is_file() and (candidate / "macros").is_dir():
            return candidate
    raise HotColdError(f"hotcold's dbt project is missing from {PACKAGED}", "reinstall hotcold: pip install --force-reinstall hotcold")


def config_template() -> Path:
    """The commented unified_config.yaml that `hotcold init` writes and `hotcold demo` runs
    on when no config file is given."""
    return project_dir() / "unified_config.yaml"
