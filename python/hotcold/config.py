"""Load and validate `unified_config.yaml`.

The user's own keys (`storage.lifecycle.*`) are kept verbatim; hotcold adds the hot store
connection, the lake location and one spec per table. Every value is checked on load so a
mistake is one clear line, not a failure halfway through a rotation.

The file's shape lives in config_models.py (pydantic); this module reads the file, expands
`${VAR}`, applies the HOTCOLD_* overrides, turns a validation error into one ConfigError and
builds the frozen `Config` the rest of hotcold uses.
"""

from __future__ import annotations

import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hotcold.config_models import (  # noqa: F401  IDENTIFIER, INTERVAL, COMPRESSIONS, DEFAULT_TABLES, redact_dsn: re-exported
    COMPRESSIONS,
    DEFAULT_TABLES,
    IDENTIFIER,
    INTERVAL,
    Invalid,
    PostgresHotStore,
    UnifiedConfig,
    check_identifier,
    redact_dsn,
)
from hotcold.errors import ConfigError

DEFAULT_CONFIG = "unified_config.yaml"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DATA_TYPES = ("market_data", "news", "features", "social_sentiment")


@dataclass(frozen=True)
class TableSpec:
    name: str
    time_column: str
    key: tuple[str, ...]
    interval_column: str | None = None
    rotate: bool = False
    symbol_column: str | None = "symbol"  # what `symbols=` filters on; None: the table has none

    @property
    def columns_named(self) -> tuple[str, ...]:
        extra = (self.interval_column,) if self.interval_column else ()
        return tuple(dict.fromkeys((self.time_column, *self.key, *extra)))


@dataclass(frozen=True)
class HotStore:
    kind: str  # "postgres" or "duckdb"
    schema: str
    dsn: str | None = None  # postgres: libpq string or URL; never logged
    path: Path | None = None  # duckdb: the embedded hot store file
    lock_timeout_s: float = 5.0  # postgres: one attempt's wait for a strong lock (store.strong_locks)
    keep_detached: bool = False  # postgres: partitions whose rows are in the lake are kept detached, not dropped
    archive_schema: str = "hotcold_archive"  # postgres: where kept partitions go
    premake_days: int = 7  # postgres: days ahead a converted table's partitions are made for

    def describe(self) -> str:
        """A name for humans and logs: never carries a password."""
        if self.kind == "duckdb":
            return f"duckdb:{self.path}"
        return f"postgres:{redact_dsn(self.dsn or '')}"


@dataclass(frozen=True)
class Config:
    path: Path
    hot_days: int
    hot_intervals: tuple[str, ...]
    archive_on_backfill: bool
    auto_rotation_enabled: bool
    schedule: str
    hot: HotStore
    lake_root: Path
    state_path: Path
    catalog_path: Path
    log_file: Path
    query_cache_mb: int = 256
    lake_file_mode: int = 0o600  # lake files; folders get the same bits plus x where r is set
    lake_compression: str = "snappy"
    history_index: bool = True  # the symbol-clustered copy beside the lake (hotcold.query.history)
    tables: dict[str, TableSpec] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        return self.path.parent

    def table(self, name: str) -> TableSpec:
        if name not in self.tables:
            known = ", ".join(self.tables)
            raise ConfigError(f"unknown table '{name}'", f"use one of: {known}")
        return self.tables[name]

    def rotation_tables(self, full: bool = False, only: list[str] | None = None) -> list[TableSpec]:
        if only:
            return [self.table(n) for n in only]
        if full:
            return list(self.tables.values())
        return [t for t in self.tables.values() if t.rotate]


def load(path: str | os.PathLike | None = None) -> Config:
    cfg_path = Path(path or os.environ.get("HOTCOLD_CONFIG") or DEFAULT_CONFIG).resolve()
    if not cfg_path.is_file():
        raise ConfigError(
            f"config file not found: {cfg_path}",
            "pass --config PATH or run from the project folder that holds unified_config.yaml",
        )
    try:
        raw = yaml.safe_load(cfg_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{cfg_path.name} is not valid YAML: {exc}", "fix the YAML syntax") from None
    return parse(_expand_env(raw), cfg_path)


def _expand_env(value: Any) -> Any:
    """Replace `${NAME}` and `${NAME:-default}` so secrets stay in the environment."""
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"config names environment variable ${{{name}}}, which is not set",
                f"export {name}=... or write ${{{name}:-default}}",
            )
        return ENV_REF.sub(sub, value)
    return value


def _with_env_overrides(raw: Any) -> Any:
    """HOTCOLD_HOT_DSN, HOTCOLD_LAKE_ROOT and HOTCOLD_STATE_PATH win over the file.

    They replace the file's value before validation, so a deployment can override a key the
    file leaves as a placeholder. HOTCOLD_HOT_DSN also makes the hot store PostgreSQL."""
    dsn = os.environ.get("HOTCOLD_HOT_DSN")
    if dsn:
        raw = _override(raw, "hot_store", {"type": "postgres", "dsn": dsn})
    for variable, key in (("HOTCOLD_LAKE_ROOT", "root"), ("HOTCOLD_STATE_PATH", "state_path")):
        if os.environ.get(variable):
            raw = _override(raw, "lake", {key: os.environ[variable]})
    return raw


def _override(raw: Any, section: str, values: dict) -> Any:
    """A copy of `raw` with `values` set in storage.<section>."""
    raw = {} if raw is None else raw
    storage = raw.get("storage") if isinstance(raw, dict) else None
    part = storage.get(section) if isinstance(storage, dict) else None
    if not isinstance(raw, dict) or not isinstance(storage, (dict, type(None))) or not isinstance(part, (dict, type(None))):
        return raw  # not a mapping: validation refuses it, with the variable set or not
    return {**raw, "storage": {**(storage or {}), section: {**(part or {}), **values}}}


def parse(raw: Any, cfg_path: Path) -> Config:
    try:
        model = UnifiedConfig.model_validate(_with_env_overrides(raw))
    except ValidationError as exc:
        raise _config_error(exc) from None
    return _build(model, cfg_path)


def _build(model: UnifiedConfig, cfg_path: Path) -> Config:
    base = cfg_path.parent
    storage, lake = model.storage, model.storage.lake
    life, store = storage.lifecycle, storage.hot_store
    if isinstance(store, PostgresHotStore):
        parts = store.partitions
        hot = HotStore("postgres", store.schema_, dsn=store.dsn, lock_timeout_s=store.lock_timeout_s,
                       keep_detached=parts.keep_detached, archive_schema=parts.archive_schema, premake_days=parts.premake_days)
    else:
        hot = HotStore("duckdb", store.schema_, path=_path(store.path, base))
    lake_root = _path(lake.root, base)

    def beside_lake(key: str, default: str) -> Path:
        # Unset, hotcold's own files sit beside the lake root, wherever HOTCOLD_LAKE_ROOT moved it.
        return _path(getattr(lake, key) if key in lake.model_fields_set else str(lake_root.parent / default), base)

    rotate = set(storage.rotation.tables)
    return Config(
        path=cfg_path,
        hot_days=life.hot_days,
        hot_intervals=tuple(life.hot_intervals),
        archive_on_backfill=life.archive_on_backfill,
        auto_rotation_enabled=life.auto_rotation.enabled,
        schedule=life.auto_rotation.schedule,
        hot=hot,
        lake_root=lake_root,
        state_path=beside_lake("state_path", "_hotcold/state.duckdb"),
        catalog_path=beside_lake("catalog_path", "hotcold.duckdb"),
        log_file=_path(storage.logging.file, base),
        query_cache_mb=storage.query.cache_mb,
        lake_file_mode=int(lake.file_mode, 8),
        lake_compression=lake.compression,
        history_index=lake.history_index,
        tables={
            name: TableSpec(
                name=name,
                time_column=spec.time_column,
                key=tuple(spec.key),
                interval_column=spec.interval_column,
                rotate=name in rotate,
                symbol_column=spec.symbol_column,
            )
            for name, spec in model.tables.items()
        },
    )


def _path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def identifier(name: Any, where: str) -> str:
    """`name` if it is a plain SQL identifier, else a ConfigError naming `where`."""
    try:
        return check_identifier(name, key=where)
    except Invalid as exc:
        raise ConfigError(f"'{where}' {exc.problem}", exc.fix) from None


# --- pydantic's errors, as the user reads them ---------------------------------------------------

# Errors about a section itself (not a mapping, an unknown key): reported before its values.
_SHAPE = {"extra_forbidden", "invalid_key", "model_type", "model_attributes_type"}
# What strict types say in the message: "'storage.lifecycle.hot_days' must be int, got '30'".
_TYPE_NAMES = {"int_type": "int", "string_type": "str", "bool_type": "bool", "list_type": "list"}
# Range checks (Field(gt=0), Field(ge=0)) in the user's words; {} is the value given.
_LIMITS = {
    "storage.lifecycle.hot_days": ("must be a positive number of days, got {}", "set hot_days to 1 or more (30 is the default)"),
    "storage.query.cache_mb": ("must be 0 (no cache) or more, got {}", "set storage.query.cache_mb to a size in MB, e.g. 256"),
}


def _config_error(exc: ValidationError) -> ConfigError:
    """The first of pydantic's errors as one ConfigError naming the key as the user writes it."""
    err = _first(exc.errors())
    key, owner, annotation, in_list = _locate(err["loc"])
    kind, value = err["type"], err.get("input")
    invalid = (err.get("ctx") or {}).get("error")
    if isinstance(invalid, Invalid):
        return ConfigError(invalid.problem if invalid.whole else f"'{invalid.key or key}' {invalid.problem}", invalid.fix)
    if kind in ("extra_forbidden", "invalid_key"):
        where = key.rpartition(".")[0]
        allowed = ", ".join(sorted(f.alias or name for name, f in owner.model_fields.items()))
        return ConfigError(f"unknown config key '{key}'", f"allowed keys {f'under {where!r}' if where else 'at the top level'}: {allowed}")
    if kind in ("model_type", "model_attributes_type"):
        return ConfigError(f"'{key or 'config'}' must be a mapping, got {type(value).__name__}", "see unified_config.yaml in the README")
    if kind in _TYPE_NAMES:
        want = _TYPE_NAMES[kind] + (" or NoneType" if type(None) in get_args(annotation) else "")
        if in_list:
            return ConfigError(f"'{key}' holds {value!r}, which is not a {want}", f"write each item of {key} as a {want}")
        return ConfigError(f"'{key}' must be {want}, got {value!r}", f"set {key} to a {want}")
    if key in _LIMITS:
        problem, fix = _LIMITS[key]
        return ConfigError(f"'{key}' {problem.format(value)}", fix)
    return ConfigError(f"'{key or 'config'}' is not valid: {err['msg']}", "see unified_config.yaml in the README")


def _first(errors: list) -> dict:
    """The error to report when there are several: a section's shape, the outermost first, as
    the hand-written reader checked each section before its values; else pydantic's order,
    which is the models' field order."""

    def rank(item: tuple[int, dict]) -> tuple[int, int, int]:
        i, err = item
        return (0, len(err["loc"]), i) if err["type"] in _SHAPE else (1, 0, i)

    return min(enumerate(errors), key=rank)[1]


def _locate(loc: tuple) -> tuple[str, type[BaseModel] | None, Any, bool]:
    """Follow pydantic's `loc` through the models.

    Returns the dotted key as the user writes it (storage.hot_store.dsn: no union tag, no list
    position, no dict-key marker), the model the last key belongs to, the type declared there,
    and whether `loc` ends inside a list."""
    keys: list[str] = []
    owner, annotation, in_list = None, UnifiedConfig, False
    for part in loc:
        origin, args = get_origin(annotation), get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner, keys = annotation, [*keys, str(part)]
            fields = {f.alias or name: f for name, f in annotation.model_fields.items()}
            annotation = fields[part].annotation if part in fields else None
        elif origin is list:
            annotation, in_list = args[0], True
        elif origin is dict:
            if part != "[key]":
                annotation, keys = args[1], [*keys, str(part)]
        elif origin in (Union, types.UnionType):  # the discriminated hot store: `part` is its type
            annotation = next((m for m in args if _tag(m) == part), None)
        else:
            annotation, keys = None, [*keys, str(part)]
    return ".".join(keys), owner, annotation, in_list


def _tag(member: Any) -> Any:
    """The `type` a model of a discriminated union answers to, e.g. "postgres"."""
    fields = member.model_fields if isinstance(member, type) and issubclass(member, BaseModel) else {}
    return get_args(fields["type"].annotation)[0] if "type" in fields else None
