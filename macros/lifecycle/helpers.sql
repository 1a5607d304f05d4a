{#- Small helpers the step macros share: rows as dicts, quoting, settings. -#}

{% macro hotcold_rows(sql) %}
  {%- set res = run_query(sql) -%}
  {%- set out = [] -%}
  {%- for row in res.rows -%}
    {%- set d = {} -%}
    {%- for name in res.column_names -%}{%- do d.update({name: row[name]}) -%}{%- endfor -%}
    {%- do out.append(d) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro hotcold_scalar(sql) %}
  {%- set rows = hotcold_rows(sql) -%}
  {{ return(rows[0].values() | list | first if rows else none) }}
{% endmacro %}

{#- Identifiers are validated when the config loads; quoting them too keeps keywords such as
    "interval" safe in both PostgreSQL and DuckDB. -#}
{% macro hotcold_q(name) %}
  {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]{0,62}$', name | string) -%}
    {{ exceptions.raise_compiler_error("hotcold_q: '" ~ name ~ "' is not a plain identifier; use letters, digits and underscores") }}
  {%- endif -%}
  {{ return('"' ~ name ~ '"') }}
{% endmacro %}

{#- "a.k1 = b.k1 and a.k2 = b.k2": the join on a table's key, used wherever staged rows
    meet hot or lake rows. -#}
{% macro hotcold_key_match(key, left, right) %}
  {%- set parts = [] -%}
  {%- for k in key -%}{%- do parts.append(left ~ "." ~ hotcold_q(k) ~ " = " ~ right ~ "." ~ hotcold_q(k)) -%}{%- endfor -%}
  {{ return(parts | join(' and ')) }}
{% endmacro %}

{#- "t.k1, t.k2": a table's key columns, qualified. -#}
{% macro hotcold_key_list_of(key, alias) %}
  {%- set out = [] -%}{%- for k in key -%}{%- do out.append(alias ~ "." ~ hotcold_q(k)) -%}{%- endfor -%}
  {{ return(out | join(', ')) }}
{% endmacro %}

{% macro hotcold_q_list(names) %}
  {%- set out = [] -%}{%- for n in names -%}{%- do out.append(hotcold_q(n)) -%}{%- endfor -%}
  {{ return(out | join(', ')) }}
{% endmacro %}

{% macro hotcold_lit(value) %}
  {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{% endmacro %}

{#- The validated config as the hotcold plugin wrote it (python/hotcold/dbt_plugin.py,
    run_settings): one JSON value, lists as lists. -#}
{% macro hotcold_settings() %}
  {%- set rows = hotcold_rows("select value::varchar as value from _hotcold.settings") -%}
  {%- if not rows -%}
    {{ exceptions.raise_compiler_error("hotcold_settings: _hotcold.settings is empty; run dbt with the hotcold profile (profiles.yml lists the hotcold.dbt.plugin plugin)") }}
  {%- endif -%}
  {{ return(fromjson(rows[0].value)) }}
{% endmacro %}

{#- The tables this run works on: var('tables'), else all with var('full'), else the
    configured rotation set. -#}
{% macro hotcold_selected_tables() %}
  {%- set specs = hotcold_selected_tables_all() -%}
  {%- set wanted = var('tables', none) -%}
  {%- if wanted is string -%}{%- set wanted = wanted.split(',') -%}{%- endif -%}
  {%- set known = specs | map(attribute='name') | list -%}
  {%- for name in (wanted or []) -%}
    {%- if name not in known -%}
      {{ exceptions.raise_compiler_error("hotcold_selected_tables: unknown table '" ~ name ~ "'; configured tables: " ~ known | join(', ')) }}
    {%- endif -%}
  {%- endfor -%}
  {%- set out = [] -%}
  {%- for s in specs -%}
    {%- if (wanted and s.name in wanted) or (not wanted and (var('full', false) or s.rotate)) -%}
      {%- do out.append(s) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro hotcold_selected_tables_all() %}
  {{ return(hotcold_settings().tables) }}
{% endmacro %}

{#- Macros whose SQL depends on the kind of hot store (postgres or duckdb) rather than on the
    adapter running them: the lake target is always DuckDB, the hot store it ATTACHes is not.
    Same contract as adapter.dispatch: hotcold_<name>__<kind>. -#}
{% macro hot_dispatch(name) %}
  {%- set kind = hotcold_settings().hot_kind -%}
  {%- set impl = context.get('hotcold_' ~ name ~ '__' ~ kind) -%}
  {%- if impl is none -%}
    {{ exceptions.raise_compiler_error("hot_dispatch: no hotcold_" ~ name ~ "__" ~ kind ~ " macro; hot store kinds are postgres and duckdb") }}
  {%- endif -%}
  {{ return(impl) }}
{% endmacro %}

{#- A named point where a test can crash the run (python/hotcold/faults.py lists them). -#}
{% macro hotcold_fail_point(name) %}
  {%- if env_var('HOTCOLD_FAIL_AT', '') -%}
    {%- do run_query("select hotcold_fail_point(" ~ hotcold_lit(name) ~ ")") -%}
  {%- endif -%}
{% endmacro %}
