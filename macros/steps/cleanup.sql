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
