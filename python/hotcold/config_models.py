"""The shape of `unified_config.yaml`: one pydantic model per section, with its keys' types,
defaults and checks.

config.py validates the file with `UnifiedConfig`, turns the first of pydantic's errors into a
one-line ConfigError that names the key, and builds the frozen `Config` from the models. A check
that fails raises `Invalid`, which words the problem and its fix for the user.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
INTERVAL = re.compile(r"[1-9][0-9]*\s?(s|sec|second|m|min|minute|h|hr|hour|d|day|w|wk|week|mo|mon|month|q|quarter|y|yr|year)s?", re.I)

# Parquet codecs every common reader (DuckDB, Spark, pandas/pyarrow) decodes.
COMPRESSIONS = ("zstd", "snappy", "gzip", "lz4_raw", "uncompressed")

DEFAULT_TABLES = {
    "market_data": {"time_column": "ts", "key": ["symbol", "interval", "ts"], "interval_column": "interval"},
    "news": {"time_column": "published_at", "key": ["id"]},
    "features": {"time_column": "ts", "key": ["symbol", "feature", "ts"]},
    "social_sentiment": {"time_column": "ts", "key": ["symbol", "source", "ts"]},
}


class Invalid(ValueError):
    """A value hotcold refuses, worded for the user; config.py raises it as a ConfigError.

    The message is `'<key>' <problem>`, the key being where pydantic found the value, or `key`
    when a check on the parent names one of its children. `whole=True`: `problem` is the whole
    message (the hot store DSN may come from HOTCOLD_HOT_DSN, not from a key).
    """

    def __init__(self, problem: str, fix: str, *, key: str | None = None, whole: bool = False):
        super().__init__(problem)
        self.problem, self.fix, self.key, self.whole = problem, fix, key, whole


def check_identifier(name: Any, key: str | None = None) -> str:
    # Table and column names are spliced into SQL; only a plain identifier can carry no SQL.
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise Invalid(f"is not a plain SQL identifier: {name!r}", "use letters, digits and underscores, starting with a letter", key=key)
    return name


def redact_dsn(dsn: str) -> str:
    dsn = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", dsn)
    # libpq allows a quoted value (password='a b\'c'); redact all of it, not its first word.
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", r"\1***", dsn, flags=re.I)


def check_dsn(dsn: str) -> str:
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:
        raise Invalid(
            f"hot store DSN is not a valid PostgreSQL connection string: {redact_dsn(dsn)!r}",
            "use 'host=H port=5432 dbname=D user=U' or postgresql://U@H:5432/D (passwords belong in PGPASSWORD)",
            whole=True,
        ) from None
    # libpq only checks the port when it connects; a typo should fail here, on load.
    port = str(parts.get("port") or "")
    if port and not all(p == "" or (p.isdigit() and 0 < int(p) < 65536) for p in port.split(",")):
        raise Invalid(f"hot store DSN has an invalid port {port!r}: {redact_dsn(dsn)!r}", "use a port number such as port=5432", whole=True)
    return dsn


class _Section(BaseModel):
    """One mapping of the file."""

    # forbid: a misspelt key must be refused, not silently take its default.
    # strict: YAML already typed each value; "30" (quoted) is not 30, and `true` is not 1.
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        # `lifecycle:` with nothing under it is YAML null: every key takes its default.
        return {} if data is None else data


class AutoRotation(_Section):
    """storage.lifecycle.auto_rotation: whether and when `hotcold schedule` rotates on its own."""

    enabled: bool = True
    """False: the schedule is kept but nothing rotates until an explicit `hotcold rotate`."""
    schedule: str = "0 2 * * *"
    """5-field cron expression (minute hour day-of-month month day-of-week), local time."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        # croniter also takes a 6th (seconds) field, which crontab(5) does not.
        if not croniter.is_valid(value) or len(value.split()) != 5:
            raise Invalid(f"is not a 5-field cron expression: {value!r}", 'e.g. "0 2 * * *" for 02:00 every day')
        return value


class Lifecycle(_Section):
    """storage.lifecycle: how long rows stay in the hot store (the user's own keys)."""

    hot_days: int = Field(30, gt=0)
    """Days (counted from the start of the as-of day, UTC) a row stays hot; older rows age out."""
    hot_intervals: list[str] = ["1day"]
    """Interval names ("1day", "1h", "5min") whose rows stay hot; rows of any other interval age out."""
    archive_on_backfill: bool = True
    """Rotate a table right after `hotcold backfill` loads into it (--archive/--no-archive override)."""
    auto_rotation: AutoRotation = Field(default_factory=AutoRotation)

    @field_validator("hot_intervals", mode="before")
    @classmethod
    def _interval_names(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # the list type refuses it: "must be list"
        if not value or not all(isinstance(i, str) and i.strip() for i in value):
            raise Invalid("must be a non-empty list of interval names", 'e.g. hot_intervals: ["1day"]')
        # A typo here ("1dya") would make every row of every interval age out on the next run.
        for name in value:
            if not INTERVAL.fullmatch(name.strip()):
                raise Invalid(f"holds {name!r}, which is not an interval name",
                              'use a count and a unit as your data writes them: "1day", "1hour", "5min", "1h", "1w"')
        return [name.strip() for name in value]


class Partitions(_Section):
    """storage.hot_store.partitions: how a range-partitioned hot table sheds whole partitions."""

    keep_detached: bool = False
    """True: a partition whose rows are all in the lake is detached and moved to
    `archive_schema` instead of dropped (you drop it when you like)."""
    archive_schema: str = "hotcold_archive"
    """Where kept partitions go (created when missing)."""
    premake_days: int = Field(7, ge=0, le=366)
    """Days ahead (from the as-of day, UTC) that each rotation keeps partitions made for, on
    tables `hotcold partition` converted."""

    @field_validator("archive_schema")
    @classmethod
    def _archive_schema(cls, value: str) -> str:
        return check_identifier(value)


class PostgresHotStore(_Section):
    """storage.hot_store with `type: postgres`: the hot rows live on a PostgreSQL server."""

    type: Literal["postgres"]
    dsn: str = Field("", validate_default=True)
    """libpq string or postgresql:// URL. Never logged; passwords belong in PGPASSWORD."""
    schema_: str = Field("public", alias="schema")
    """Schema of the hot tables."""
    path: Any = None
    """Ignored (the duckdb store's file): switching `type` stays a one-word edit."""
    lock_timeout_s: float = 5.0
    """How long one attempt at a strong lock (VACUUM FULL) waits before it gives way to the
    sessions it would block; hotcold tries 4 times (pauses 1, 2, 4 s), then names who holds it."""
    partitions: Partitions = Partitions()
    """Range-partitioned hot tables: keep or drop whole partitions, and how far ahead to make them."""

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        if not value.strip():
            raise Invalid("is empty", "set it, or export HOTCOLD_HOT_DSN='host=... dbname=... user=...'")
        return check_dsn(value)

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        return check_identifier(value)

    @field_validator("lock_timeout_s")
    @classmethod
    def _lock_timeout(cls, value: float) -> float:
        if not 0 < value <= 600:
            raise Invalid(f"must be a number of seconds above 0 and at most 600, got {value:g}", "e.g. lock_timeout_s: 5")
        return value


class DuckDBHotStore(_Section):
    """storage.hot_store with `type: duckdb`: the hot rows live in an embedded DuckDB file."""

    type: Literal["duckdb"]
    path: str = "data/hot.duckdb"
    """The hot store's file, relative to the config's folder."""
    schema_: str = Field("main", alias="schema")
    """Schema of the hot tables inside the file."""
    dsn: Any = None
    """Ignored (the postgres store's connection): switching `type` stays a one-word edit."""
    lock_timeout_s: Any = None
    """Ignored (one process holds the embedded file; no lock waits), for the same reason."""
    partitions: Any = None
    """Ignored (DuckDB tables have no partitions), for the same reason."""

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        return check_identifier(value)


# `type` picks the model, so each store has its own keys, defaults and checks.
HotStoreConfig = Annotated[Union[PostgresHotStore, DuckDBHotStore], Field(discriminator="type")]


class Lake(_Section):
    """storage.lake: the Parquet lake and hotcold's own files. Paths are relative to the config's folder."""

    root: str = "data_lake/cold_storage"
    """The lake: <root>/<table>/year=/month=/day=/*.parquet."""
    state_path: str = ""
    """hotcold's state database. Unset: _hotcold/state.duckdb beside the lake root."""
    catalog_path: str = ""
    """The analysts' DuckDB catalog of views. Unset: hotcold.duckdb beside the lake root."""
    file_mode: str = "0600"
    """Octal permission bits of lake files, as a string; folders add x where r is set."""
    compression: str = "snappy"
    """Parquet codec: snappy (fastest) or zstd (files ~25% smaller, aggregations ~20% slower), gzip, lz4_raw, uncompressed."""
    history_index: bool = True
    """Keep the symbol-clustered copy beside the lake (about the lake's size again)."""

    @field_validator("file_mode")
    @classmethod
    def _file_mode(cls, value: str) -> str:
        # hotcold itself must read back (verify) and rewrite (merge) what it writes.
        if not re.fullmatch(r"0?[0-7]{3}", value) or int(value, 8) & 0o600 != 0o600:
            raise Invalid(f"must be an octal mode the owner can read and write, like \"0640\", got {value!r}",
                          'use "0600" (private, the default), "0640" (group may read) or "0644"')
        return value

    @field_validator("compression")
    @classmethod
    def _compression(cls, value: str) -> str:
        if value not in COMPRESSIONS:
            raise Invalid(f"must be one of {', '.join(COMPRESSIONS)}, got {value!r}",
                          'use "snappy" (the default: fastest to read and write) or "zstd" (files about 25% smaller, aggregations about 20% slower)')
        return value


class Logging(_Section):
    """storage.logging."""

    file: str = "logs/storage_rotation.log"
    """The rotation log, relative to the config's folder."""


class Rotation(_Section):
    """storage.rotation."""

    tables: list[str] = ["market_data"]
    """Tables a plain `hotcold rotate` rotates; --full rotates every table."""


class Query(_Section):
    """storage.query."""

    cache_mb: int = Field(256, ge=0)
    """Size of the query engine's in-memory result cache, in MB; 0 turns it off."""


class Storage(_Section):
    """storage: the lifecycle, where the hot store and the lake are, and how rotation runs."""

    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    hot_store: HotStoreConfig = Field(default_factory=lambda: DuckDBHotStore(type="duckdb"))
    lake: Lake = Field(default_factory=Lake)
    logging: Logging = Field(default_factory=Logging)
    rotation: Rotation = Field(default_factory=Rotation)
    query: Query = Field(default_factory=Query)

    @field_validator("hot_store", mode="before")
    @classmethod
    def _store_type(cls, value: Any) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return value  # the union refuses it: "must be a mapping"
        # No type: duckdb, the embedded file, so the demo needs no server.
        kind = value.get("type", "duckdb")
        where = "storage.hot_store.type"
        if not isinstance(kind, str):
            raise Invalid(f"must be str, got {kind!r}", f"set {where} to a str", key=where)
        if kind not in ("postgres", "duckdb"):
            raise Invalid(f"must be postgres or duckdb, got {kind!r}", "use postgres for a server, duckdb for the embedded file", key=where)
        return {**value, "type": kind}


class TableSpecConfig(_Section):
    """tables.<name>: one table of the hot store and the lake. All values are column names."""

    time_column: str = "ts"
    """The row's time: it decides when a row ages out and which day file it goes to."""
    key: list[str] = Field(default_factory=list, validate_default=True)
    """The columns that identify a row (a backfilled row replaces the row with the same key)."""
    interval_column: str | None = None
    """The bar interval, matched against hot_intervals. None or "": the table has none."""
    symbol_column: str | None = "symbol"
    """What `symbols=` filters on. None or "": the table has none."""

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        if isinstance(value, list):  # anything else the list type refuses: "must be list"
            if not value:
                raise Invalid("must list the columns that identify a row", "e.g. key: [symbol, interval, ts]")
            for column in value:
                check_identifier(column)
        return value

    @field_validator("time_column")
    @classmethod
    def _time_column(cls, value: str) -> str:
        return check_identifier(value)

    @field_validator("interval_column", "symbol_column")
    @classmethod
    def _optional_column(cls, value: str | None) -> str | None:
        return check_identifier(value) if value else None


class UnifiedConfig(_Section):
    """The whole file: `storage` settings and one spec per table."""

    storage: Storage = Field(default_factory=Storage)
    tables: dict[str, TableSpecConfig] = Field(default_factory=lambda: dict(DEFAULT_TABLES), validate_default=True)
    """Table name -> spec. Unset: market_data, news, features and social_sentiment."""

    @field_validator("tables", mode="before")
    @classmethod
    def _table_names(cls, value: Any) -> Any:
        value = DEFAULT_TABLES if value is None else value
        if not isinstance(value, dict) or not value:
            raise Invalid("must map table names to specs", "see the tables section in the README")
        for name in value:
            check_identifier(name, key=f"tables.{name}")
        return value

    @model_validator(mode="after")
    def _rotated_tables_exist(self) -> UnifiedConfig:
        for name in self.storage.rotation.tables:
            if name not in self.tables:
                raise Invalid(f"names unknown table '{name}'", f"use one of: {', '.join(self.tables)}", key="storage.rotation.tables")
        return self
