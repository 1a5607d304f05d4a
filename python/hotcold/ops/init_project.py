"""`hotcold init`: a folder ready to run hotcold, with the CLI or with dbt alone.

Writes the commented unified_config.yaml (the user's storage.lifecycle keys first) and a dbt
project of the user's own that takes hotcold's rotation as a dbt package: packages.yml points
at the project this installation ships (hotcold.dbt.shipped), so `dbt deps && dbt run` rotates
from the user's folder, beside any models of their own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from hotcold.dbt import shipped
from hotcold.errors import HotColdError

DBT_PROJECT = """\
# Your dbt project. hotcold's rotation comes in as a dbt package (packages.yml): run
#   dbt deps            once, and again after upgrading hotcold
#   dbt run             the nightly rotation (dbt build also runs hotcold's checks)
# Settings are in unified_config.yaml beside this file (HOTCOLD_CONFIG points elsewhere).
# Per-run inputs are vars: dbt run --vars '{{as_of: 2026-11-25, tables: [market_data]}}'
name: {name}
version: "1.0.0"
config-version: 2
profile: hotcold
model-paths: ["models"]
flags:
  send_anonymous_usage_stats: false
"""


def config_text() -> str:
    """The commented unified_config.yaml hotcold ships."""
    return shipped.config_template().read_text()


def init(folder: Path, force: bool = False) -> list[Path]:
    """Write unified_config.yaml, dbt_project.yml, packages.yml and profiles.yml into `folder`
    (made if missing). Returns the paths written. Raises HotColdError when one exists already,
    unless `force`, or when the folder cannot be written."""
    folder = folder.resolve()
    project = shipped.project_dir()
    name = re.sub(r"[^a-z0-9_]", "_", folder.name.lower()).strip("_") or "lake"
    files = {
        "unified_config.yaml": config_text(),
        "dbt_project.yml": DBT_PROJECT.format(name=name if name[0].isalpha() else f"lake_{name}"),
        "packages.yml": "# hotcold's dbt project, as installed with pip; `dbt deps` links it into dbt_packages/.\n"
                        + yaml.safe_dump({"packages": [{"local": str(project)}]}, sort_keys=False),
        "profiles.yml": (project / "profiles.yml").read_text(),
    }
    existing = [n for n in files if (folder / n).exists()]
    if existing and not force:
        raise HotColdError(f"{folder} already has {', '.join(existing)}", "pass --force to overwrite them, or init another folder")
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "models").mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
            written.append(folder / name)
    except OSError as exc:
        raise HotColdError(f"cannot write {folder}: {exc.strerror or exc}", "choose a folder you can write to") from None
    return written


def write_config_if_missing(path: Path) -> bool:
    """Write the shipped config to `path` unless a file is there; True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped.config_template(), path)
    return True
