{#- Step 1 (Plan), and the whole of a dry run: what would age out, per table and day.
    Reads the hot store only; writes nothing but its answer in the state database. -#}
{% macro hotcold_plan() %}
  {%- do hotcold_state_tables() -%}
  {%- set cutoff = hot_window_cutoff() -%}
  {%- do run_query("create table if not exists _hotcold.plans (run_id varchar, table_name varchar, cutoff timestamptz, day date, rows bigint, bytes bigint)") -%}
  {%- for spec in hotcold_selected_tables() -%}
    {%- do hot_table_columns(spec) -%}
    {%- do run_query("insert into _hotcold.plans select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", "
        ~ hotcold_lit(cutoff) ~ "::timestamptz, day, rows, bytes from (" ~ hot_dispatch('aged_days')(spec, cutoff) ~ ")") -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
  {%- do log("hotcold plan " ~ invocation_id ~ ": cutoff " ~ cutoff, info=true) -%}
{% endmacro %}

{% macro hotcold_aged_days__postgres(spec, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set pg_sql = "SELECT (" ~ ts ~ " AT TIME ZONE 'UTC')::date AS day, count(*) AS rows, sum(pg_column_size(t.*))::bigint AS bytes FROM "
      ~ hot_relation_pg(spec) ~ " t WHERE " ~ ages_out(spec, cutoff, s.hot_intervals) ~ " GROUP BY 1" -%}
  {{ return("select * from postgres_query('hot', " ~ hotcold_lit(pg_sql) ~ ")") }}
{% endmacro %}

{% macro hotcold_aged_days__duckdb(spec, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {#- DuckDB keeps no per-row size; the text width is a fair stand-in for bytes. -#}
  {{ return("select " ~ ts ~ "::date as day, count(*) as rows, sum(strlen(t::varchar))::bigint as bytes from hot."
      ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) ~ " t where " ~ ages_out(spec, cutoff, s.hot_intervals) ~ " group by 1") }}
{% endmacro %}
