{#- Step 2-3 (Export + Verify): for each day touched, write the merged day (staged rows win
    over the lake's rows with the same key) to a staging folder, then read every staged file
    back and compare count and an order-independent checksum of the values, per day, with
    what was meant to be written. A mismatch stops the run before anything is published.
    A streamed stage (hotcold.pipeline.stage_days) has already linked the days the lake does not hold
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
      {%- do hotcold_check_lake_schema(spec, stage, files) -%}
      {%- set to_write = hotcold_merged(spec, stage, cols, files, lake_days_only=streamed) -%}
      {#- One new folder level only: DuckDB creates the target folder, not its parents. -#}
      {%- set staging = s.staging_root ~ '/' ~ invocation_id ~ '__' ~ spec.name -%}
      {%- do hotcold_fail_point('export.before_copy') -%}
      {%- if to_write -%}
        {#- No dictionaries: DuckDB's dictionary of doubles gives -0.0
            and 0.0 in one column one sign (verify would refuse the day), and trying it on prices
            costs 6x the write time for 3% smaller files (measured: 78k 1min bars). -#}
        {%- do run_query("copy (select * from " ~ to_write ~ " w) to " ~ hotcold_lit(staging)
            ~ " (format parquet, compression " ~ s.lake_compression ~ ", dictionary_size_limit 0, partition_by (year, month, day), overwrite_or_ignore)") -%}
      {%- endif -%}
      {%- do hotcold_fail_point('export.after_copy') -%}
      {%- set copied = hotcold_now() -%}
      {%- do hotcold_verify_staged(spec, cols, stage, files, staging) -%}
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
    its key), by column name: a day file keeps every column it held (a column since dropped
    from the hot table stays, NULL in the new rows) and gains the hot table's new ones (NULL
    in its old rows). lake_days_only: only the days those files hold ("" when none). flagged:
    with _hc_new = 1 for a staged row, 0 for a kept one (verify counts the new rows by it). -#}
{% macro hotcold_merged(spec, stage, cols, files, lake_days_only=false, flagged=false) %}
  {%- set fresh = "select " ~ cols | join(', ') ~ ", year, month, day" ~ (", 1 as _hc_new" if flagged else "") ~ " from " ~ stage -%}
  {%- if not files -%}{{ return("" if lake_days_only else "(" ~ fresh ~ ")") }}{%- endif -%}
  {%- set lits = [] -%}{%- for f in files -%}{%- do lits.append(hotcold_lit(f)) -%}{%- endfor -%}
  {%- if lake_days_only -%}
    {%- set fresh = fresh ~ " s semi join (select p.year, p.month, p.day from (select regexp_extract(f, '/year=([0-9]+)/month=([0-9]+)/day=([0-9]+)/', ['year', 'month', 'day']) as p"
        ~ " from (select unnest([" ~ lits | join(', ') ~ "]) as f))) d using (year, month, day)" -%}
  {%- endif -%}
  {%- set kept = "select l.*" ~ (", 0 as _hc_new" if flagged else "") ~ " from read_parquet([" ~ lits | join(', ')
      ~ "], hive_partitioning = true, union_by_name = true, hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR}) l"
      ~ " where not exists (select 1 from " ~ stage ~ " s where " ~ hotcold_key_match(spec.key, 's', 'l') ~ ")" -%}
  {{ return("(" ~ fresh ~ " union all by name " ~ kept ~ ")") }}
{% endmacro %}

{#- The columns (name, type) of a relation, in order. -#}
{% macro hotcold_described(relation) %}
  {{ return(hotcold_rows("select column_name as name, column_type as type from (describe select * from " ~ relation ~ ")")) }}
{% endmacro %}

{#- Archived values are never rewritten: a column the lake already holds may keep its type or
    widen (integers, float to double, decimals that keep every digit, timestamp to timestamptz,
    a decimal or integer to numeric without a precision, kept as its exact text), nothing else. Checked against the lake files this run merges with and the table's newest
    day file, before anything is written. -#}
{% macro hotcold_check_lake_schema(spec, stage, files) %}
  {%- set newest = hotcold_rows("select path from _hotcold.lake_days where table_name = " ~ hotcold_lit(spec.name) ~ " order by day desc limit 1") -%}
  {%- set paths = files + (newest | map(attribute='path') | list) -%}
  {%- if not paths -%}{{ return(none) }}{%- endif -%}
  {%- set lits = [] -%}{%- for f in paths | unique -%}{%- do lits.append(hotcold_lit(f)) -%}{%- endfor -%}
  {%- set lake = {} -%}
  {%- for c in hotcold_described("read_parquet([" ~ lits | join(', ') ~ "], hive_partitioning = false, union_by_name = true)") -%}{%- do lake.update({c.name: c.type}) -%}{%- endfor -%}
  {#- numeric(p,s) -> numeric (or a larger precision than DECIMAL holds) keeps every value, as
      its exact text: the lake's DECIMAL and integer values read as the same text. -#}
  {%- set numeric = [] -%}
  {%- if hotcold_settings().hot_kind == 'postgres' -%}
    {%- for c in hot_table_columns(spec) if c.base.startswith('numeric') -%}{%- do numeric.append(c.name) -%}{%- endfor -%}
  {%- endif -%}
  {%- for c in hotcold_described(stage) if c.name in lake and c.name not in ('year', 'month', 'day') -%}
    {%- set to_text = c.name in numeric and c.type == 'VARCHAR' and (lake[c.name].startswith('DECIMAL') or lake[c.name] in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT')) -%}
    {%- if not (to_text or hotcold_widens(lake[c.name], c.type)) -%}
      {{ exceptions.raise_compiler_error("table " ~ spec.name ~ ": column '" ~ c.name ~ "' is " ~ c.type ~ " in the hot store but " ~ lake[c.name]
          ~ " in the lake, and the lake's archived values cannot take that type without being rewritten (a narrowing or incompatible change);"
          ~ " give the changed column a new name in the hot store (the lake keeps the old one), or change its type back; nothing was published or deleted") }}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}

{#- True when lake values of DuckDB type `old` stay exact as type `new`. -#}
{% macro hotcold_widens(old, new) %}
  {%- if old == new -%}{{ return(true) }}{%- endif -%}
  {%- set ints = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT'] -%}
  {%- if old in ints and new in ints -%}{{ return(ints.index(old) <= ints.index(new)) }}{%- endif -%}
  {%- set dec = modules.re.compile('^DECIMAL\\((\\d+),\\s*(\\d+)\\)$') -%}
  {%- set o = dec.match(old) -%}{%- set n = dec.match(new) -%}
  {%- if n and o -%}
    {{ return(n.group(2) | int >= o.group(2) | int and (n.group(1) | int - n.group(2) | int) >= (o.group(1) | int - o.group(2) | int)) }}
  {%- endif -%}
  {%- if n and old in ints -%}
    {{ return((n.group(1) | int - n.group(2) | int) >= {'TINYINT': 3, 'SMALLINT': 5, 'INTEGER': 10, 'BIGINT': 19, 'HUGEINT': 39}[old]) }}
  {%- endif -%}
  {{ return((old, new) in [('FLOAT', 'DOUBLE'), ('TIMESTAMP', 'TIMESTAMP WITH TIME ZONE')]) }}
{% endmacro %}

{% macro hotcold_checksum(cols) %}
  {{- return("sum(hash(row(" ~ cols | join(', ') ~ "))::hugeint)") -}}
{% endmacro %}

{#- One row per day: [{c: column, n: non-NULL values, s: fingerprint sum (unscaled HUGEINT)},
    ...] for `columns` ({name, type}) of `relation`, plus {c: '*', n: rows}. With `files` (a
    glob of day files that `relation` reads), the columns PostgreSQL's hashes fingerprint are
    read by hotcold.pipeline.fingerprint in one call instead of a DuckDB function per 2,048 rows. -#}
{% macro hotcold_lake_fingerprints(relation, columns, where='', files=none) %}
  {%- set items = ["{'c': '*', 'n': count(*), 's': 0::HUGEINT, 'raw': null::VARCHAR}"] -%}
  {%- set hashed = {} -%}
  {%- for c in columns -%}
    {%- if files and c.type in ('DOUBLE', 'FLOAT', 'VARCHAR', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') -%}
      {%- do hashed.update({c.name: c.type}) -%}
    {%- else -%}
      {%- set q = hotcold_q(c.name) -%}
      {%- do items.append("{'c': " ~ hotcold_lit(c.name) ~ ", 'n': count(" ~ q ~ "), 's': " ~ hotcold_unscaled("coalesce(" ~ lake_fingerprint(q, c.type) ~ ", 0)") ~ ", 'raw': null::VARCHAR}") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set sql = "select year, month, day, unnest([" ~ items | join(', ') ~ "]) as f from " ~ relation ~ (" where " ~ where if where else "") ~ " group by all" -%}
  {%- if hashed -%}
    {%- set sql = sql ~ " union all select j.year, j.month, j.day, {'c': j.c, 'n': j.n, 's': j.s::HUGEINT, 'raw': null::VARCHAR} from (select unnest(from_json(hc_day_file_fingerprints("
        ~ hotcold_lit(files) ~ ", " ~ hotcold_lit(tojson(hashed)) ~ "), '[{\"year\": \"VARCHAR\", \"month\": \"VARCHAR\", \"day\": \"VARCHAR\", \"c\": \"VARCHAR\", \"n\": \"BIGINT\", \"s\": \"VARCHAR\"}]'), recursive := true)) j" -%}
  {%- endif -%}
  {{ return(sql) }}
{% endmacro %}

{#- A DECIMAL(38, k) as the HUGEINT of its digits (its value times 10^k): DuckDB prints exactly
    k decimals, so the digits are its text without the point. -#}
{% macro hotcold_unscaled(decimal_sql) %}
  {{ return("replace((" ~ decimal_sql ~ ")::VARCHAR, '.', '')::HUGEINT") }}
{% endmacro %}

{#- The same rows as hotcold_lake_fingerprints, from the hot store's own fingerprint rows
    ('fp|<day>|<rows>|<count>|<sum>|...' per day, the columns in the stage's order `cols`),
    each sum read at the scale of its column's type in the staged files (`types`). -#}
{% macro hotcold_source_fingerprints(spec, cols, types) %}
  {%- set items = ["{'c': '*', 'n': p[3]::BIGINT, 's': 0::HUGEINT, 'raw': null::VARCHAR}"] -%}
  {%- for q in cols -%}
    {%- set name = q[1:-1] -%}
    {%- set k = lake_fingerprint_scale(types.get(name, 'HUGEINT')) -%}
    {%- set raw = "nullif(p[" ~ (5 + 2 * loop.index0) ~ "], '')" -%}
    {#- No value: a sum of 0, as on the lake's side; a sum DuckDB cannot read (NaN): NULL. -#}
    {%- do items.append("{'c': " ~ hotcold_lit(name) ~ ", 'n': p[" ~ (4 + 2 * loop.index0) ~ "]::BIGINT, 's': "
        ~ hotcold_unscaled("coalesce(try_cast(" ~ raw ~ " AS DECIMAL(38, " ~ k ~ ")), case when " ~ raw ~ " is null then 0 end)") ~ ", 'raw': " ~ raw ~ "}") -%}
  {%- endfor -%}
  {{ return("select strftime(d, '%Y') as year, strftime(d, '%m') as month, strftime(d, '%d') as day, unnest([" ~ items | join(', ') ~ "]) as f"
      ~ " from (select string_split(meta, '|') as p, p[2]::date as d from _hotcold.source_fingerprints where run_id = " ~ hotcold_lit(invocation_id)
      ~ " and table_name = " ~ hotcold_lit(spec.name) ~ ")") }}
{% endmacro %}

{#- Verify, per day and column, before anything is published: the staged files hold what the
    hot store sent (its own fingerprint of the new rows, computed in the stage's statement:
    hot_archival_select) plus the lake rows the merge kept, and every staged file reads back.
    A backfill's rows have no source but the files it loaded: their fingerprint is taken from
    the stage. `files`: the lake files the staged days were merged with. -#}
{% macro hotcold_verify_staged(spec, cols, stage, files, staging) %}
  {%- set staged = "read_parquet(" ~ hotcold_lit(staging ~ '/*/*/*/*.parquet') ~ ", hive_partitioning = true, union_by_name = true, filename = '_hc_file',"
      ~ " hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR})" -%}
  {%- set columns = hotcold_described(staged) | rejectattr('name', 'in', ['year', 'month', 'day', '_hc_file']) | list -%}
  {%- set types = {} -%}{%- for c in columns -%}{%- do types.update({c.name: c.type}) -%}{%- endfor -%}
  {%- set sourced = hotcold_scalar("select count(*) from _hotcold.source_fingerprints where run_id = " ~ hotcold_lit(invocation_id) ~ " and table_name = " ~ hotcold_lit(spec.name)) > 0 -%}
  {%- set source = hotcold_source_fingerprints(spec, cols, types) if sourced else hotcold_lake_fingerprints(stage, hotcold_described(stage) | rejectattr('name', 'in', ['year', 'month', 'day', '_hc_version']) | list) -%}
  {%- set sql = "create or replace temp table hc_fp as select 'staged' as side, year, month, day, f.* from (" ~ hotcold_lake_fingerprints(staged, columns, files=staging ~ '/*/*/*/*.parquet') ~ ")"
      ~ " union all select 'source', year, month, day, f.* from (" ~ source ~ ")" -%}
  {%- if files -%}
    {#- The lake rows the merge kept, with the staged files' column types. -#}
    {%- set sql = sql ~ " union all select 'kept', year, month, day, f.* from (" ~ hotcold_lake_fingerprints(hotcold_merged(spec, stage, cols, files, flagged=true), columns, '_hc_new = 0') ~ ")" -%}
  {%- endif -%}
  {%- do run_query(sql) -%}
  {%- set bad = hotcold_rows("with e as (select year, month, day, c, sum(n) as n, sum(s) as s, max(raw) as raw, count(*) filter (where side = 'source') as sourced from hc_fp where side <> 'staged' group by all),"
      ~ " g as (select * from hc_fp where side = 'staged')"
      ~ " select coalesce(e.year, g.year) as year, coalesce(e.month, g.month) as month, coalesce(e.day, g.day) as day, coalesce(e.c, g.c) as c,"
      ~ " e.n as expected_n, g.n as staged_n, e.s as expected_s, g.s as staged_s, e.raw from e full join g using (year, month, day, c)"
      ~ " where e.n is distinct from g.n or e.s is distinct from g.s order by (coalesce(e.c, g.c) <> '*'), 1, 2, 3, 4 limit 5") -%}
  {%- if bad -%}
    {%- set b = bad[0] -%}
    {%- set where = spec.name ~ " day " ~ b.year ~ "-" ~ b.month ~ "-" ~ b.day -%}
    {%- set after = "; nothing was published or deleted, staged files are in " ~ staging -%}
    {%- if b.c == '*' -%}
      {{ exceptions.raise_compiler_error("verify failed for " ~ where ~ ": the hot store sent " ~ b.expected_n ~ " rows (with the lake's kept rows), the staged files hold " ~ b.staged_n ~ after) }}
    {%- elif b.raw in ('NaN', 'Infinity', '-Infinity') -%}
      {{ exceptions.raise_compiler_error("verify failed for " ~ where ~ ": column '" ~ b.c ~ "' holds NaN or Infinity, which its lake type " ~ types.get(b.c) ~ " cannot hold (it arrived changed);"
          ~ " store it as exact text by dropping the column's precision (ALTER TABLE " ~ spec.name ~ " ALTER COLUMN " ~ b.c ~ " TYPE numeric), or fix those values" ~ after) }}
    {%- else -%}
      {{ exceptions.raise_compiler_error("verify failed for " ~ where ~ ": column '" ~ b.c ~ "' differs from the hot store's own values (" ~ b.expected_n ~ " values, fingerprint "
          ~ b.expected_s ~ ") in the staged files (" ~ b.staged_n ~ " values, fingerprint " ~ b.staged_s ~ "): a layer between the hot store and the lake changed it" ~ after) }}
    {%- endif -%}
  {%- endif -%}
  {%- set sizes = "select regexp_extract(file_name, 'year=([0-9]+)/month=([0-9]+)/day=([0-9]+)', ['year', 'month', 'day']) as p, sum(total_compressed_size) as bytes"
      ~ " from parquet_metadata(" ~ hotcold_lit(staging ~ '/*/*/*/*.parquet') ~ ") group by all" -%}
  {%- do run_query("insert into _hotcold.export_days select " ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name)
      ~ ", v.year, v.month, v.day, v.rows, coalesce(n.n, 0), v.checksum, v.files, z.bytes, null, null"
      ~ " from (" ~ hotcold_staged_checksums(staging) ~ ") v left join (select year, month, day, n from hc_fp where side = 'source' and c = '*') n using (year, month, day)"
      ~ " left join (" ~ sizes ~ ") z on z.p.year = v.year and z.p.month = v.month and z.p.day = v.day") -%}
{% endmacro %}

{#- Per staged day: rows, files and the checksum the lake's record keeps (hotcold_checksum,
    which `hotcold verify --deep` and publish re-compute from each file's own columns). Days
    whose files hold other columns (a merge kept a column the hot table no longer has) are
    summed over their own columns, one group of files per set of columns. -#}
{% macro hotcold_staged_checksums(staging) %}
  {%- set glob = hotcold_lit(staging ~ '/*/*/*/*.parquet') -%}
  {%- set parts = [] -%}
  {%- for g in hotcold_rows("select string_agg(file_name, chr(10)) as files from (select file_name, list_sort(list(name)) as sig from parquet_schema(" ~ glob
      ~ ") where num_children is null group by file_name) group by sig") -%}
    {%- set files = g.files.split('\n') -%}
    {%- set names = [] -%}
    {%- for c in hotcold_rows("select name from parquet_schema(" ~ hotcold_lit(files[0]) ~ ") where num_children is null") -%}{%- do names.append(hotcold_q(c.name)) -%}{%- endfor -%}
    {%- set lits = [] -%}{%- for f in files -%}{%- do lits.append(hotcold_lit(f)) -%}{%- endfor -%}
    {%- do parts.append("select year, month, day, count(*) as rows, " ~ hotcold_checksum(names) ~ " as checksum, count(distinct _hc_file) as files from read_parquet(["
        ~ lits | join(', ') ~ "], hive_partitioning = true, filename = '_hc_file', hive_types = {'year': VARCHAR, 'month': VARCHAR, 'day': VARCHAR}) group by all") -%}
  {%- endfor -%}
  {{ return("select year, month, day, sum(rows)::bigint as rows, sum(checksum)::hugeint as checksum, sum(files)::bigint as files from (" ~ parts | join(' union all ') ~ ") group by all") }}
{% endmacro %}
