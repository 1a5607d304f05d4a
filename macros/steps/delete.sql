{#- Step 5 (Delete): only when every day of this run's export for the table is verified and
    published, delete from the hot store exactly the staged rows in their staged versions.
    In a backfill this is the hot store's turn to receive the rows: the backfilled rows of
    the window (hot intervals only) are written there, replacing any version of their key. -#}
{% macro hotcold_step_delete() %}
  {%- set run = hotcold_current_run() -%}
  {%- do hotcold_fail_point('delete.before') -%}
  {%- for spec in hotcold_run_tables(run) -%}
    {%- set started = hotcold_now() -%}
    {%- set stage = '_hotcold.' ~ hotcold_q('stage__' ~ spec.name) -%}
    {%- set expected = hotcold_scalar("select count(*) from " ~ stage) -%}
    {%- set days = hotcold_require_published(spec, expected, 'written to the hot store' if run.kind == 'backfill' else 'deleted') -%}
    {%- if run.kind == 'backfill' -%}
      {%- set written = hot_write_staged(spec, stage, invocation_id, run.cutoff) if expected > 0 else 0 -%}
      {%- do hotcold_log_step('hot_write', spec.name, started, written, days, 0, written ~ ' rows of the hot window written to the hot store') -%}
    {%- else -%}
      {%- set deleted = hot_delete_staged(spec, stage, invocation_id, expected) if expected > 0 else 0 -%}
      {%- set kept = expected - deleted -%}
      {%- set notes = [(kept ~ ' rows changed since export were kept for the next run')] if kept else [] -%}
      {%- do notes.extend(hot_partition_notes(spec) if expected > 0 else []) -%}
      {%- do hotcold_log_step('delete', spec.name, started, deleted, days, 0, notes | join('; ')) -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
  {%- endfor -%}
  {%- do hotcold_fail_point('delete.after') -%}
{% endmacro %}

{#- The gate before the hot store changes: every day of this run's export of the table is
    published, and the verified new rows are exactly the staged rows. Returns the days. -#}
{% macro hotcold_require_published(spec, expected, action) %}
  {%- set gate = hotcold_rows("select count(*) as days, coalesce(sum(new_rows), 0) as new_rows, count(*) filter (where published_at is null) as unpublished"
      ~ " from _hotcold.export_days where run_id = " ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name))[0] -%}
  {%- if gate.unpublished > 0 or gate.new_rows != expected -%}
    {{ exceptions.raise_compiler_error("hot store change refused for " ~ spec.name ~ ": " ~ gate.unpublished ~ " of " ~ gate.days ~ " days are not published and verified, or the verified rows ("
        ~ gate.new_rows ~ ") differ from the staged rows (" ~ expected ~ "); nothing was " ~ action ~ ", re-run") }}
  {%- endif -%}
  {#- The published files themselves: each footer must read and hold the rows verified. A
      file that cannot be read stops the step here, on DuckDB's error, before any change. -#}
  {%- set published = "select path, rows from _hotcold.export_days where run_id = " ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name) -%}
  {%- if gate.days > 0 -%}
    {%- set paths = [] -%}
    {%- for r in hotcold_rows(published) -%}{%- do paths.append(hotcold_lit(r.path)) -%}{%- endfor -%}
    {%- set bad = hotcold_rows("select e.path, e.rows, m.num_rows from (" ~ published ~ ") e left join parquet_file_metadata(["
        ~ paths | join(', ') ~ "]) m on m.file_name = e.path where m.num_rows is distinct from e.rows limit 1") -%}
    {%- if bad -%}
      {{ exceptions.raise_compiler_error("hot store change refused for " ~ spec.name ~ ": lake file " ~ bad[0].path ~ " holds " ~ bad[0].num_rows ~ " rows, "
          ~ bad[0].rows ~ " were verified; nothing was " ~ action ~ ", run hotcold verify and re-run") }}
    {%- endif -%}
  {%- endif -%}
  {{ return(gate.days) }}
{% endmacro %}

{#- Step 6 (VACUUM): the hot tables this run deleted from. Then the indexes the next run's
    stage and delete find the aging rows by (hot_ensure_aging_indexes), logged as step
    `index` when one is built: here, on the hot rows alone, a first rotation of a large table
    does not pay to index the rows it is about to delete. -#}
{% macro hotcold_step_vacuum() %}
  {%- set run = hotcold_current_run() -%}
  {%- do hotcold_fail_point('vacuum.before') -%}
  {%- for spec in hotcold_run_tables(run) -%}
    {%- set started = hotcold_now() -%}
    {%- set deleted = hotcold_scalar("select coalesce(sum(rows), 0) from _hotcold.step_log where step = 'delete' and run_id = "
        ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name)) -%}
    {%- set detail = 'nothing deleted, skipped' -%}
    {%- if deleted > 0 -%}
      {%- set detail = hot_vacuum_deleted(spec) -%}
    {%- endif -%}
    {%- do hotcold_log_step('vacuum', spec.name, started, deleted, 0, 0, detail) -%}
    {%- set started = hotcold_now() -%}
    {%- set indexed = '' if var('backfill', none) else hot_ensure_aging_indexes(spec) -%}
    {%- if indexed -%}
      {%- do hotcold_log_step('index', spec.name, started, 0, 0, 0, indexed) -%}
    {%- endif -%}
    {%- do hotcold_premake_step(spec) -%}
    {%- do adapter.commit() -%}
  {%- endfor -%}
  {%- do hotcold_fail_point('vacuum.after') -%}
{% endmacro %}
