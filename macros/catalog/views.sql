{#- The analysts' catalog: a DuckDB file of its own (storage.lake.catalog_path), apart from
    the state database that rotations lock, holding per table
      cold.<table>     the lake, year/month/day typed from the folder names; needs nothing else;
      unified.<table>  hot ∪ cold, each key once, the hot row winning while a row is in both;
                       needs the hot store ATTACHed as `hot` in the reader's session.
    DuckDB cannot create a view over a glob that matches no file yet, so a table whose lake is
    still empty gets a typed empty view, marked in its comment, that the next refresh replaces
    (hotcold rotate refreshes the catalog when it publishes a table's first day). -#}

{% macro hotcold_step_catalog() %}
  {%- set s = hotcold_settings() -%}
  {%- do run_query("create or replace table _hotcold.catalog_views (table_name varchar, cold_view varchar, unified_view varchar, lake_files bigint, placeholder boolean, built_at timestamptz, note varchar)") -%}
  {%- do run_query("attach if not exists " ~ hotcold_lit(s.catalog_path) ~ " as hotcold_catalog") -%}
  {%- do run_query("create schema if not exists hotcold_catalog.cold; create schema if not exists hotcold_catalog.unified") -%}
  {%- for spec in hotcold_selected_tables_all() -%}
    {%- do hotcold_catalog_table(spec, s) -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
  {%- do run_query("detach hotcold_catalog") -%}
{% endmacro %}

{% macro hotcold_catalog_table(spec, s) %}
  {%- set files = hotcold_scalar("select count(*) from glob(" ~ hotcold_lit(lake_glob(spec)) ~ ")") -%}
  {%- set hot_cols = hot_dispatch('table_columns')(spec) -%}
  {%- if files > 0 -%}
    {%- set cold = "select * from " ~ lake_read(spec) -%}
    {%- set comment = "hotcold: " ~ spec.name ~ " in the lake at " ~ s.lake_root -%}
  {%- elif hot_cols -%}
    {%- set cold = hotcold_typed_empty(spec) -%}
    {%- set comment = "hotcold: placeholder, the lake holds no " ~ spec.name ~ " files yet; run hotcold catalog after the first rotation" -%}
  {%- else -%}
    {%- do run_query("insert into _hotcold.catalog_views values (" ~ hotcold_lit(spec.name) ~ ", null, null, 0, false, now(), 'not in the hot store or the lake')") -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set cold_view = "hotcold_catalog.cold." ~ hotcold_q(spec.name) -%}
  {%- set unified_view = "hotcold_catalog.unified." ~ hotcold_q(spec.name) -%}
  {%- do run_query("create or replace view " ~ cold_view ~ " as " ~ cold) -%}
  {%- do run_query("comment on view " ~ cold_view ~ " is " ~ hotcold_lit(comment)) -%}
  {%- do run_query("create or replace view " ~ unified_view ~ " as " ~ hotcold_unified_select(spec, s, cold, hot_cols)) -%}
  {#- The hot columns it was built on, for hotcold.ops.catalog.stale_tables: a column added to or
      dropped from the hot table makes the view stale. -#}
  {%- do run_query("comment on view " ~ unified_view ~ " is " ~ hotcold_lit("hotcold: " ~ spec.name ~ ", hot and cold, each key once; ATTACH the hot store AS hot first"
      ~ " [hot columns: " ~ hot_cols | map(attribute='name') | join(',') ~ "]")) -%}
  {%- do run_query("insert into _hotcold.catalog_views values (" ~ hotcold_lit(spec.name) ~ ", 'cold." ~ spec.name ~ "', 'unified." ~ spec.name ~ "', "
      ~ files ~ ", " ~ (files == 0) ~ ", now(), " ~ hotcold_lit(comment) ~ ")") -%}
{% endmacro %}

{#- No rows, and the columns and types a lake file of this table will have: what the archival
    select produces, plus the partition columns. -#}
{% macro hotcold_typed_empty(spec) %}
  {%- set cols = [] -%}
  {%- for c in hot_lake_columns(spec) -%}
    {%- do cols.append("cast(null as " ~ c.column_type ~ ") as " ~ hotcold_q(c.column_name)) -%}
  {%- endfor -%}
  {{ return("select " ~ cols | join(', ') ~ ", cast(null as integer) as year, cast(null as integer) as month, cast(null as integer) as day where false") }}
{% endmacro %}

{#- The hot table as the lake holds it: PostgreSQL's own text for the columns the archival
    select sends as text (hot_lake_plan), through postgres_query, when it has any (DuckDB's
    scanner would read them its own way, or not at all: intervals, 2-D arrays); otherwise the
    attached table, which lets DuckDB push filters down. -#}
{% macro hot_read_exact(spec) %}
  {%- set s = hotcold_settings() -%}
  {%- set attached = "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {%- if s.hot_kind != 'postgres' -%}{{ return(attached) }}{%- endif -%}
  {%- set plan = hot_lake_plan(spec) -%}
  {%- set read = namespace(exact=false) -%}
  {%- for c in plan if c.sent != hotcold_q(c.name) -%}{%- set read.exact = true -%}{%- endfor -%}
  {%- if not read.exact -%}{{ return(attached) }}{%- endif -%}
  {%- set sent = [] -%}
  {%- for c in plan -%}{%- do sent.append(c.sent ~ " AS " ~ hotcold_q(c.name)) -%}{%- endfor -%}
  {{ return("postgres_query('hot', " ~ hotcold_lit("SELECT " ~ sent | join(', ') ~ " FROM " ~ hot_relation_pg(spec)) ~ ")") }}
{% endmacro %}

{#- Hot rows cast to the lake's column types, then the lake's rows whose key is not hot. -#}
{% macro hotcold_unified_select(spec, s, cold, hot_cols) %}
  {%- set cold_only = "select * exclude (year, month, day) from (" ~ cold ~ ")" -%}
  {%- if not hot_cols -%}{{ return(cold_only) }}{%- endif -%}
  {%- set hot_names = hot_cols | map(attribute='name') | list -%}
  {%- set select = [] -%}
  {%- for c in hotcold_rows("describe (" ~ cold_only ~ ")") -%}
    {%- set src = ("h." ~ hotcold_q(c.column_name)) if c.column_name in hot_names else "null" -%}
    {%- do select.append("cast(" ~ src ~ " as " ~ c.column_type ~ ") as " ~ hotcold_q(c.column_name)) -%}
  {%- endfor -%}
  {%- set hot = "select " ~ select | join(', ') ~ " from " ~ hot_read_exact(spec) ~ " h" -%}
  {{ return("with h as (" ~ hot ~ ") select * from h union all by name select c.* from (" ~ cold_only ~ ") c"
      ~ " where not exists (select 1 from h where " ~ hotcold_key_match(spec.key, 'h', 'c') ~ ")") }}
{% endmacro %}
