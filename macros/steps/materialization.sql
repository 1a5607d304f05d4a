{#- A rotation step: run the step's macro (its side effects: export, publish, delete...),
    then keep the model's own select, a summary of what the step did, as its table.
    Side effects live here, never in the model body, so `dbt compile` and `dbt docs`
    change nothing. -#}
{% materialization hotcold_step, adapter='duckdb' %}
  {%- set step = config.require('step') -%}
  {%- set impl = context.get('hotcold_step_' ~ step) -%}
  {%- if impl is none -%}
    {{ exceptions.raise_compiler_error("hotcold_step: unknown step '" ~ step ~ "'; steps are stage, export, delete, vacuum, catalog") }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {{ run_hooks(pre_hooks) }}
  {%- do impl() -%}
  {% call statement('main') -%}
    create or replace table {{ target_relation }} as {{ sql }}
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {%- do adapter.commit() -%}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
