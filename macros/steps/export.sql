{#- Step 2-3 (Export + Verify): for each day touched, write the merged day (staged rows win
    over the lake's rows with the same key) to a staging folder, then read every staged file
    back and compare count and an order-independent checksum of the values, per day, with
    what was meant to be written. A mismatch stops the run before anything is published.
    A streamed stage (hotcold.stage_days) has already linked the days the lake does not hold
    into the staging folder; only the days that merge with a lake file are written here. -#}
{% macro hotcold_step_export() %}
  {%- set run = hotcold_current_run() -%}
  {%- set s = hotcold_settings() -%}
  {%- for spec in hotcold_run_tables(run) -%}
    {%- set started = hotcold_now() -%}
    {%- set stage = '_hotcold.' ~ hotcold_q('stage__' ~ spec.name) -%}
    {%- do hotcold_check_keys(spec, stage) -%}
    {%- set new_rows = hotcold_scalar("select count(*) from " ~ stage) -%}
    {%- if new_rows > 0 -%}
      {%- set cols = hotcold_lake_columns(stage) -%}
      {%- set streamed = hotcold_scalar("select count(*) from _hotcold.stage_writes where mode = 'days' and run_id = "
          ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name)) > 0 -%}
      {%- set files = hotcold_lake_files_for(spec, stage) -%}
      {%- set to_write = hotcold_merged(spec, stage, cols, files, lake_days_only=streamed) -%}
      {#- One new folder level only: DuckDB creates the target folder, not its parents. -#}
      {%- set staging = s.staging_root ~ '/' ~ invocation_id ~ '__' ~ spec.name -%}
      {%- do hotcold_fail_point('export.before_copy') -%}
      {%- if to_write -%}
        {%- do run_query("copy (select * from " ~ to_write ~ " w) to " ~ hotcold_lit(staging)
            ~ " (format parquet, compression " ~ s.lake_compression ~ ", partition_by (year, month, day), overwrite_or_ignore)") -%}
      {%- endif -%}
      {%- do hotcold_fail_point('export.after_copy') -%}
      {%- set copied = hotcold_now() -%}
      {%- do hotcold_verify_staged(spec, cols, hotcold_merged(spec, stage, cols, files, flagged=true), staging) -%}
      {%- do hotcold_fail_point('export.after_verify') -%}
      {%- set totals = hotcold_rows("select count(*) as days, sum(rows) as rows, sum(bytes) as bytes from _hotcold.export_days where run_id = "
          ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name))[0] -%}
      {%- do hotcold_log_step('export', spec.name, started, totals.rows, totals.days, totals.bytes, new_rows ~ ' new rows', finished_at=copied) -%}
      {%- do hotcold_log_step('verify', spec.name, copied, totals.rows, totals.days, totals.bytes) -%}
      {%- do log("hotcold:progress " ~ tojson({'event': 'exported', 'table': spec.name, 'days': totals.days, 'rows': new_rows}), info=true) -%}
    {%- else -%}
      {%- do hotcold_log_step('export', spec.name, started, 0, 0, 0, 'nothing aged out') -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
  {%- endfor -%}
{% endmacro %}

{#- The columns that go into lake files, in the hot table's order. -#}
{% macro hotcold_lake_columns(stage) %}
  {%- set out = [] -%}
  {%- for c in hotcold_rows("select column_name from (describe " ~ stage ~ ")") -%}
    {%- if c.column_name not in ('_hc_version', 'year', 'month', 'day') -%}{%- do out.append(hotcold_q(c.column_name)) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- The lake's day files for the staged days (their days noted in temp table hc_stage_days).
    A day the lake's record holds but whose file is gone would be re-written with the new
    rows only; stop instead, so the loss is seen and the file restored. -#}
{% macro hotcold_lake_files_for(spec, stage) %}
  {%- do run_query("create or replace temp table hc_stage_days as select distinct year, month, day from " ~ stage) -%}
  {%- set files = hotcold_rows("select g.file from glob(" ~ hotcold_lit(lake_glob(spec)) ~ ") g semi join hc_stage_days d"
      ~ " on g.file like '%/year=' || d.year || '/month=' || d.month || '/day=' || d.day || '/%' order by 1") | map(attribute='file') | list -%}
  {%- set missing = hotcold_rows("select r.day, r.path, r.rows from _hotcold.lake_days r where r.table_name = " ~ hotcold_lit(spec.name)
      ~ " and r.day in (select make_date(year::int, month::int, day::int) from hc_stage_days)"
      ~ " and r.path not in (select file from glob(" ~ hotcold_lit(lake_glob(spec)) ~ ")) order by r.day limit 1") -%}
  {%- if missing -%}
    {{ exceptions.raise_compiler_error("export stopped for " ~ spec.name ~ ": the lake file for " ~ missing[0].day ~ " (" ~ missing[0].rows ~ " rows, " ~ missing[0].path
        ~ ") is recorded but missing; restore it from a backup (hotcold verify lists every problem); nothing was published or deleted") }}
  {%- endif -%}
  {{ return(files) }}
{% endmacro %}

{#- The staged rows merged with the lake's `files` (a staged row replaces the lake's row with
    its key). lake_days_only: only the days those files hold ("" when none). flagged: with
    _hc_new = 1 for a staged row, 0 for a kept one (verify counts the new rows by it). -#}
{% macro hotcold_merged(spec, stage, cols, files, lake_days_only=false, flagged=false) %}
  {%- set fresh = "select " ~ cols | join(', ') ~ ", year, month, day" ~ (", 1 as _hc_new" if flagged else "") ~ " from " ~ stage -%}
  {%- if not files -%}{{ return("" if lake_days_only else "(" ~ fresh ~ ")") }}{%- endif -%}
  {%- set lits = [] -%}{%- for f in files -%}{%- do lits.append(hotcold_lit(f)) -%}{%- endfor -%}
  {%- if lake_days_only -%}
    {%- set fresh = fresh ~ " s semi join (select p.year, p.month, p.day from (select regexp_extract(f, '/year=([0-9]+)/month=([0-9]+)/day=([0-9]+)/', ['year', 'month', 'day']) as p"
        ~ " from (select unnest([" ~ lits | join(', ') ~ "]) as f))) d using (year, month, day)" -%}
  {%- endif -%}
  {%- set kept = "select " ~ cols | join(', ') ~ ", year, month, day" ~ (", 0 as _hc_new" if flagged else "") ~ " from read_parquet([" ~ lits | join(', ')
      ~ "], hive_partitioning = true, hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR}) l"
      ~ " where not exists (select 1 from " ~ stage ~ " s where " ~ hotcold_key_match(spec.key, 's', 'l') ~ ")" -%}
  {{ return("(" ~ fresh ~ " union all " ~ kept ~ ")") }}
{% endmacro %}

{% macro hotcold_checksum(cols) %}
  {{- return("sum(hash(row(" ~ cols | join(', ') ~ "))::hugeint)") -}}
{% endmacro %}

{#- `merged`: what the staged files should hold, flagged (hotcold_merged). -#}
{% macro hotcold_verify_staged(spec, cols, merged, staging) %}
  {%- set expected = "select year, month, day, count(*) as rows, " ~ hotcold_checksum(cols) ~ " as checksum, sum(_hc_new) as new_rows from " ~ merged ~ " m group by all" -%}
  {%- set staged = "select year, month, day, count(*) as rows, " ~ hotcold_checksum(cols) ~ " as checksum, count(distinct _hc_file) as files"
      ~ " from read_parquet(" ~ hotcold_lit(staging ~ '/*/*/*/*.parquet') ~ ", hive_partitioning = true, filename = '_hc_file',"
      ~ " hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR}) group by all" -%}
  {%- set sizes = "select regexp_extract(file_name, 'year=([0-9]+)/month=([0-9]+)/day=([0-9]+)', ['year', 'month', 'day']) as p, sum(total_compressed_size) as bytes"
      ~ " from parquet_metadata(" ~ hotcold_lit(staging ~ '/*/*/*/*.parquet') ~ ") group by all" -%}
  {%- do run_query("create or replace temp table hc_verify as select coalesce(e.year, g.year) as year, coalesce(e.month, g.month) as month, coalesce(e.day, g.day) as day,"
      ~ " e.rows as expected_rows, e.checksum as expected_checksum, g.rows as staged_rows, g.checksum as staged_checksum, g.files, e.new_rows"
      ~ " from (" ~ expected ~ ") e full join (" ~ staged ~ ") g using (year, month, day)") -%}
  {%- set bad = hotcold_rows("select * from hc_verify where expected_rows is distinct from staged_rows or expected_checksum is distinct from staged_checksum order by 1, 2, 3 limit 5") -%}
  {%- if bad -%}
    {%- set b = bad[0] -%}
    {{ exceptions.raise_compiler_error("verify failed for " ~ spec.name ~ " day " ~ b.year ~ "-" ~ b.month ~ "-" ~ b.day ~ ": expected "
        ~ b.expected_rows ~ " rows, staged files hold " ~ b.staged_rows ~ " (checksums " ~ b.expected_checksum ~ " vs " ~ b.staged_checksum
        ~ "); nothing was published or deleted, staged files are in " ~ staging) }}
  {%- endif -%}
  {%- do run_query("insert into _hotcold.export_days select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name)
      ~ ", v.year, v.month, v.day, v.staged_rows, coalesce(v.new_rows, 0), v.staged_checksum, v.files, z.bytes, null, null"
      ~ " from hc_verify v left join (" ~ sizes ~ ") z on z.p.year = v.year and z.p.month = v.month and z.p.day = v.day") -%}
{% endmacro %}
