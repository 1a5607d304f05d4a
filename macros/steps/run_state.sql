{#- The rotation's working record in the state database beside the lake. -#}

{% macro hotcold_state_tables() %}
  {%- do run_query("
    create schema if not exists _hotcold;
    create table if not exists _hotcold.runs (
      run_id varchar primary key, as_of date, cutoff timestamptz, tables varchar,
      started_at timestamptz, finished_at timestamptz, outcome varchar, detail varchar);
    create table if not exists _hotcold.step_log (
      run_id varchar, step varchar, table_name varchar, rows bigint, days bigint, bytes bigint,
      started_at timestamptz, finished_at timestamptz, detail varchar);
    create table if not exists _hotcold.export_days (
      run_id varchar, table_name varchar, year varchar, month varchar, day varchar,
      rows bigint, new_rows bigint, checksum hugeint, staged_files bigint, bytes bigint,
      published_at timestamptz, path varchar);
    create table if not exists _hotcold.lake_days (
      table_name varchar, day date, path varchar, rows bigint, checksum hugeint, bytes bigint,
      run_id varchar, published_at timestamptz, primary key (table_name, day));
    create table if not exists _hotcold.stage_snapshots (run_id varchar, table_name varchar, snapshot varchar);
    create table if not exists _hotcold.source_fingerprints (run_id varchar, table_name varchar, meta varchar);
    create table if not exists _hotcold.stage_writes (
      run_id varchar, table_name varchar, rows_sql varchar, time_column varchar, note varchar,
      started_at timestamptz, mode varchar, linked_days bigint);
    alter table _hotcold.runs add column if not exists kind varchar default 'rotation';
  ") -%}
{% endmacro %}

{% macro hotcold_current_run() %}
  {%- set rows = hotcold_rows("select * from _hotcold.runs where run_id = " ~ hotcold_lit(invocation_id)) -%}
  {%- if not rows -%}
    {{ exceptions.raise_compiler_error("hotcold_current_run: run " ~ invocation_id ~ " has no stage step; select the whole rotation (dbt build --select tag:rotation)") }}
  {%- endif -%}
  {%- set run = rows[0] -%}
  {%- do run.update({'table_names': run.tables.split(',') if run.tables else []}) -%}
  {{ return(run) }}
{% endmacro %}

{% macro hotcold_run_tables(run) %}
  {%- set out = [] -%}
  {%- for s in hotcold_selected_tables_all() -%}
    {%- if s.name in run.table_names -%}{%- do out.append(s) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{% macro hotcold_log_step(step, table_name, started_at, rows=0, days=0, bytes=0, detail='', finished_at=none) %}
  {#- Python's clock, not DuckDB's now(): that is the start of the open transaction. -#}
  {%- do run_query("insert into _hotcold.step_log values (" ~ hotcold_lit(invocation_id) ~ ", "
      ~ hotcold_lit(step) ~ ", " ~ hotcold_lit(table_name) ~ ", " ~ (rows or 0) ~ ", " ~ (days or 0) ~ ", "
      ~ (bytes or 0) ~ ", " ~ hotcold_lit(started_at) ~ "::timestamptz, " ~ hotcold_lit(finished_at or hotcold_now()) ~ "::timestamptz, " ~ hotcold_lit(detail) ~ ")") -%}
{% endmacro %}

{% macro hotcold_now() %}
  {{ return(modules.datetime.datetime.utcnow().isoformat() ~ '+00:00') }}
{% endmacro %}
