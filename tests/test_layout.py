"""The package's folders show its architecture, and its dependencies go one way:

    (hotcold: config, errors, ...) <- store <- pipeline <- dbt <- query <- ops <- cli

A module may import from its own folder and from folders to its left, never to its right;
`import hotcold` loads neither typer nor rich nor dbt (test_read_only.py proves it at run time).
"""

from __future__ import annotations

import ast
from pathlib import Path

import hotcold

PACKAGE = Path(hotcold.__file__).resolve().parent
LAYERS = ["", "store", "pipeline", "dbt", "query", "ops", "cli"]  # "": the modules at the top


def layer(module: str) -> str:
    """`hotcold.store.lake` -> "store"; `hotcold.config` and `hotcold` -> ""."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def imports(path: Path, module: str) -> list[str]:
    """The hotcold modules `path` imports (at any depth, lazily or not), fully named."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "hotcold"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "hotcold":
            # `from hotcold.store import lake` names the module hotcold.store.lake.
            found += [f"{node.module}.{a.name}" if (PACKAGE.parent / node.module.replace(".", "/") / f"{a.name}.py").exists() else node.module
                      for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{module}: relative import; hotcold imports by full name")
    return found


def test_dependencies_go_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "project" in path.relative_to(PACKAGE).parts:
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        if module in ("hotcold", "hotcold.__main__"):
            continue  # the public face and the entry point re-export from every folder
        mine = LAYERS.index(layer(module))
        for target in imports(path, module):
            if LAYERS.index(layer(target)) > mine:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_every_folder_is_a_package_and_says_what_it_holds():
    for sub in LAYERS[1:]:
        init = PACKAGE / sub / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), sub
