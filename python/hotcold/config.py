"""Load and validate `unified_config.yaml`.

The user's own keys (`storage.lifecycle.*`) are kept verbatim; hotcold adds the hot store
connection, the lake location and one spec per table. Every value is checked on load so a
mistake is one clear line, not a failure halfway through a rotation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from .errors import ConfigError

DEFAULT_CONFIG = "unified_config.yaml"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DATA_TYPES = ("market_data", "news", "features", "social_sentiment")
INTERVAL = re.compile(r"[1-9][0-9]*\s?(s|sec|second|m|min|minute|h|hr|hour|d|day|w|wk|week|mo|mon|month|q|quarter|y|yr|year)s?", re.I)


# Parquet codecs every common reader (DuckDB, Spark, pandas/pyarrow) decodes.
COMPRESSIONS = ("zstd", "snappy", "gzip", "lz4_raw", "uncompressed")


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
    history_index: bool = True  # the symbol-clustered copy beside the lake (hotcold.history)
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


def redact_dsn(dsn: str) -> str:
    dsn = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", dsn)
    # libpq allows a quoted value (password='a b\'c'); redact all of it, not its first word.
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", r"\1***", dsn, flags=re.I)


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


class _Section:
    """Reads one mapping of the config and refuses keys it does not know."""

    def __init__(self, data: Any, where: str, allowed: set[str]):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"'{where or 'config'}' must be a mapping, got {type(data).__name__}", "see unified_config.yaml in the README")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown config key '{_dotted(where, unknown[0])}'",
                f"allowed keys {f'under {where!r}' if where else 'at the top level'}: {', '.join(sorted(allowed))}",
            )
        self.data, self.where = data, where

    def get(self, key: str, kind: type | tuple, default: Any) -> Any:
        value = self.data.get(key, default)
        # bool is an int subclass; refuse it as a count
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"'{_dotted(self.where, key)}' must be {want}, got {value!r}", f"set {_dotted(self.where, key)} to a {want}")
        return value

    def section(self, key: str, allowed: set[str]) -> "_Section":
        return _Section(self.data.get(key), _dotted(self.where, key), allowed)


def _dotted(where: str, key: str) -> str:
    """The key's path as the user writes it in the YAML: storage.lifecycle.hot_days."""
    return f"{where}.{key}" if where else key


def identifier(name: Any, where: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ConfigError(
            f"'{where}' is not a plain SQL identifier: {name!r}",
            "use letters, digits and underscores, starting with a letter",
        )
    return name


def parse(raw: dict, cfg_path: Path) -> Config:
    root = _Section(raw, "", {"storage", "tables"})
    storage = root.section("storage", {"lifecycle", "hot_store", "lake", "logging", "rotation", "query"})
    life = storage.section("lifecycle", {"hot_days", "hot_intervals", "archive_on_backfill", "auto_rotation"})
    auto = life.section("auto_rotation", {"enabled", "schedule"})

    hot_days = life.get("hot_days", int, 30)
    if hot_days <= 0:
        raise ConfigError(f"'storage.lifecycle.hot_days' must be a positive number of days, got {hot_days}", "set hot_days to 1 or more (30 is the default)")
    hot_intervals = life.get("hot_intervals", list, ["1day"])
    if not hot_intervals or not all(isinstance(i, str) and i.strip() for i in hot_intervals):
        raise ConfigError("'storage.lifecycle.hot_intervals' must be a non-empty list of interval names", 'e.g. hot_intervals: ["1day"]')
    # A typo here ("1dya") would make every row of every interval age out on the next run.
    for name in hot_intervals:
        if not INTERVAL.fullmatch(name.strip()):
            raise ConfigError(f"'storage.lifecycle.hot_intervals' holds {name!r}, which is not an interval name",
                              'use a count and a unit as your data writes them: "1day", "1hour", "5min", "1h", "1w"')
    schedule = auto.get("schedule", str, "0 2 * * *")
    if not croniter.is_valid(schedule) or len(schedule.split()) != 5:
        raise ConfigError(f"'storage.lifecycle.auto_rotation.schedule' is not a 5-field cron expression: {schedule!r}", 'e.g. "0 2 * * *" for 02:00 every day')

    base = cfg_path.parent
    hot = _hot_store(storage.section("hot_store", {"type", "dsn", "schema", "path"}), base)
    lake = storage.section("lake", {"root", "state_path", "catalog_path", "file_mode", "compression", "history_index"})
    compression = lake.get("compression", str, "snappy")
    if compression not in COMPRESSIONS:
        raise ConfigError(f"'storage.lake.compression' must be one of {', '.join(COMPRESSIONS)}, got {compression!r}",
                          'use "snappy" (the default: fastest to read and write) or "zstd" (files about 25% smaller, aggregations about 20% slower)')
    file_mode = lake.get("file_mode", str, "0600")
    if not re.fullmatch(r"0?[0-7]{3}", file_mode) or int(file_mode, 8) & 0o600 != 0o600:
        raise ConfigError(f"'storage.lake.file_mode' must be an octal mode the owner can read and write, like \"0640\", got {file_mode!r}",
                          'use "0600" (private, the default), "0640" (group may read) or "0644"')
    lake_root = _path(os.environ.get("HOTCOLD_LAKE_ROOT") or lake.get("root", str, "data_lake/cold_storage"), base)
    state_default = str(lake_root.parent / "_hotcold" / "state.duckdb")
    logging_ = storage.section("logging", {"file"})
    rotation = storage.section("rotation", {"tables"})
    query = storage.section("query", {"cache_mb"})
    cache_mb = query.get("cache_mb", int, 256)
    if cache_mb < 0:
        raise ConfigError(f"'storage.query.cache_mb' must be 0 (no cache) or more, got {cache_mb}", "set storage.query.cache_mb to a size in MB, e.g. 256")

    tables = _tables(raw.get("tables"), rotation.get("tables", list, ["market_data"]))
    return Config(
        path=cfg_path,
        hot_days=hot_days,
        hot_intervals=tuple(i.strip() for i in hot_intervals),
        archive_on_backfill=life.get("archive_on_backfill", bool, True),
        auto_rotation_enabled=auto.get("enabled", bool, True),
        schedule=schedule,
        hot=hot,
        lake_root=lake_root,
        state_path=_path(os.environ.get("HOTCOLD_STATE_PATH") or lake.get("state_path", str, state_default), base),
        catalog_path=_path(lake.get("catalog_path", str, str(lake_root.parent / "hotcold.duckdb")), base),
        log_file=_path(logging_.get("file", str, "logs/storage_rotation.log"), base),
        query_cache_mb=cache_mb,
        lake_file_mode=int(file_mode, 8),
        lake_compression=compression,
        history_index=lake.get("history_index", bool, True),
        tables=tables,
    )


def _path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _hot_store(sec: _Section, base: Path) -> HotStore:
    env_dsn = os.environ.get("HOTCOLD_HOT_DSN")
    kind = "postgres" if env_dsn else sec.get("type", str, "duckdb")
    if kind not in ("postgres", "duckdb"):
        raise ConfigError(f"'storage.hot_store.type' must be postgres or duckdb, got {kind!r}", "use postgres for a server, duckdb for the embedded file")
    if kind == "duckdb":
        schema = identifier(sec.get("schema", str, "main"), "storage.hot_store.schema")
        return HotStore("duckdb", schema, path=_path(sec.get("path", str, "data/hot.duckdb"), base))
    dsn = env_dsn or sec.get("dsn", str, "")
    if not dsn.strip():
        raise ConfigError("'storage.hot_store.dsn' is empty", "set it, or export HOTCOLD_HOT_DSN='host=... dbname=... user=...'")
    _check_dsn(dsn)
    schema = identifier(sec.get("schema", str, "public"), "storage.hot_store.schema")
    return HotStore("postgres", schema, dsn=dsn)


def _check_dsn(dsn: str) -> None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:
        raise ConfigError(
            f"hot store DSN is not a valid PostgreSQL connection string: {redact_dsn(dsn)!r}",
            "use 'host=H port=5432 dbname=D user=U' or postgresql://U@H:5432/D (passwords belong in PGPASSWORD)",
        ) from None
    # libpq only checks the port when it connects; a typo should fail here, on load.
    port = str(parts.get("port") or "")
    if port and not all(p == "" or (p.isdigit() and 0 < int(p) < 65536) for p in port.split(",")):
        raise ConfigError(f"hot store DSN has an invalid port {port!r}: {redact_dsn(dsn)!r}", "use a port number such as port=5432")


DEFAULT_TABLES = {
    "market_data": {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"},
    "news": {"time_column": "published_at", "key": ["id"]},
    "features": {"time_column": "ts", "key": ["symbol", "feature", "ts"]},
    "social_sentiment": {"time_column": "ts", "key": ["symbol", "source", "ts"]},
}


def _tables(raw: Any, rotate: list) -> dict[str, TableSpec]:
    raw = DEFAULT_TABLES if raw is None else raw
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("'tables' must map table names to specs", "see the tables section in the README")
    specs = {}
    for name, spec in raw.items():
        identifier(name, f"tables.{name}")
        sec = _Section(spec, f"tables.{name}", {"time_column", "key", "interval_column", "symbol_column"})
        key = sec.get("key", list, [])
        if not key:
            raise ConfigError(f"'tables.{name}.key' must list the columns that identify a row", "e.g. key: [symbol, interval, ts]")
        interval = sec.get("interval_column", (str, type(None)), None)
        symbol = sec.get("symbol_column", (str, type(None)), "symbol")
        specs[name] = TableSpec(
            name=name,
            time_column=identifier(sec.get("time_column", str, "ts"), f"tables.{name}.time_column"),
            key=tuple(identifier(k, f"tables.{name}.key") for k in key),
            interval_column=identifier(interval, f"tables.{name}.interval_column") if interval else None,
            rotate=name in rotate,
            symbol_column=identifier(symbol, f"tables.{name}.symbol_column") if symbol else None,
        )
    for name in rotate:
        if name not in specs:
            raise ConfigError(f"'storage.rotation.tables' names unknown table '{name}'", f"use one of: {', '.join(specs)}")
    return specs
