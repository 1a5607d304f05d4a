{#- Backfill: the stage of a run comes from files (CSV or Parquet) instead of the hot store.
    Each file is landed as it is, checked (its columns are exactly the table's; every value
    casts to the lake's type; key and time columns are not NULL), and the first bad value
    stops the run naming the file, the row and the column, before anything is published or
    written. Rows of all files are then de-duplicated on the key: the last file given, and
    within a file the last row, wins. -#}
{% macro hotcold_stage_backfill(spec, stage, backfill) %}
  {%- set files = hotcold_backfill_files(backfill) -%}
  {%- set columns = hot_lake_columns(spec) -%}
  {%- set loaded = '_hotcold.' ~ hotcold_q('backfill__' ~ spec.name) -%}
  {%- set typed = [] -%}
  {%- for c in columns -%}
    {%- do typed.append("try_cast(" ~ hotcold_q(c.column_name) ~ " as " ~ c.column_type ~ ") as " ~ hotcold_q(c.column_name)) -%}
  {%- endfor -%}
  {%- do run_query("create or replace table " ~ loaded ~ " as select * exclude (year, month, day), 0 as _hc_file, 0::bigint as _hc_row from ("
      ~ hotcold_typed_empty(spec) ~ ")") -%}
  {%- for f in files -%}
    {%- do hotcold_land_file(spec, f, loop.index, columns, typed, loaded) -%}
  {%- endfor -%}
  {%- set names = columns | map(attribute='column_name') | list -%}
  {%- do hotcold_stage_rows(spec, stage, "(select " ~ hotcold_q_list(names) ~ ", null::bigint as _hc_version from " ~ loaded
      ~ " qualify row_number() over (partition by " ~ hotcold_q_list(spec.key) ~ " order by _hc_file desc, _hc_row desc) = 1)") -%}
  {%- set n = hotcold_rows("select count(*) as rows, (select count(*) from " ~ stage ~ ") as kept from " ~ loaded)[0] -%}
  {%- do run_query("drop table " ~ loaded) -%}
  {#- The hot store's turn comes after publish (hot_write_staged); try its write now, rolled
      back, so that rows the hot table refuses stop the backfill before the lake changes. -#}
  {%- if n.kept > 0 -%}
    {%- do hot_dispatch('write_staged')(spec, stage, invocation_id, hot_window_cutoff(), trial=true) -%}
  {%- endif -%}
  {{ return(n.rows ~ " rows from " ~ files | length ~ " files" ~ ((", " ~ (n.rows - n.kept) ~ " repeated keys replaced by their later version") if n.rows != n.kept else "")) }}
{% endmacro %}

{#- var('backfill').files as [{path, name, format}]: a path may be a glob; format comes from
    the extension unless given. -#}
{% macro hotcold_backfill_files(backfill) %}
  {%- set entries = backfill.get('files') if backfill is mapping else none -%}
  {%- if not entries or entries is string -%}
    {{ exceptions.raise_compiler_error("hotcold_stage_backfill: var backfill must be {files: [path, ...]}, got " ~ backfill) }}
  {%- endif -%}
  {%- set out = [] -%}
  {%- for e in entries -%}
    {%- set e = e if e is mapping else {'path': e} -%}
    {%- set matched = hotcold_rows("select file from glob(" ~ hotcold_lit(e.path) ~ ") order by file") | map(attribute='file') | list -%}
    {%- if not matched -%}
      {{ exceptions.raise_compiler_error("backfill: no file matches " ~ e.path ~ "; check the path") }}
    {%- endif -%}
    {%- for path in matched -%}
      {%- set fmt = e.get('format') or ('parquet' if path.lower().endswith('.parquet') else 'csv' if modules.re.search('\\.(csv|tsv|txt)(\\.gz|\\.zst)?$', path.lower()) else none) -%}
      {%- if fmt not in ('csv', 'parquet') -%}
        {{ exceptions.raise_compiler_error("backfill: " ~ path ~ " is neither .csv nor .parquet; give its format: {path: ..., format: csv|parquet}") }}
      {%- endif -%}
      {%- do out.append({'path': path, 'name': e.get('name') or path, 'format': fmt}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro hotcold_land_file(spec, f, index, columns, typed, loaded) %}
  {%- set land = '_hotcold.backfill_land' -%}
  {%- set reader = ("read_parquet(" ~ hotcold_lit(f.path) ~ ", hive_partitioning = false)") if f.format == 'parquet'
      else ("read_csv(" ~ hotcold_lit(f.path) ~ ", header = true, all_varchar = true)") -%}
  {#- A plain table keeps the file's row order, so rowid is the row's place in the file. -#}
  {%- do run_query("create or replace table " ~ land ~ " as select * from " ~ reader) -%}
  {%- set have = hotcold_rows("select column_name from (describe " ~ land ~ ")") | map(attribute='column_name') | list -%}
  {%- set want = columns | map(attribute='column_name') | list -%}
  {%- set missing = want | reject('in', have) | list -%}
  {%- set extra = have | reject('in', want) | list -%}
  {%- if missing or extra -%}
    {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ " has the wrong columns" ~ (": missing " ~ missing | join(', ') if missing else "")
        ~ ("; unexpected " ~ extra | join(', ') if extra else "") ~ "; " ~ spec.name ~ " has " ~ want | join(', ') ~ ". Nothing was published or written") }}
  {%- endif -%}
  {%- set required = (spec.key + [spec.time_column]) | unique | list -%}
  {%- set checks = [] -%}
  {%- for c in columns -%}
    {%- set q = hotcold_q(c.column_name) -%}
    {%- if c.column_name in required -%}
      {%- do checks.append("when " ~ q ~ " is null then " ~ hotcold_lit(c.column_name ~ "' is empty, and it is a key or time column")) -%}
    {%- endif -%}
    {%- do checks.append("when " ~ q ~ " is not null and try_cast(" ~ q ~ " as " ~ c.column_type ~ ") is null then "
        ~ hotcold_lit(c.column_name ~ "' holds ") ~ " || " ~ "coalesce('''' || left(" ~ q ~ "::varchar, 60) || '''', 'a value')" ~ " || " ~ hotcold_lit(", which is not a " ~ c.column_type)) -%}
  {%- endfor -%}
  {%- set bad = hotcold_rows("select rowid + 1 as row, case " ~ checks | join(' ') ~ " end as problem from " ~ land
      ~ " where problem is not null order by rowid limit 1") -%}
  {%- if bad -%}
    {%- set where = ("line " ~ (bad[0].row + 1) ~ " (data row " ~ bad[0].row ~ ")") if f.format == 'csv' else ("row " ~ bad[0].row) -%}
    {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ ", " ~ where ~ ": column '" ~ bad[0].problem ~ ". Nothing was published or written; fix the file and re-run") }}
  {%- endif -%}
  {%- do run_query("insert into " ~ loaded ~ " select " ~ typed | join(', ') ~ ", " ~ index ~ ", rowid from " ~ land) -%}
  {%- set n = hotcold_scalar("select count(*) from " ~ land) -%}
  {%- do run_query("drop table " ~ land) -%}
  {%- do log("hotcold:progress " ~ tojson({'event': 'file', 'name': f.name, 'rows': n}), info=true) -%}
{% endmacro %}
