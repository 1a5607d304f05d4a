"""unified_config.yaml: every mistake is one ConfigError that names it; env overrides work.

No server needed: loading a config only parses and validates it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import hotcold
from hotcold.config import redact_dsn
from hotcold.errors import ConfigError
from support import BASE, write_config

OVERRIDES = ("HOTCOLD_HOT_DSN", "HOTCOLD_LAKE_ROOT", "HOTCOLD_STATE_PATH", "HOTCOLD_CONFIG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """The developer's own HOTCOLD_* settings must not change what these tests see."""
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)


def base() -> dict:
    return copy.deepcopy(BASE)


def load_dict(tmp_path: Path, cfg: dict) -> hotcold.Config:
    path = tmp_path / "unified_config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return hotcold.load_config(path)


def rejects(tmp_path: Path, cfg: dict, *fragments: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_dict(tmp_path, cfg)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert info.value.fix, "every ConfigError says how to fix it"
    return info.value


def test_shipped_config_loads_with_its_defaults(tmp_path):
    config = load_dict(tmp_path, base())
    assert config.hot_days == 30 and config.hot_intervals == ("1day",)
    assert config.auto_rotation_enabled is True and config.schedule == "0 2 * * *"
    assert config.hot.kind == "duckdb" and config.hot.path == (tmp_path / "data" / "hot.duckdb").resolve()
    assert config.lake_root == (tmp_path / "data_lake" / "cold_storage").resolve()
    assert set(config.tables) == {"market_data", "news", "features", "social_sentiment"}
    assert [t.name for t in config.rotation_tables()] == ["market_data"]
    assert config.tables["market_data"].key == ("symbol", "interval", "ts")


def test_write_config_helper_round_trips(tmp_path):
    config = hotcold.load_config(write_config(tmp_path, "postgres", "host=127.0.0.1 port=5432 dbname=d user=u", hot_days=7))
    assert config.hot.kind == "postgres" and config.hot_days == 7
    assert config.lake_root == tmp_path / "lake" / "cold_storage"


# --- unknown keys ---------------------------------------------------------------------------

def test_unknown_top_level_key(tmp_path):
    cfg = base()
    cfg["storgae"] = {}
    rejects(tmp_path, cfg, "unknown config key 'storgae'")


def test_unknown_nested_key(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_dayz"] = 10
    err = rejects(tmp_path, cfg, "unknown config key 'storage.lifecycle.hot_dayz'")
    assert "hot_days" in err.fix, "the fix lists the allowed keys"


def test_unknown_key_in_a_table_spec(tmp_path):
    cfg = base()
    cfg["tables"]["news"]["time_colum"] = "published_at"
    rejects(tmp_path, cfg, "unknown config key 'tables.news.time_colum'")


def test_section_that_is_not_a_mapping(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"] = ["hot_days", 30]
    rejects(tmp_path, cfg, "'storage.lifecycle' must be a mapping")


# --- hot_days ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [("thirty", "'thirty'"), (True, "True"), (30.5, "30.5"), ("30", "'30'")])
def test_hot_days_wrong_type(tmp_path, value, shown):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_days"] = value
    rejects(tmp_path, cfg, "'storage.lifecycle.hot_days' must be int", f"got {shown}")


@pytest.mark.parametrize("value", [0, -1, -30])
def test_hot_days_not_positive(tmp_path, value):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_days"] = value
    rejects(tmp_path, cfg, "hot_days' must be a positive number of days", f"got {value}")


def test_hot_days_one_is_fine(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_days"] = 1
    assert load_dict(tmp_path, cfg).hot_days == 1


# --- hot_intervals ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [[], [1], ["1day", None], ["  "]])
def test_hot_intervals_bad_list(tmp_path, value):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_intervals"] = value
    rejects(tmp_path, cfg, "'storage.lifecycle.hot_intervals' must be a non-empty list of interval names")


def test_hot_intervals_not_a_list(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_intervals"] = "1day"
    rejects(tmp_path, cfg, "'storage.lifecycle.hot_intervals' must be list")


def test_hot_intervals_are_stripped(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_intervals"] = [" 1day ", "1h"]
    assert load_dict(tmp_path, cfg).hot_intervals == ("1day", "1h")


# --- schedule -----------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", ["61 2 * * *", "every day", "0 2 * * * *", "0 2 * *", ""])
def test_bad_cron(tmp_path, schedule):
    cfg = base()
    cfg["storage"]["lifecycle"]["auto_rotation"]["schedule"] = schedule
    rejects(tmp_path, cfg, "'storage.lifecycle.auto_rotation.schedule' is not a 5-field cron expression", repr(schedule))


def test_cron_that_is_not_a_string(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["auto_rotation"]["schedule"] = 2
    rejects(tmp_path, cfg, "'storage.lifecycle.auto_rotation.schedule' must be str")


def test_good_cron_and_disabled_rotation(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["auto_rotation"] = {"enabled": False, "schedule": "30 3 * * 1-5"}
    config = load_dict(tmp_path, cfg)
    assert config.schedule == "30 3 * * 1-5" and config.auto_rotation_enabled is False


def test_enabled_must_be_a_bool(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["auto_rotation"]["enabled"] = "no"
    rejects(tmp_path, cfg, "'storage.lifecycle.auto_rotation.enabled' must be bool")


# --- identifiers: nothing that could carry SQL --------------------------------------------------

def test_table_name_carrying_sql(tmp_path):
    cfg = base()
    cfg["tables"]["market_data; drop table x"] = cfg["tables"].pop("market_data")
    rejects(tmp_path, cfg, "'tables.market_data; drop table x' is not a plain SQL identifier")


def test_key_column_carrying_sql(tmp_path):
    cfg = base()
    cfg["tables"]["market_data"]["key"] = ["symbol", "interval", 'ts"--']
    rejects(tmp_path, cfg, "'tables.market_data.key' is not a plain SQL identifier", "'ts\"--'")


@pytest.mark.parametrize("field", ["time_column", "interval_column"])
def test_other_columns_carrying_sql(tmp_path, field):
    cfg = base()
    cfg["tables"]["market_data"][field] = "ts) or (1=1"
    rejects(tmp_path, cfg, f"'tables.market_data.{field}' is not a plain SQL identifier")


def test_hot_store_schema_carrying_sql(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"]["schema"] = "public; drop schema public"
    rejects(tmp_path, cfg, "'storage.hot_store.schema' is not a plain SQL identifier")


def test_table_without_key(tmp_path):
    cfg = base()
    cfg["tables"]["news"]["key"] = []
    rejects(tmp_path, cfg, "'tables.news.key' must list the columns")


def test_rotation_names_unknown_table(tmp_path):
    cfg = base()
    cfg["storage"]["rotation"]["tables"] = ["market_data", "trades"]
    rejects(tmp_path, cfg, "'storage.rotation.tables' names unknown table 'trades'", "market_data")


def test_rotation_tables_pick_what_rotates(tmp_path):
    cfg = base()
    cfg["storage"]["rotation"]["tables"] = ["news", "features"]
    config = load_dict(tmp_path, cfg)
    assert {t.name for t in config.rotation_tables()} == {"news", "features"}
    assert len(config.rotation_tables(full=True)) == 4
    with pytest.raises(ConfigError, match="unknown table 'nosuch'"):
        config.rotation_tables(only=["nosuch"])


# --- environment references ---------------------------------------------------------------------

def test_unset_env_reference(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTCOLD_TEST_UNSET_VAR", raising=False)
    cfg = base()
    cfg["storage"]["lake"]["root"] = "${HOTCOLD_TEST_UNSET_VAR}/lake"
    rejects(tmp_path, cfg, "${HOTCOLD_TEST_UNSET_VAR}", "not set")


def test_env_reference_default_and_value(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTCOLD_TEST_UNSET_VAR", raising=False)
    cfg = base()
    cfg["storage"]["lake"]["root"] = "${HOTCOLD_TEST_UNSET_VAR:-somewhere}/lake"
    assert load_dict(tmp_path, cfg).lake_root == (tmp_path / "somewhere" / "lake").resolve()

    monkeypatch.setenv("HOTCOLD_TEST_UNSET_VAR", str(tmp_path / "elsewhere"))
    assert load_dict(tmp_path, cfg).lake_root == tmp_path / "elsewhere" / "lake"


def test_env_reference_in_dsn(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTCOLD_TEST_PGUSER", "alice")
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d user=${HOTCOLD_TEST_PGUSER}"}
    assert load_dict(tmp_path, cfg).hot.dsn == "host=127.0.0.1 dbname=d user=alice"


# --- hot store and its DSN ----------------------------------------------------------------------

@pytest.mark.parametrize("dsn, fragment", [
    ("host=127.0.0.1 port=notaport dbname=d", "invalid port 'notaport'"),
    ("host=127.0.0.1 port=70000 dbname=d", "invalid port '70000'"),
    ("postgresql://u@127.0.0.1:notaport/d", "invalid port 'notaport'"),
    ("= =", "not a valid PostgreSQL connection string"),
    ("garbage", "not a valid PostgreSQL connection string"),
    ("host=127.0.0.1 colour=blue", "not a valid PostgreSQL connection string"),
])
def test_bad_dsn(tmp_path, dsn, fragment):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": dsn}
    rejects(tmp_path, cfg, fragment)


def test_bad_dsn_message_hides_the_password(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 port=nope password=s3cret"}
    err = rejects(tmp_path, cfg, "invalid port")
    assert "s3cret" not in str(err)


def test_multi_host_ports_are_fine(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=a,b port=5432,5433 dbname=d"}
    assert load_dict(tmp_path, cfg).hot.kind == "postgres"


def test_empty_dsn(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": " "}
    rejects(tmp_path, cfg, "'storage.hot_store.dsn' is empty")


def test_unknown_hot_store_type(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "mysql"}
    rejects(tmp_path, cfg, "'storage.hot_store.type' must be postgres or duckdb, got 'mysql'")


def test_hotcold_hot_dsn_switches_to_postgres(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTCOLD_HOT_DSN", "host=127.0.0.1 port=5432 dbname=trading user=u password=s3cret")
    config = load_dict(tmp_path, base())  # the shipped config says duckdb
    assert config.hot.kind == "postgres"
    assert config.hot.dsn == "host=127.0.0.1 port=5432 dbname=trading user=u password=s3cret"
    assert config.hot.schema == "public"
    assert "s3cret" not in config.hot.describe() and "dbname=trading" in config.hot.describe()


def test_hotcold_hot_dsn_is_validated_too(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTCOLD_HOT_DSN", "host=127.0.0.1 port=notaport")
    rejects(tmp_path, base(), "invalid port 'notaport'")


def test_hotcold_lake_root_overrides_the_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTCOLD_LAKE_ROOT", str(tmp_path / "other" / "lake"))
    assert load_dict(tmp_path, base()).lake_root == tmp_path / "other" / "lake"
    monkeypatch.setenv("HOTCOLD_LAKE_ROOT", "relative/lake")  # relative to the config's folder
    assert load_dict(tmp_path, base()).lake_root == (tmp_path / "relative" / "lake").resolve()


@pytest.mark.parametrize("dsn, secret", [
    ("host=127.0.0.1 user=u password=s3cret dbname=d", "s3cret"),
    ("host=127.0.0.1 user=u PASSWORD = s3cret", "s3cret"),
    ("host=127.0.0.1 user=u password='two words' dbname=d", "words"),
    ("postgresql://u:s3cret@127.0.0.1:5432/d", "s3cret"),
    ("postgres://u:s3cret@db.example.com/d?sslmode=require", "s3cret"),
    ("postgresql://127.0.0.1/d?user=u&password=s3cret", "s3cret"),
])
def test_redact_dsn_hides_passwords(dsn, secret):
    red = redact_dsn(dsn)
    assert secret not in red and "***" in red
    assert "127.0.0.1" in red or "db.example.com" in red, "the rest stays readable"


def test_redact_dsn_leaves_passwordless_dsns_alone():
    for dsn in ("host=127.0.0.1 port=5432 dbname=d user=u", "postgresql://u@127.0.0.1:5432/d"):
        assert redact_dsn(dsn) == dsn


# --- the file itself ----------------------------------------------------------------------------

def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as info:
        hotcold.load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)


def test_missing_default_config_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config file not found") as info:
        hotcold.load_config()
    assert str(tmp_path / "unified_config.yaml") in str(info.value)


def test_hotcold_config_env_names_the_file(tmp_path, monkeypatch):
    path = write_config(tmp_path, "duckdb", hot_days=3)
    monkeypatch.chdir("/")
    monkeypatch.setenv("HOTCOLD_CONFIG", str(path))
    assert hotcold.load_config().hot_days == 3


def test_invalid_yaml(tmp_path):
    path = tmp_path / "unified_config.yaml"
    path.write_text("storage:\n  lifecycle:\n    hot_days: [30\n")
    with pytest.raises(ConfigError, match="unified_config.yaml is not valid YAML"):
        hotcold.load_config(path)


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "unified_config.yaml"
    path.write_text("- storage\n- tables\n")
    with pytest.raises(ConfigError, match="'config' must be a mapping, got list"):
        hotcold.load_config(path)


def test_empty_file_gives_the_defaults(tmp_path):
    path = tmp_path / "unified_config.yaml"
    path.write_text("")
    config = hotcold.load_config(path)
    assert config.hot_days == 30 and set(config.tables) == {"market_data", "news", "features", "social_sentiment"}


# --- the pydantic models: the hot store's union, and errors named as the user writes the key ---

def test_hot_store_type_picks_keys_and_defaults(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"path": "hot.duckdb"}  # no type: duckdb
    config = load_dict(tmp_path, cfg)
    assert config.hot.kind == "duckdb" and config.hot.schema == "main" and config.hot.dsn is None
    assert config.hot.path == (tmp_path / "hot.duckdb").resolve()

    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d"}
    config = load_dict(tmp_path, cfg)
    assert config.hot.kind == "postgres" and config.hot.schema == "public" and config.hot.path is None


def test_switching_hot_store_type_leaves_the_other_key_ignored(tmp_path):
    """`type` is a one-word edit: the other store's key may stay in the file, unread."""
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "duckdb", "path": "hot.duckdb", "dsn": "not read"}
    assert load_dict(tmp_path, cfg).hot.dsn is None
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d", "path": "not read"}
    assert load_dict(tmp_path, cfg).hot.path is None


def test_postgres_hot_store_without_dsn(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres"}
    rejects(tmp_path, cfg, "'storage.hot_store.dsn' is empty")


@pytest.mark.parametrize("kind", ["postgres", "duckdb"])
def test_unknown_key_under_either_hot_store_names_no_union_tag(tmp_path, kind):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": kind, "dsn": "host=127.0.0.1 dbname=d", "shcema": "x"}
    err = rejects(tmp_path, cfg, "unknown config key 'storage.hot_store.shcema'")
    assert err.fix == "allowed keys under 'storage.hot_store': dsn, lock_timeout_s, partitions, path, schema, type"
    assert kind not in str(err)


def test_hot_store_type_that_is_not_a_string(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": 5}
    rejects(tmp_path, cfg, "'storage.hot_store.type' must be str, got 5")


@pytest.mark.parametrize("section", ["storage", "storage.hot_store", "storage.lake", "tables.news"])
def test_a_section_that_is_a_list(tmp_path, section):
    cfg = base()
    *parents, last = section.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    node[last] = ["x"]
    rejects(tmp_path, cfg, f"'{section}' must be a mapping, got list")


def test_empty_sections_take_their_defaults(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"] = None
    cfg["storage"]["hot_store"] = None
    config = load_dict(tmp_path, cfg)
    assert config.hot_days == 30 and config.schedule == "0 2 * * *" and config.hot.kind == "duckdb"


def test_unknown_top_level_key_lists_the_top_level(tmp_path):
    cfg = base()
    cfg["tabels"] = {}
    err = rejects(tmp_path, cfg, "unknown config key 'tabels'")
    assert err.fix == "allowed keys at the top level: storage, tables"


def test_a_key_that_is_not_a_string(tmp_path):
    cfg = base()
    cfg["storage"]["lake"][5] = "x"
    rejects(tmp_path, cfg, "unknown config key 'storage.lake.5'")


@pytest.mark.parametrize("key, value, fragment", [
    ("file_mode", 640, "'storage.lake.file_mode' must be str, got 640"),
    ("history_index", 1, "'storage.lake.history_index' must be bool, got 1"),
    ("root", None, "'storage.lake.root' must be str, got None"),
    ("compression", "brotli", "'storage.lake.compression' must be one of zstd, snappy, gzip, lz4_raw, uncompressed, got 'brotli'"),
])
def test_lake_values(tmp_path, key, value, fragment):
    cfg = base()
    cfg["storage"]["lake"][key] = value
    rejects(tmp_path, cfg, fragment)


@pytest.mark.parametrize("value, fragment", [(-1, "must be 0 (no cache) or more, got -1"), ("256", "must be int, got '256'")])
def test_query_cache_mb(tmp_path, value, fragment):
    cfg = base()
    cfg["storage"]["query"] = {"cache_mb": value}
    rejects(tmp_path, cfg, f"'storage.query.cache_mb' {fragment}")


def test_hot_interval_typo(tmp_path):
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_intervals"] = ["1day", "1dya"]
    rejects(tmp_path, cfg, "'storage.lifecycle.hot_intervals' holds '1dya', which is not an interval name")


def test_optional_column_of_the_wrong_type(tmp_path):
    cfg = base()
    cfg["tables"]["news"]["symbol_column"] = 5
    rejects(tmp_path, cfg, "'tables.news.symbol_column' must be str or NoneType, got 5")


def test_empty_symbol_column_means_none(tmp_path):
    cfg = base()
    cfg["tables"]["news"]["symbol_column"] = ""
    assert load_dict(tmp_path, cfg).tables["news"].symbol_column is None


def test_rotation_table_that_is_not_a_name(tmp_path):
    cfg = base()
    cfg["storage"]["rotation"]["tables"] = ["market_data", 5]
    rejects(tmp_path, cfg, "'storage.rotation.tables' holds 5, which is not a str")


def test_table_without_a_key_entry(tmp_path):
    cfg = base()
    del cfg["tables"]["news"]["key"]
    rejects(tmp_path, cfg, "'tables.news.key' must list the columns")


@pytest.mark.parametrize("tables", [[], {}, "market_data"])
def test_tables_must_be_a_nonempty_mapping(tmp_path, tables):
    cfg = base()
    cfg["tables"] = tables
    rejects(tmp_path, cfg, "'tables' must map table names to specs")


def test_state_and_catalog_sit_beside_the_lake_unless_set(tmp_path, monkeypatch):
    config = load_dict(tmp_path, base())
    assert config.state_path == config.lake_root.parent / "_hotcold" / "state.duckdb"
    assert config.catalog_path == config.lake_root.parent / "hotcold.duckdb"

    monkeypatch.setenv("HOTCOLD_LAKE_ROOT", str(tmp_path / "moved" / "lake"))
    assert load_dict(tmp_path, base()).state_path == tmp_path / "moved" / "_hotcold" / "state.duckdb"

    cfg = base()
    cfg["storage"]["lake"].update(state_path="s/state.duckdb", catalog_path="c.duckdb")
    monkeypatch.setenv("HOTCOLD_STATE_PATH", "env/state.duckdb")
    config = load_dict(tmp_path, cfg)
    assert config.state_path == (tmp_path / "env" / "state.duckdb").resolve()
    assert config.catalog_path == (tmp_path / "c.duckdb").resolve()


def test_env_overrides_replace_the_file_value_unread(tmp_path, monkeypatch):
    """An overridden key is not validated: the deployment's value replaces it."""
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "mysql", "dsn": 5}
    cfg["storage"]["lake"]["root"] = 5
    monkeypatch.setenv("HOTCOLD_HOT_DSN", "host=127.0.0.1 dbname=d")
    monkeypatch.setenv("HOTCOLD_LAKE_ROOT", str(tmp_path / "lake"))
    config = load_dict(tmp_path, cfg)
    assert config.hot.kind == "postgres" and config.lake_root == tmp_path / "lake"


def test_the_first_error_is_the_outer_shape(tmp_path):
    """With several mistakes, a misspelt key is reported before a bad value beside it."""
    cfg = base()
    cfg["storage"]["lifecycle"]["hot_days"] = -1
    cfg["storage"]["lifecycle"]["hot_dayz"] = 1
    rejects(tmp_path, cfg, "unknown config key 'storage.lifecycle.hot_dayz'")


@pytest.mark.parametrize("value", [0, -5, 601])
def test_lock_timeout_out_of_range(tmp_path, value):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d user=u", "lock_timeout_s": value}
    rejects(tmp_path, cfg, "'storage.hot_store.lock_timeout_s' must be")


def test_lock_timeout_defaults_to_five_seconds(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d user=u"}
    assert load_dict(tmp_path, cfg).hot.lock_timeout_s == 5.0
    cfg["storage"]["hot_store"]["lock_timeout_s"] = 0.5
    assert load_dict(tmp_path, cfg).hot.lock_timeout_s == 0.5


def test_hot_store_partitions_keys_are_checked(tmp_path):
    cfg = base()
    cfg["storage"]["hot_store"] = {"type": "postgres", "dsn": "host=127.0.0.1 dbname=d",
                                   "partitions": {"keep_detached": True, "archive_schema": "old_bars", "premake_days": 3}}
    path = tmp_path / "unified_config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    hot = hotcold.load_config(path).hot
    assert (hot.keep_detached, hot.archive_schema, hot.premake_days) == (True, "old_bars", 3)
    cfg["storage"]["hot_store"]["partitions"] = {"archive_schema": "old bars"}
    rejects(tmp_path, cfg, "'storage.hot_store.partitions.archive_schema' is not a plain SQL identifier")
    cfg["storage"]["hot_store"]["partitions"] = {"premake_days": 400}
    rejects(tmp_path, cfg, "'storage.hot_store.partitions.premake_days'")
