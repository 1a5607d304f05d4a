{#- Cleanup, the one-time migration into the window: what each hot table holds per interval,
    and what lies outside the window (var('hot_days') may shorten or widen it for the run).
    Read-only on the hot store; the answer goes to _hotcold.analysis. -#}
{% macro hotcold_analyze() %}
  {%- do hotcold_state_tables() -%}
  {%- set cutoff = hot_window_cutoff() -%}
  {%- do run_query("create table if not exists _hotcold.analysis (run_id varchar, table_name varchar, cutoff timestamptz, interval varchar, rows bigint, bytes bigint,"
      ~ " oldest timestamptz, newest timestamptz, aged_rows bigint, aged_bytes bigint, aged_days bigint, table_bytes bigint)") -%}
  {%- for spec in hotcold_selected_tables() -%}
    {%- if hot_dispatch('table_columns')(spec) -%}
      {%- do run_query("insert into _hotcold.analysis select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", " ~ hotcold_lit(cutoff)
          ~ "::timestamptz, * from (" ~ hot_dispatch('interval_stats')(spec, cutoff) ~ ")") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{% endmacro %}

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
      ~ " pg_total_relation_size(" ~ hotcold_lit(rel) ~ "::regclass) AS table_bytes FROM " ~ rel ~ " t GROUP BY 1" -%}
  {{ return("select * from postgres_query('hot', " ~ hotcold_lit(pg_sql) ~ ")") }}
{% endmacro %}

{% macro hotcold_interval_stats__duckdb(spec, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set aged = ages_out(spec, cutoff, s.hot_intervals) -%}
  {#- DuckDB keeps no per-row or per-table size; the rows' text width stands in for both. -#}
  {{ return("select " ~ (hotcold_q(spec.interval_column) ~ "::varchar" if spec.interval_column else "null::varchar") ~ " as interval, count(*) as rows,"
      ~ " sum(strlen(t::varchar))::bigint as bytes, min(" ~ ts ~ ")::timestamptz as oldest, max(" ~ ts ~ ")::timestamptz as newest,"
      ~ " count(*) filter (where " ~ aged ~ ") as aged_rows, coalesce(sum(strlen(t::varchar)) filter (where " ~ aged ~ "), 0)::bigint as aged_bytes,"
      ~ " count(distinct " ~ ts ~ "::date) filter (where " ~ aged ~ ") as aged_days, sum(sum(strlen(t::varchar))) over ()::bigint as table_bytes"
      ~ " from hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) ~ " t group by 1") }}
{% endmacro %}

{#- Give the space of deleted rows back: VACUUM FULL rewrites each selected hot table (an
    ACCESS EXCLUSIVE lock for the duration), plain VACUUM (ANALYZE) only makes it reusable. -#}
{% macro hotcold_reclaim(full=false) %}
  {%- if full not in (true, false) -%}
    {{ exceptions.raise_compiler_error("hotcold_reclaim: full must be true or false, got " ~ full) }}
  {%- endif -%}
  {%- for spec in hotcold_selected_tables() -%}
    {%- if hot_dispatch('table_columns')(spec) -%}
      {%- do hot_vacuum(spec, full) -%}
      {%- do log("hotcold: " ~ ("VACUUM (FULL, ANALYZE) " if full else "VACUUM (ANALYZE) ") ~ spec.name, info=true) -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}
