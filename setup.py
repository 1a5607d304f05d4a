"""The wheel carries the dbt project that sits at the repository's root (dbt_project.yml,
profiles.yml, models/, macros/ and the commented unified_config.yaml) as package data in
hotcold/project/, as dbt-duckdb ships dbt/include/duckdb/: one copy in the source tree, found
by hotcold.dbt.shipped at run time. An editable install reads it from the root instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROJECT = ("dbt_project.yml", "profiles.yml", "unified_config.yaml", "models", "macros")


class BuildWithProject(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "hotcold" / "project"
        shutil.rmtree(target, ignore_errors=True)  # a file deleted since the last build must not ship
        for name in PROJECT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithProject})
