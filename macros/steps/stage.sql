{#- Step 1-2a (Plan + read): copy the rows this run moves beside the state database, with their
    row versions and zero-padded partition values; everything after works from this copy.
    A rotation reads the rows that age out of the hot store (one read per table); a backfill
    (var('backfill'): the files to load) reads its files instead. From PostgreSQL the rows are
    streamed into day files by the next model (hotcold_stage_write, hotcold.pipeline.stage_days): this
    step notes the ordered select it is to run. -#}
{% macro hotcold_step_stage() %}
  {%- do hotcold_state_tables() -%}
  {%- set s = hotcold_settings() -%}
  {%- set backfill = var('backfill', none) -%}
  {%- if not backfill and not s.auto_rotation_enabled and not var('force', false) -%}
    {{ exceptions.raise_compiler_error("rotation is disabled: storage.lifecycle.auto_rotation.enabled is false in " ~ s.config_path ~ "; pass --vars '{force: true}' (hotcold rotate --force) to run it anyway") }}
  {%- endif -%}
  {%- set cutoff = hot_window_cutoff() -%}
  {%- set tables = hotcold_selected_tables() -%}
  {%- if backfill and tables | length != 1 -%}
    {{ exceptions.raise_compiler_error("hotcold_step_stage: a backfill loads one table, got " ~ tables | length ~ "; pass --vars '{tables: [market_data], backfill: {files: [...]}}'") }}
  {%- endif -%}
  {#- We hold the rotation lock: any run still marked running died without closing. -#}
  {%- do run_query("update _hotcold.runs set outcome = 'abandoned', finished_at = now() where outcome = 'running'") -%}
  {%- do run_query("insert into _hotcold.runs (run_id, as_of, cutoff, tables, started_at, outcome, kind) values ("
      ~ hotcold_lit(invocation_id) ~ ", (" ~ hotcold_lit(cutoff) ~ "::timestamptz + interval " ~ hotcold_lit(hot_window_days() ~ ' days') ~ ")::date, "
      ~ hotcold_lit(cutoff) ~ "::timestamptz, " ~ hotcold_lit(tables | map(attribute='name') | join(',')) ~ ", now(), 'running', "
      ~ hotcold_lit('backfill' if backfill else 'rotation') ~ ")") -%}
  {%- do adapter.commit() -%}
  {%- do hotcold_fail_point('stage.before') -%}
  {%- for spec in tables -%}
    {%- set started = hotcold_now() -%}
    {%- set stage = '_hotcold.' ~ hotcold_q('stage__' ~ spec.name) -%}
    {%- do hot_check_key_types(spec) -%}
    {%- set streamed = not backfill and hot_streams_days(spec) -%}
    {%- if backfill -%}
      {%- set note = hotcold_stage_backfill(spec, stage, backfill) -%}
    {%- else -%}
      {%- set unfileable = hot_unfileable_rows(spec) -%}
      {%- set note = '' -%}
      {%- if unfileable > 0 -%}
        {%- set warning = unfileable ~ " rows stay in the hot store: their " ~ spec.time_column ~ " is NULL, infinite or outside years 1-9999, which no lake day can hold; fix those values to archive them" -%}
        {%- do hotcold_log_step('unfileable', spec.name, started, unfileable, 0, 0, spec.name ~ ": " ~ warning) -%}
      {%- endif -%}
      {#- The read's own statement sends its snapshot and each day's fingerprint along
          (hot_archival_select): stage_days or hotcold_stage_rows note them here. -#}
      {%- do run_query("insert into _hotcold.stage_snapshots values (" ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", null)") -%}
    {%- endif -%}
    {%- if streamed -%}
      {%- do hotcold_drop_stage(spec, stage) -%}
      {%- do run_query("insert into _hotcold.stage_writes values (" ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", "
          ~ hotcold_lit(hot_archival_select(spec, cutoff, ordered=true)) ~ ", " ~ hotcold_lit(spec.time_column) ~ ", "
          ~ hotcold_lit(note or '') ~ ", " ~ hotcold_lit(started) ~ "::timestamptz, null, null)") -%}
    {%- else -%}
      {%- if not backfill -%}
        {%- do hotcold_stage_rows(spec, stage, "(" ~ hot_archival_select(spec, cutoff) ~ ")") -%}
      {%- endif -%}
      {%- set counts = hotcold_rows("select count(*) as n, count(distinct (year, month, day)) as d from " ~ stage)[0] -%}
      {%- do hotcold_log_step('stage', spec.name, started, counts.n, counts.d, 0, note) -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
  {%- endfor -%}
{% endmacro %}

{#- The stage: the rows with their version (_hc_version, where the store has one), written
    once to a Parquet file and read through a view that adds the zero-padded year/month/day.
    A file, not a table: the rows stream through at the hot store's pace, memory stays flat
    however many rows age out, and every later read is parallel (the hot store's read is one
    stream, so the partition columns are computed on the parallel side). -#}
{% macro hotcold_stage_rows(spec, stage, rows) %}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set path = hotcold_settings().stage_root ~ '/' ~ invocation_id ~ '__' ~ spec.name ~ '.parquet' -%}
  {%- do hotcold_drop_stage(spec, stage) -%}
  {%- do run_query("copy (select * from " ~ rows ~ " src) to " ~ hotcold_lit(path) ~ " (format parquet, compression snappy, dictionary_size_limit 0)") -%}
  {%- do hotcold_change_one_staged_value(path) -%}
  {%- set file = "read_parquet(" ~ hotcold_lit(path) ~ ")" -%}
  {%- set meta = '_hc_meta' in (hotcold_rows("select column_name from (describe select * from " ~ file ~ ")") | map(attribute='column_name') | list) -%}
  {%- if meta -%}
    {#- The hot store's meta rows (hot_archival_select): its snapshot and per-day fingerprints. -#}
    {%- do run_query("insert into _hotcold.source_fingerprints select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name)
        ~ ", _hc_meta from " ~ file ~ " where _hc_meta like 'fp|%'") -%}
    {%- do run_query("update _hotcold.stage_snapshots set snapshot = (select max(_hc_meta) from " ~ file ~ " where _hc_meta not like 'fp|%')"
        ~ " where run_id = " ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name)) -%}
  {%- endif -%}
  {%- do run_query("create view " ~ stage ~ " as select *" ~ (" exclude (_hc_meta)" if meta else "") ~ ", strftime(" ~ ts ~ ", '%Y') as year, strftime(" ~ ts ~ ", '%m') as month, strftime(" ~ ts ~ ", '%d') as day"
      ~ " from " ~ file ~ (" where _hc_meta is null" if meta else "")) -%}
{% endmacro %}

{#- The fail point stage.change_value (python/hotcold/faults.py), for the one-file stage: one
    value of one row changed after the hot store sent it, as a faulty layer would; verify must
    refuse the run. The last numeric column of the first data row gets 1 added. -#}
{% macro hotcold_change_one_staged_value(path) %}
  {%- if env_var('HOTCOLD_FAIL_AT', '').split(':')[0] != 'stage.change_value' -%}{{ return(none) }}{%- endif -%}
  {%- set file = "read_parquet(" ~ hotcold_lit(path) ~ ")" -%}
  {%- set numeric = hotcold_described(file) | selectattr('type', 'in', ['DOUBLE', 'BIGINT', 'INTEGER']) | rejectattr('name', 'equalto', '_hc_version') | list -%}
  {%- set q = hotcold_q(numeric[-1].name) -%}
  {%- set meta = '_hc_meta' in hotcold_described(file) | map(attribute='name') | list -%}
  {%- set first = "(row_number() over () = 1)" if not meta else "(_hc_meta is null and row_number() over (partition by _hc_meta is null) = 1)" -%}
  {%- do run_query("copy (select * replace (case when " ~ first ~ " then " ~ q ~ " + 1 else " ~ q ~ " end as " ~ q ~ ") from " ~ file ~ ") to " ~ hotcold_lit(path ~ '.changed') ~ " (format parquet)") -%}
  {%- do run_query("copy (select * from read_parquet(" ~ hotcold_lit(path ~ '.changed') ~ ")) to " ~ hotcold_lit(path) ~ " (format parquet)") -%}
{% endmacro %}

{#- A run that died left its view; earlier versions kept the stage as a table. -#}
{% macro hotcold_drop_stage(spec, stage) %}
  {%- for r in hotcold_rows("select 'view' as kind from duckdb_views() where schema_name = '_hotcold' and view_name = " ~ hotcold_lit('stage__' ~ spec.name)
      ~ " union all select 'table' from duckdb_tables() where schema_name = '_hotcold' and table_name = " ~ hotcold_lit('stage__' ~ spec.name)) -%}
    {%- do run_query("drop " ~ r.kind ~ " " ~ stage) -%}
  {%- endfor -%}
{% endmacro %}

{#- The lake de-duplicates on the key, so a NULL or repeated key would silently merge rows:
    refuse the table before anything moves. -#}
{% macro hotcold_check_keys(spec, stage) %}
  {#- A primary key (or a unique index on NOT NULL columns) on exactly these columns already
      rules both out; reading every staged key again would only cost time. -#}
  {%- if not var('backfill', none) and hot_key_enforced(spec) -%}{{ return(none) }}{%- endif -%}
  {%- for k in spec.key -%}
    {%- set nulls = hotcold_scalar("select count(*) from " ~ stage ~ " where " ~ hotcold_q(k) ~ " is null") -%}
    {%- if nulls > 0 -%}
      {{ exceptions.raise_compiler_error("table " ~ spec.name ~ ": " ~ nulls ~ " aged rows have NULL in key column '" ~ k ~ "'; fix those rows or the key in tables." ~ spec.name ~ ".key") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set dups = hotcold_scalar("select count(*) from (select 1 from " ~ stage ~ " group by " ~ hotcold_q_list(spec.key) ~ " having count(*) > 1)") -%}
  {%- if dups > 0 -%}
    {{ exceptions.raise_compiler_error("table " ~ spec.name ~ ": " ~ dups ~ " keys (" ~ spec.key | join(', ') ~ ") appear more than once among aged rows; add a unique constraint on the key or fix tables." ~ spec.name ~ ".key") }}
  {%- endif -%}
{% endmacro %}
