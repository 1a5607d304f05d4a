{#- What the hot side holds, per configured table, for `hotcold status`. Read-only on the
    hot store; the answer goes to _hotcold.hot_status in the state database. -#}
{% macro hotcold_status() %}
  {%- do hotcold_state_tables() -%}
  {%- set cutoff = hot_window_cutoff() -%}
  {%- do run_query("create table if not exists _hotcold.hot_status (run_id varchar, table_name varchar, cutoff timestamptz, rows bigint, bytes bigint, oldest timestamptz, newest timestamptz, aging_rows bigint, note varchar)") -%}
  {%- for spec in hotcold_selected_tables_all() -%}
    {%- set prefix = "insert into _hotcold.hot_status select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", " ~ hotcold_lit(cutoff) ~ "::timestamptz, " -%}
    {%- if hot_dispatch('table_columns')(spec) -%}
      {%- do run_query(prefix ~ "rows, bytes, oldest, newest, aging_rows, '' from (" ~ hot_dispatch('table_stats')(spec, cutoff) ~ ")") -%}
    {%- else -%}
      {%- do run_query(prefix ~ "null, null, null, null, null, 'not in the hot store'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{% endmacro %}

{% macro hotcold_table_stats__postgres(spec, cutoff) %}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set pg_sql = "SELECT count(*) AS rows, pg_total_relation_size(" ~ hotcold_lit(rel) ~ "::regclass) AS bytes, min(" ~ ts ~ ")::timestamptz AS oldest, max(" ~ ts
      ~ ")::timestamptz AS newest, count(*) FILTER (WHERE " ~ ages_out(spec, cutoff, hotcold_settings().hot_intervals) ~ ") AS aging_rows FROM " ~ rel -%}
  {{ return("select * from postgres_query('hot', " ~ hotcold_lit(pg_sql) ~ ")") }}
{% endmacro %}

{% macro hotcold_table_stats__duckdb(spec, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {#- DuckDB keeps no per-table size; the rows' text width is a fair stand-in. -#}
  {{ return("select count(*) as rows, sum(strlen(t::varchar))::bigint as bytes, min(" ~ ts ~ ")::timestamptz as oldest, max(" ~ ts ~ ")::timestamptz as newest, count(*) filter (where "
      ~ ages_out(spec, cutoff, s.hot_intervals) ~ ") as aging_rows from hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) ~ " t") }}
{% endmacro %}
