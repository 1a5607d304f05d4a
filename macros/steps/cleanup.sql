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
