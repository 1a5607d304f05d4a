{#- What the hot side holds, per configured table, for `hotcold status`. Read-only on the
    hot store; the answer goes to _hotcold.hot_status in the state database. -#}
{% macro hotcold_status() %}
  {%- do hotcold_state_tables() -%}
  {%- set cutoff = hot_window_cutoff() -%}
  {%- do run_query("create table if not exists _hotcold.hot_status (run_id varchar, table_name varchar, cutoff timestamptz, rows bigint, bytes bigint, oldest timestamptz, newest timestamptz, aging_rows bigint, note varchar)") -%}
  {%- do run_query("alter table _hotcold.hot_status add column if not exists unfileable_rows bigint") -%}
  {%- for spec in hotcold_selected_tables_all() -%}
    {%- set prefix = "insert into _hotcold.hot_status select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", " ~ hotcold_lit(cutoff) ~ "::timestamptz, " -%}
    {%- if hot_dispatch('table_columns')(spec) -%}
      {%- do run_query(prefix ~ "sum(rows), max(table_bytes), min(oldest), max(newest), sum(aged_rows), '', " ~ hot_unfileable_rows(spec) ~ " from (" ~ hot_dispatch('interval_stats')(spec, cutoff) ~ ")") -%}
    {%- else -%}
      {%- do run_query(prefix ~ "null, null, null, null, null, 'not in the hot store', null") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{% endmacro %}

{#- Per interval of a hot table (one group when it has no interval column): rows, bytes of row
    data, oldest and newest time, the rows and bytes that age out, the days they cover, and
    the table's size on disk. What `status` sums and `cleanup --analyze-only` shows. -#}
{% macro hotcold_interval_stats__postgres(spec, cutoff) %}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set aged = ages_out(spec, cutoff, hotcold_settings().hot_intervals) -%}
  {#- A row's bytes: the tuple header plus each stored value. (pg_column_size(t.*) would be
      simpler but depends on the plan that formed the row, so it is not repeatable.) -#}
  {%- set sizes = ["24"] -%}
  {%- for c in hot_table_columns(spec) -%}{%- do sizes.append("coalesce(pg_column_size(" ~ hotcold_q(c.name) ~ "), 0)") -%}{%- endfor -%}
  {%- set row_bytes = "(" ~ sizes | join(' + ') ~ ")" -%}
  {%- set pg_sql = "SELECT " ~ (hotcold_q(spec.interval_column) ~ "::text" if spec.interval_column else "NULL::text") ~ " AS interval, count(*) AS rows,"
      ~ " sum(" ~ row_bytes ~ ")::bigint AS bytes, min(" ~ ts ~ ")::timestamptz AS oldest, max(" ~ ts ~ ")::timestamptz AS newest,"
      ~ " count(*) FILTER (WHERE " ~ aged ~ ") AS aged_rows, coalesce(sum(" ~ row_bytes ~ ") FILTER (WHERE " ~ aged ~ "), 0)::bigint AS aged_bytes,"
      ~ " count(DISTINCT (" ~ ts ~ " AT TIME ZONE 'UTC')::date) FILTER (WHERE " ~ aged ~ ") AS aged_days,"
      ~ " pg_total_relation_size(" ~ hotcold_lit(rel) ~ "::regclass) AS table_bytes FROM " ~ rel ~ " t GROUP BY 1"
      ~ " UNION ALL SELECT NULL, 0, 0, NULL, NULL, 0, 0, 0, pg_total_relation_size(" ~ hotcold_lit(rel) ~ "::regclass) WHERE NOT EXISTS (SELECT FROM " ~ rel ~ ")" -%}
  {{ return("select * from postgres_query('hot', " ~ hotcold_lit(pg_sql) ~ ")") }}
{% endmacro %}

{% macro hotcold_interval_stats__duckdb(spec, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set aged = ages_out(spec, cutoff, s.hot_intervals) -%}
  {%- set rel = "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {#- A table with no rows still has one line (rows 0) and, on PostgreSQL, its size.
      DuckDB keeps no per-row or per-table size; the rows' text width stands in for both. -#}
  {{ return("select " ~ (hotcold_q(spec.interval_column) ~ "::varchar" if spec.interval_column else "null::varchar") ~ " as interval, count(*) as rows,"
      ~ " sum(strlen(t::varchar))::bigint as bytes, min(" ~ ts ~ ")::timestamptz as oldest, max(" ~ ts ~ ")::timestamptz as newest,"
      ~ " count(*) filter (where " ~ aged ~ ") as aged_rows, coalesce(sum(strlen(t::varchar)) filter (where " ~ aged ~ "), 0)::bigint as aged_bytes,"
      ~ " count(distinct " ~ ts ~ "::date) filter (where " ~ aged ~ ") as aged_days, sum(sum(strlen(t::varchar))) over ()::bigint as table_bytes"
      ~ " from " ~ rel ~ " t group by 1 union all select null, 0, 0, null, null, 0, 0, 0, 0 where not exists (from " ~ rel ~ ")") }}
{% endmacro %}
