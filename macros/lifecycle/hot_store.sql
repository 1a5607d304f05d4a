{#- Everything that talks to the hot store, one implementation per kind of store.
    postgres: reached through DuckDB's postgres extension as the attached catalog `hot`;
    statements PostgreSQL must plan itself go through postgres_query / postgres_execute.
    duckdb:   the embedded hot store file, attached as `hot`. -#}

{% macro hot_relation_pg(spec) %}
  {{ return(hotcold_q(hotcold_settings().hot_schema) ~ '.' ~ hotcold_q(spec.name)) }}
{% endmacro %}

{#- Rows that age out, each with its row version: what Delete later checks so that a row
    changed after the export is never deleted. -#}
{#- `ordered`: in time order, so each day's rows arrive together (the streamed stage). Meta
    rows, all NULL but `_hc_meta`, come first: the snapshot this very statement reads with
    (which tells the delete exactly which row versions were staged; PostgreSQL only), and one
    'fp|<day>|...' row per day: the day's fingerprint, computed by the hot store from its own
    values (lake_types.sql), which verify compares with the lake. -#}
{% macro hot_archival_select(spec, cutoff, ordered=false) %}
  {{ return(hot_dispatch('archival_select')(spec, cutoff, ordered)) }}
{% endmacro %}

{#- Refuse a key the lake could not tell apart as PostgreSQL does (hotcold_check_key_types). -#}
{% macro hot_check_key_types(spec) %}
  {{ return(hot_dispatch('check_key_types')(spec)) }}
{% endmacro %}

{% macro hotcold_check_key_types__postgres(spec) %}
  {{ return(hotcold_check_key_types(spec, hot_lake_plan(spec))) }}
{% endmacro %}

{#- The embedded store's values reach the lake as themselves, compared by DuckDB alike. -#}
{% macro hotcold_check_key_types__duckdb(spec) %}{{ return(none) }}{% endmacro %}

{#- True when the stage streams the table's aged rows into day files (hotcold_stage_write,
    hotcold.pipeline.stage_days), false when it copies them to one file that export cuts into days. -#}
{% macro hot_streams_days(spec) %}
  {{ return(hot_dispatch('streams_days')(spec)) }}
{% endmacro %}

{#- pyarrow writes the day files: every column travels through Arrow as the lake holds it
    (hot_lake_plan sends what would not as exact text); the stream is cut into UTC days on the
    time column, so it must be a timestamp or a date. -#}
{% macro hotcold_streams_days__postgres(spec) %}
  {%- set time = hot_lake_plan(spec) | selectattr('name', 'equalto', spec.time_column) | first -%}
  {{ return(time.kind in ('timestamp', 'date')) }}
{% endmacro %}

{#- The embedded store keeps a row version column the lake must not get. -#}
{% macro hotcold_streams_days__duckdb(spec) %}{{ return(false) }}{% endmacro %}

{#- The columns a lake file of this table holds, with their DuckDB types: what the archival
    select yields (exact text for unbounded NUMERIC and json), without the row version. -#}
{% macro hot_lake_columns(spec) %}
  {%- set out = [] -%}
  {%- for c in hotcold_rows("describe (" ~ hot_archival_select(spec, hot_window_cutoff()) ~ ")") -%}
    {%- if c.column_name not in ('_hc_version', '_hc_meta') -%}{%- do out.append(c) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- The hot table's columns (name, type), after checking that the table and every column the
    config names exist: one clear error instead of a failure deep inside a step. -#}
{% macro hot_table_columns(spec) %}
  {%- set s = hotcold_settings() -%}
  {%- set cols = hot_dispatch('table_columns')(spec) -%}
  {%- if not cols -%}
    {{ exceptions.raise_compiler_error("table " ~ s.hot_schema ~ "." ~ spec.name ~ " not found in the hot store; create it or fix tables." ~ spec.name ~ " in unified_config.yaml") }}
  {%- endif -%}
  {%- set names = cols | map(attribute='name') | list -%}
  {#- Every reader of a Hive-partitioned lake (DuckDB, Spark, pyarrow) takes year, month and
      day from the folder names, over a column of the same name in the files. -#}
  {%- for c in names if c | lower in ('year', 'month', 'day') -%}
    {%- if loop.first -%}
      {{ exceptions.raise_compiler_error("table " ~ s.hot_schema ~ "." ~ spec.name ~ " has a column named '" ~ c ~ "', which the lake's year=/month=/day= folders would shadow for every reader; rename it in the hot store (e.g. ALTER TABLE " ~ spec.name ~ " RENAME COLUMN " ~ c ~ " TO " ~ spec.name ~ "_" ~ c | lower ~ ") or leave " ~ spec.name ~ " out of tables") }}
    {%- endif -%}
  {%- endfor -%}
  {#- DuckDB, and so every lake reader built on it, takes names that differ only in case for one. -#}
  {%- set seen = {} -%}
  {%- for c in names -%}
    {%- if c | lower in seen -%}
      {{ exceptions.raise_compiler_error("table " ~ s.hot_schema ~ "." ~ spec.name ~ " has columns '" ~ seen[c | lower] ~ "' and '" ~ c ~ "', which differ only in case: DuckDB and the lake's readers take them for one column; rename one of them in the hot store, or leave " ~ spec.name ~ " out of tables") }}
    {%- endif -%}
    {%- do seen.update({c | lower: c}) -%}
  {%- endfor -%}
  {%- for c in spec.key + [spec.time_column] + ([spec.interval_column] if spec.interval_column else []) -%}
    {%- if c not in names -%}
      {{ exceptions.raise_compiler_error("column '" ~ c ~ "' of tables." ~ spec.name ~ " is not in " ~ s.hot_schema ~ "." ~ spec.name ~ " (columns: " ~ names | join(', ') ~ "); fix tables." ~ spec.name ~ " in unified_config.yaml") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(cols) }}
{% endmacro %}

{% macro hotcold_table_columns__postgres(spec) %}
  {#- Also: `base`, the type under any domains (what hot_lake_plan decides on), `base_kind`
      (pg_type.typtype of it: 'e' for an enum), `deterministic` (false for a column with a
      nondeterministic collation, whose equal values may differ in their bytes); and for writing
      rows back (hot_write_staged): `generated` ('s' for a stored generated column, PostgreSQL
      computes it; else ''), `identity` ('a' ALWAYS, 'd' BY DEFAULT, else '') and `sequence`
      (the identity's or a serial column's sequence, else none). -#}
  {{ return(hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "with recursive base as (
         select a.attrelid, a.attnum, a.atttypid as typ, a.atttypmod as mod, 0 as depth
           from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = " ~ hotcold_lit(hotcold_settings().hot_schema) ~ " and c.relname = " ~ hotcold_lit(spec.name) ~ " and a.attnum > 0
         union all
         select b.attrelid, b.attnum, t.typbasetype, t.typtypmod, b.depth + 1 from base b join pg_type t on t.oid = b.typ where t.typtype = 'd')
       select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type,
              (select format_type(b.typ, b.mod) from base b where b.attrelid = a.attrelid and b.attnum = a.attnum order by b.depth desc limit 1) as base,
              (select t.typtype from base b join pg_type t on t.oid = b.typ where b.attrelid = a.attrelid and b.attnum = a.attnum order by b.depth desc limit 1)::text as base_kind,
              coalesce((select co.collisdeterministic from pg_collation co where co.oid = a.attcollation), true) as deterministic,
              a.attgenerated::text as generated, a.attidentity::text as identity,
              pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) as sequence
         from pg_attribute a join pg_class c on c.oid = a.attrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = " ~ hotcold_lit(hotcold_settings().hot_schema) ~ " and c.relname = " ~ hotcold_lit(spec.name) ~ "
          and a.attnum > 0 and not a.attisdropped order by a.attnum") ~ ")")) }}
{% endmacro %}

{% macro hotcold_table_columns__duckdb(spec) %}
  {#- The same fields as from PostgreSQL: `generated` is 'v' for a (virtual) generated column,
      which DuckDB computes and refuses to be written; DuckDB has no identity columns, and no
      setval for a sequence. information_schema.columns.is_generated says which, in DuckDB
      versions that fill it in (ALWAYS/NEVER); before them (1.5) it is NULL, and a generated
      column is one whose expression duckdb_columns() and information_schema show as its
      column_default while DESCRIBE shows no default. -#}
  {%- set s = hotcold_settings() -%}
  {%- set cols = hotcold_rows("select column_name as name, data_type as type, column_default, is_generated::varchar as is_generated from information_schema.columns where table_catalog = 'hot' and table_schema = "
      ~ hotcold_lit(s.hot_schema) ~ " and table_name = " ~ hotcold_lit(spec.name) ~ " order by ordinal_position") -%}
  {%- set described = {} -%}
  {%- if cols | selectattr('is_generated', 'none') | rejectattr('column_default', 'none') | list -%}
    {%- for d in hotcold_rows("select column_name, \"default\" as shown_default from (describe hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) ~ ")") -%}
      {%- do described.update({d.column_name: d.shown_default}) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set out = [] -%}
  {%- for c in cols -%}
    {%- set generated = c.is_generated == 'ALWAYS' or (c.is_generated is none and c.column_default is not none and described.get(c.name) is none) -%}
    {%- do out.append({'name': c.name, 'type': c.type, 'generated': 'v' if generated else '', 'identity': '', 'sequence': none}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro hotcold_archival_select__postgres(spec, cutoff, ordered=false) %}
  {%- set plan = hot_lake_plan(spec) -%}
  {#- No row version: the snapshot this very statement reads with tells the delete which row
      versions it saw (hotcold_pg_seen). One statement, one snapshot: the rows, the snapshot
      and each day's fingerprint (hotcold_pg_fingerprint_row) come from the same one, so
      verify compares the lake with PostgreSQL's own values as they were sent. Meta rows are
      all NULL but _hc_meta; a UNION takes its column names from its first branch, and keeps
      a type's modifier (numeric(18,6)) only where every branch has it. -#}
  {%- set aged = " FROM " ~ hot_relation_pg(spec) ~ " WHERE " ~ ages_out(spec, cutoff, hotcold_settings().hot_intervals) -%}
  {%- set nulls = [] -%}{%- set sent = [] -%}
  {%- for c in plan -%}
    {%- do nulls.append("NULL::" ~ c.null_type ~ " AS " ~ hotcold_q(c.name)) -%}
    {%- do sent.append(c.sent) -%}
  {%- endfor -%}
  {%- set day = hotcold_pg_day(plan, spec.time_column) -%}
  {%- set pg_sql = "(SELECT " ~ nulls | join(', ') ~ ", pg_current_snapshot()::text AS _hc_meta)"
      ~ " UNION ALL (SELECT " ~ nulls | join(', ') ~ ", " ~ hotcold_pg_fingerprint_row(plan, day) ~ aged ~ " GROUP BY " ~ day ~ ")"
      ~ " UNION ALL (SELECT " ~ sent | join(', ') ~ ", NULL::text" ~ aged ~ (" ORDER BY " ~ hotcold_q(spec.time_column) if ordered else "") ~ ")" -%}
  {{ return("select * from postgres_query('hot', " ~ hotcold_lit(pg_sql) ~ ")") }}
{% endmacro %}

{#- The embedded store's rows carry their row version (a hash of the row) for the delete; its
    fingerprint rows are computed by DuckDB from the store's own values. -#}
{% macro hotcold_archival_select__duckdb(spec, cutoff, ordered=false) %}
  {%- set s = hotcold_settings() -%}
  {%- set cols = hot_table_columns(spec) -%}
  {%- set rel = "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {%- set where = " where " ~ ages_out(spec, cutoff, s.hot_intervals) -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set parts = ["'fp|' || strftime(" ~ ts ~ ", '%Y-%m-%d') || '|' || count(*)"] -%}
  {%- for c in cols -%}
    {%- do parts.append("'|' || count(" ~ hotcold_q(c.name) ~ ") || '|' || coalesce((" ~ lake_fingerprint(hotcold_q(c.name), c.type) ~ ")::VARCHAR, '')") -%}
  {%- endfor -%}
  {{ return("select t.*, hash(t) as _hc_version, null::varchar as _hc_meta from " ~ rel ~ " t" ~ where
            ~ " union all by name select " ~ parts | join(' || ') ~ " as _hc_meta from " ~ rel ~ where ~ " group by strftime(" ~ ts ~ ", '%Y-%m-%d')") }}
{% endmacro %}

{#- True when the hot store itself keeps the key unique and non-NULL. -#}
{% macro hot_key_enforced(spec) %}
  {{ return(hot_dispatch('key_enforced')(spec)) }}
{% endmacro %}

{% macro hotcold_key_enforced__postgres(spec) %}
  {%- set key = spec.key | sort | join(',') -%}
  {%- set n = hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(
      "select count(*) from pg_index i
        where i.indrelid = " ~ hotcold_lit(hot_relation_pg(spec)) ~ "::regclass and i.indisunique and i.indpred is null and i.indexprs is null
          and (select string_agg(a.attname::text, ',' order by a.attname) from pg_attribute a where a.attrelid = i.indrelid and a.attnum = any(i.indkey)) = " ~ hotcold_lit(key) ~ "
          and not exists (select from pg_attribute a where a.attrelid = i.indrelid and a.attnum = any(i.indkey) and not a.attnotnull)") ~ ")") -%}
  {{ return(n > 0) }}
{% endmacro %}

{% macro hotcold_key_enforced__duckdb(spec) %}
  {{ return(false) }}
{% endmacro %}

{% macro hot_ensure_aging_indexes(spec) %}
  {{ return(hot_dispatch('ensure_aging_indexes')(spec)) }}
{% endmacro %}

{#- Daily cost must follow the rows that age out, not the table. An index on the time
    column, unless one leads with it; and, for a table with an interval column, a partial
    index on the rows of non-hot intervals (cold_interval): without it PostgreSQL reads the
    whole table to find them, every night, however few there are. It is named for its
    predicate, so a change of hot_intervals replaces it. Returns a note of what changed. -#}
{% macro hotcold_ensure_aging_indexes__postgres(spec) %}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set predicate = cold_interval(spec, hotcold_settings().hot_intervals) if spec.interval_column else none -%}
  {#- A partitioned table takes no CREATE INDEX CONCURRENTLY (and a plain CREATE INDEX on it
      would block writers to every partition): its leaf partitions get the indexes, each
      concurrently; a partition made later gets them on the next run, while it is still empty
      (premade) by a plain CREATE INDEX under lock_timeout, which unlike CONCURRENTLY does not
      wait for every older transaction in the database to end. One query lists every leaf's
      indexes: the cost of this check must not grow with the partitions kept. -#}
  {%- set leaves = "(select relid from pg_partition_tree(" ~ hotcold_lit(rel) ~ "::regclass) where isleaf union select " ~ hotcold_lit(rel) ~ "::regclass)" -%}
  {%- set targets = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "select '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' as rel,
              c.relname::text as name, n.nspname::text as schema, pg_relation_size(c.oid) = 0 as empty
         from " ~ leaves ~ " p join pg_class c on c.oid = p.relid join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' order by 1") ~ ")") -%}
  {%- set indexes = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "select '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(t.relname, '\"', '\"\"') || '\"' as rel,
              c.relname::text as name, a.attname::text as leading,
              i.indpred is not null as partial, i.indisvalid as valid
         from pg_index i join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
         join pg_namespace n on n.oid = t.relnamespace
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid in " ~ leaves) ~ ")") -%}
  {%- set statements = [] -%}
  {%- set notes = [] -%}
  {%- for target in targets -%}
    {%- do hotcold_aging_indexes_of(spec, target, indexes | selectattr('rel', 'equalto', target.rel) | list, predicate, statements, notes) -%}
  {%- endfor -%}
  {%- if statements and not hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(
      "select pg_has_role(relowner, 'USAGE') from pg_class where oid = " ~ hotcold_lit(rel) ~ "::regclass") ~ ")") -%}
    {#- Only the table's owner may change its indexes: the rotation still runs, at full-table cost. -#}
    {%- set notes = ["only the owner of " ~ rel ~ " can change its indexes, and until it runs " ~ statements | join('; ')
        ~ " a rotation may read the whole table to find the aging rows"] -%}
    {%- set statements = [] -%}
  {%- endif -%}
  {%- for statement in statements -%}
    {%- do run_query("CALL postgres_execute('hot', " ~ hotcold_lit(statement) ~ ", use_transaction=false)") -%}
  {%- endfor -%}
  {%- for note in notes -%}{%- do log("hotcold: " ~ note, info=true) -%}{%- endfor -%}
  {{ return(notes | join('; ')) }}
{% endmacro %}

{#- The statements (and notes) that give one plain table, or one leaf partition (`target`:
    rel, its quoted name; name; schema; empty), the indexes the rotation reads through: on the
    time column, and the partial one on rows of non-hot intervals (`predicate`, none without
    an interval column). `indexes`: the target's (name, leading column, partial, valid). An
    index left invalid (a CONCURRENTLY build cut short) counts as none: it is dropped and
    built again. -#}
{% macro hotcold_aging_indexes_of(spec, target, indexes, predicate, statements, notes) %}
  {%- set rel = target.rel -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- set aging = 'hotcold_aging_' ~ local_md5(rel ~ ' ' ~ predicate)[:16] if predicate else none -%}
  {%- set valid = indexes | selectattr('valid') | list -%}
  {%- set names = valid | map(attribute='name') | list -%}
  {%- for broken in indexes | rejectattr('valid') if broken.name.startswith('hotcold_') or broken.name.endswith('_hotcold_idx') -%}
    {%- do statements.append("DROP INDEX CONCURRENTLY IF EXISTS " ~ hotcold_q(target.schema) ~ "." ~ hotcold_q(broken.name)) -%}
    {%- do notes.append("dropped index " ~ broken.name ~ ", left invalid by a build cut short, to build it again") -%}
  {%- endfor -%}
  {#- An empty partition takes a plain CREATE INDEX at once; one whose lock is not had in
      lock_timeout is left for the next run. -#}
  {%- set wanted = [] -%}
  {%- if not (valid | selectattr('leading', 'equalto', spec.time_column) | rejectattr('partial') | list) -%}
    {%- set idx = hotcold_q(target.name ~ '_' ~ spec.time_column ~ '_hotcold_idx') -%}
    {%- do wanted.append(idx ~ " ON " ~ rel ~ " (" ~ ts ~ ")") -%}
    {%- do notes.append("created index " ~ idx ~ " on " ~ rel ~ " (" ~ spec.time_column ~ ") so archival reads only aged rows") -%}
  {%- endif -%}
  {%- if aging and aging not in names -%}
    {%- do wanted.append(hotcold_q(aging) ~ " ON " ~ rel ~ " (" ~ ts ~ ") WHERE " ~ predicate) -%}
    {%- do notes.append("created index " ~ aging ~ " on " ~ rel ~ " (" ~ spec.time_column ~ ") where " ~ predicate ~ " so rows of other intervals are found without reading the table") -%}
  {%- endif -%}
  {%- for index in wanted -%}
    {%- if target.empty -%}
      {%- do statements.append("DO $hc$ BEGIN PERFORM set_config('lock_timeout', " ~ hotcold_lit(hotcold_settings().lock_timeout_ms ~ 'ms') ~ ", true); "
          ~ "CREATE INDEX IF NOT EXISTS " ~ index ~ "; EXCEPTION WHEN lock_not_available THEN NULL; END $hc$") -%}
    {%- else -%}
      {%- do statements.append("CREATE INDEX CONCURRENTLY IF NOT EXISTS " ~ index) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for stale in names if stale.startswith('hotcold_aging_') and stale != aging -%}
    {%- do statements.append("DROP INDEX CONCURRENTLY IF EXISTS " ~ hotcold_q(target.schema) ~ "." ~ hotcold_q(stale)) -%}
    {%- do notes.append("dropped index " ~ stale ~ ", made for other hot_intervals") -%}
  {%- endfor -%}
{% endmacro %}

{% macro hotcold_ensure_aging_indexes__duckdb(spec) %}
  {#- DuckDB's zone maps already skip row groups outside the range. -#}
  {{ return('') }}
{% endmacro %}

{#- Delete exactly the staged rows, in the versions staged, in one statement; returns the
    number deleted. A row inserted or updated since the export has another version and
    survives, to be archived by the next run. -#}
{% macro hot_delete_staged(spec, stage, run_id, expected) %}
  {{ return(hot_dispatch('delete_staged')(spec, stage, run_id, expected)) }}
{% endmacro %}

{#- Delete the staged rows. The fast way is one DELETE of the aged rows whose version the
    snapshot taken before the stage could see: each such row is a staged row, so when as many
    are deleted as were staged, exactly the staged rows went, and nothing vanished or was
    kept. Otherwise (a row changed, deleted or inserted among the aged rows during the run,
    or rows to recheck from an earlier run) that DELETE rolls back and the exact way runs,
    by key and version against a copy of the staged keys in PostgreSQL. -#}
{% macro hotcold_delete_staged__postgres(spec, stage, run_id, expected) %}
  {%- set keys = hotcold_q_list(spec.key) -%}
  {%- set recheck = '_hotcold.' ~ hotcold_q('recheck__' ~ spec.name) -%}
  {%- do run_query("create table if not exists " ~ recheck ~ " as select " ~ keys ~ ", year, month, day from " ~ stage ~ " where false") -%}
  {%- set snapshot = hotcold_scalar("select snapshot from _hotcold.stage_snapshots where run_id = " ~ hotcold_lit(run_id) ~ " and table_name = " ~ hotcold_lit(spec.name)) -%}
  {%- if snapshot and hotcold_scalar("select count(*) from " ~ recheck) == 0 -%}
    {%- set deleted = hotcold_pg_delete_seen(spec, run_id, expected, snapshot) -%}
    {%- if deleted == expected -%}
      {%- do run_query("create or replace table _hotcold." ~ hotcold_q('vanished__' ~ spec.name) ~ " as select " ~ keys ~ ", year, month, day from " ~ stage ~ " where false") -%}
      {{ return(deleted) }}
    {%- endif -%}
    {%- do log("hotcold: " ~ spec.name ~ ": aged rows changed during the run; deleting by key and version", info=true) -%}
  {%- endif -%}
  {{ return(hotcold_delete_by_key(spec, stage, run_id, expected, snapshot)) }}
{% endmacro %}

{#- A range-partitioned table's partitions wholly before the cutoff leave whole, in the same
    transaction (macros/lifecycle/partitions.sql); its other leaves, row by row. -#}
{% macro hotcold_pg_delete_seen(spec, run_id, expected, snapshot) %}
  {%- set s = hotcold_settings() -%}
  {%- set seen = hotcold_pg_seen(snapshot) -%}
  {%- set aged = ages_out(spec, hotcold_current_run().cutoff, s.hot_intervals) -%}
  {%- set nodes = hotcold_partition_tree(spec, hotcold_current_run().cutoff) -%}
  {%- if not nodes -%}
    {{ return(hotcold_pg_counted(spec, run_id, 'delete',
        "DELETE FROM " ~ hot_relation_pg(spec) ~ " t WHERE " ~ aged ~ " AND " ~ seen.test ~ ";",
        expected, exact=true, seen=seen)) }}
  {%- endif -%}
  {%- set parts = hotcold_partition_statements(spec, run_id, nodes, aged, seen.test, hotcold_current_run().cutoff) -%}
  {{ return(hotcold_pg_counted(spec, run_id, 'delete', parts.statements, expected, exact=true, seen=seen, declare=parts.declare, counted=true)) }}
{% endmacro %}

{#- The snapshot's visibility test on a row's 32-bit xmin (`t.xmin`). PostgreSQL's age(xid)
    widens it against this transaction's own id (assigned first, in the declarations), within
    2^31 either side: so `age > c - xmax` is "committed before the snapshot's xmax", exact for
    every transaction since the snapshot, including ones that start after this one and commit
    before its DELETE. A row written after the snapshot is never taken for a staged one. The
    in-progress list is tested only for rows newer than the snapshot's xmin, and only when it
    has entries: the test runs on every aged row, and age() is the cheapest form of it (the
    text casts it replaced doubled the DELETE's time). A frozen xmin ages as 2^31-1: visible
    to every snapshot, as it is. Returns the PL/pgSQL declarations, a check to run first, and
    the test. -#}
{% macro hotcold_pg_seen(snapshot) %}
  {%- if not snapshot -%}
    {{ exceptions.raise_compiler_error("hotcold_pg_seen: this run noted no PostgreSQL snapshot before its stage; re-run the rotation") }}
  {%- endif -%}
  {%- set snap = hotcold_lit(snapshot) ~ "::pg_snapshot" -%}
  {%- set in_progress = snapshot.split(':')[2] | default('') | trim -%}
  {%- set test = "age(t.xmin) > hc_ahead_xmax" -%}
  {%- if in_progress -%}
    {%- set test = test ~ " AND (age(t.xmin) > hc_ahead_xmin OR (hc_c - age(t.xmin)) <> ALL (hc_xip))" -%}
  {%- endif -%}
  {{ return({
      'declare': "hc_c bigint := pg_current_xact_id()::text::bigint;
                  hc_ahead_xmax bigint := hc_c - pg_snapshot_xmax(" ~ snap ~ ")::text::bigint;
                  hc_ahead_xmin bigint := hc_c - pg_snapshot_xmin(" ~ snap ~ ")::text::bigint;
                  hc_xip bigint[] := ARRAY(SELECT pg_snapshot_xip(" ~ snap ~ ")::text::bigint);",
      'check': "IF age((hc_c % 4294967296)::text::xid) <> 0 THEN RAISE EXCEPTION 'hotcold: age() is not measured from this transaction; nothing was deleted'; END IF; ",
      'test': "(" ~ test ~ ")"}) }}
{% endmacro %}

{#- The exact way. Also finds the staged rows that someone deleted from the hot store while
    the rotation ran: they are in the lake now, and must not stay there. Their keys go to
    _hotcold.vanished__<table> for the next step (hotcold_reconcile) to withdraw. Rows kept
    because they changed after the export (their old version is in the lake) are remembered in
    _hotcold.recheck__<table>: if one is deleted before the next run, that run withdraws it. -#}
{% macro hotcold_delete_by_key(spec, stage, run_id, expected, snapshot) %}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set seen = hotcold_pg_seen(snapshot) -%}
  {%- set keys = hotcold_q_list(spec.key) -%}
  {%- set recheck = '_hotcold.' ~ hotcold_q('recheck__' ~ spec.name) -%}
  {#- The keys to account for: this run's staged rows and the earlier runs' kept ones. -#}
  {%- set watched = '_hotcold.' ~ hotcold_q('watched__' ~ spec.name) -%}
  {%- do run_query("create or replace table " ~ watched ~ " as select " ~ keys ~ ", year, month, day, true as staged from " ~ stage ~ " union all select *, false from " ~ recheck
      ~ " r where not exists (select 1 from " ~ stage ~ " s where " ~ hotcold_key_match(spec.key, 's', 'r') ~ ")") -%}
  {%- set pending = hotcold_pg_pending(spec, "select " ~ keys ~ ", staged, false as vanished, false as kept from " ~ watched) -%}
  {#- Fresh tables have no statistics; without them PostgreSQL plans the joins below as
      nested loops, quadratic in the rows. -#}
  {%- set deleted = hotcold_pg_counted(spec, run_id, 'delete',
      "ANALYZE " ~ pending ~ ";
       CREATE TEMP TABLE hc_gone ON COMMIT DROP AS SELECT " ~ keys ~ " FROM " ~ pending ~ " WHERE false;
       WITH d AS (DELETE FROM " ~ rel ~ " t USING " ~ pending ~ " p WHERE " ~ hotcold_key_match(spec.key, 't', 'p') ~ " AND p.staged AND " ~ seen.test ~ "
                  RETURNING " ~ hotcold_key_list_of(spec.key, 't') ~ ") INSERT INTO hc_gone SELECT * FROM d;", expected,
      after="ANALYZE hc_gone;
             UPDATE " ~ pending ~ " p SET kept = true FROM " ~ rel ~ " t WHERE " ~ hotcold_key_match(spec.key, 't', 'p') ~ ";
             UPDATE " ~ pending ~ " p SET vanished = true WHERE NOT p.kept AND NOT EXISTS (SELECT FROM hc_gone g WHERE " ~ hotcold_key_match(spec.key, 'g', 'p') ~ ");",
      seen=seen) -%}
  {%- set replaced = [] -%}
  {%- for flag, target in [('vanished', '_hotcold.' ~ hotcold_q('vanished__' ~ spec.name)), ('kept', recheck)] -%}
    {%- do replaced.append("create or replace table " ~ target ~ " as select " ~ keys ~ ", year, month, day from " ~ watched ~ " s semi join (select * from hot." ~ pending
        ~ " where " ~ flag ~ ") v on " ~ hotcold_key_match(spec.key, 's', 'v')) -%}
  {%- endfor -%}
  {%- do run_query(replaced | join('; ') ~ "; drop table " ~ watched) -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("DROP TABLE IF EXISTS " ~ pending) ~ ", use_transaction=false)", auto_begin=false) -%}
  {{ return(deleted) }}
{% endmacro %}

{#- A table in the hot store's `hotcold` schema holding the rows of `select_sql` (run by
    DuckDB), for one statement on the PostgreSQL side to join against. -#}
{% macro hotcold_pg_pending(spec, select_sql) %}
  {%- set pending = 'hotcold.' ~ hotcold_q('pending_' ~ spec.name) -%}
  {%- do hotcold_pg_results_table("DROP TABLE IF EXISTS " ~ pending) -%}
  {#- DuckDB caches the attached catalog; make it see the schema just created. -#}
  {%- do run_query("CALL pg_clear_cache()") -%}
  {%- do run_query("CREATE TABLE hot.hotcold." ~ hotcold_q('pending_' ~ spec.name) ~ " AS " ~ select_sql) -%}
  {%- do adapter.commit() -%}
  {{ return(pending) }}
{% endmacro %}

{% macro hotcold_pg_results_table(then='') %}
  {%- do run_query("CALL postgres_execute('hot', " ~ hotcold_lit(
      "CREATE SCHEMA IF NOT EXISTS hotcold;
       CREATE TABLE IF NOT EXISTS hotcold.step_results (run_id text, table_name text, step text, rows bigint, expected bigint, at timestamptz DEFAULT now());
       ALTER TABLE hotcold.step_results ADD COLUMN IF NOT EXISTS seconds double precision;
       CREATE TABLE IF NOT EXISTS hotcold.partition_log (run_id text, table_name text, partition text, action text, rows bigint, note text, at timestamptz DEFAULT now());
       " ~ then) ~ ", use_transaction=false)") -%}
{% endmacro %}

{#- Run `statements` in one DO block, so they commit or roll back together; the row count of
    the last one (or, with counted=true, the `n` the statements add up themselves) is checked
    against `expected` (never more), recorded, and returned. With exact=true a count other
    than `expected` rolls the statements back and returns -1. With `seen` (hotcold_pg_seen),
    its declarations and its check come before the statements; `declare` adds declarations. -#}
{% macro hotcold_pg_counted(spec, run_id, step, statements, expected, after='', exact=false, seen=none, declare='', counted=false) %}
  {%- do hotcold_pg_results_table() -%}
  {%- set declare = (seen.declare if seen else '') ~ declare -%}
  {%- set statements = (seen.check if seen else '') ~ statements -%}
  {#- The fail point delete.in_transaction aborts the transaction after the statements ran. -#}
  {%- set fail = " RAISE EXCEPTION 'hotcold: fail point " ~ step ~ ".in_transaction was armed (HOTCOLD_FAIL_AT)';"
      if env_var('HOTCOLD_FAIL_AT', '').split(':')[0] == step ~ '.in_transaction' else "" -%}
  {#- `seconds`: the transaction's own time as PostgreSQL measures it (the hot side's cost, for
      bench/run.py), from its start to this record. -#}
  {%- set record = "INSERT INTO hotcold.step_results (run_id, table_name, step, seconds, rows, expected) VALUES (" ~ hotcold_lit(run_id) ~ ", "
      ~ hotcold_lit(spec.name) ~ ", " ~ hotcold_lit(step) ~ ", extract(epoch FROM clock_timestamp() - now()), " -%}
  {#- A delete waits for the queries reading both tiers (python/hotcold/lock.py, TiersReadLock):
      none of them can have listed the lake's files before this run published and read the hot
      store after these rows left it. -#}
  {%- if step == 'delete' -%}{%- set statements = "PERFORM pg_advisory_xact_lock(hashtext('hotcold.tiers')); " ~ statements -%}{%- endif -%}
  {%- set body = "DO $hc$ DECLARE n bigint; " ~ declare ~ " BEGIN " ~ ("BEGIN " if exact else "") ~ statements ~ fail ~ "
       " ~ ("" if counted else "GET DIAGNOSTICS n = ROW_COUNT;") ~ "
       IF n > " ~ expected ~ " THEN RAISE EXCEPTION 'hotcold: " ~ step ~ " matched % rows, more than the % verified', n, " ~ expected ~ "; END IF;
       " ~ ("IF n <> " ~ expected ~ " THEN RAISE EXCEPTION USING ERRCODE = 'HC001'; END IF;" if exact else "") ~ "
       " ~ record ~ "n, " ~ expected ~ ");
       " ~ after ~ "
       " ~ ("EXCEPTION WHEN SQLSTATE 'HC001' THEN " ~ record ~ "-1, " ~ expected ~ "); END;" if exact else "") ~ "
     END $hc$" -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit(body) ~ ", use_transaction=false)", auto_begin=false) -%}
  {%- set n = hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(
      "select rows from hotcold.step_results where run_id = " ~ hotcold_lit(run_id) ~ " and table_name = " ~ hotcold_lit(spec.name)
      ~ " and step = " ~ hotcold_lit(step) ~ " order by at desc limit 1") ~ ")") -%}
  {{ return(n) }}
{% endmacro %}

{% macro hotcold_delete_staged__duckdb(spec, stage, run_id, expected) %}
  {%- set s = hotcold_settings() -%}
  {%- set rel = "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {%- set where = hotcold_key_match(spec.key, 't', 'p') ~ " and hash(t) = p._hc_version" -%}
  {#- The embedded store is held open by this process alone, so nothing can change between
      the count and the delete. -#}
  {%- set deleted = hotcold_scalar("select count(*) from " ~ rel ~ " t, " ~ stage ~ " p where " ~ where) -%}
  {%- do run_query("delete from " ~ rel ~ " t using " ~ stage ~ " p where " ~ where) -%}
  {%- do hotcold_fail_point('delete.in_transaction') -%}
  {%- if deleted > expected -%}
    {{ exceptions.raise_compiler_error("hot_delete_staged: matched " ~ deleted ~ " rows, more than the " ~ expected ~ " verified; rolled back") }}
  {%- endif -%}
  {{ return(deleted) }}
{% endmacro %}

{#- Backfill: write the staged rows that belong in the hot store, replacing any version of
    their key there; returns the number written. They are the rows of the window (hot
    intervals only), and aged rows whose key the hot store still holds: the hot copy must
    become the backfilled version, or the next rotation would archive the old one over it. -#}
{% macro hot_write_staged(spec, stage, run_id, cutoff) %}
  {{ return(hot_dispatch('write_staged')(spec, stage, run_id, cutoff)) }}
{% endmacro %}

{% macro hotcold_write_staged__postgres(spec, stage, run_id, cutoff, trial=false) %}
  {#- The rows fit the table as PostgreSQL defines it: a stored generated column is left out
      of the INSERT, PostgreSQL computes it again (it is the authority for hot rows, whatever
      the file held); an identity column takes the row's own value, which GENERATED ALWAYS
      accepts only with OVERRIDING SYSTEM VALUE; and the sequence of an identity or serial
      column is moved up to the largest value backfilled (never down; only with the right to
      read and set it), so the application's next row does not take a backfilled row's id.
      trial=true (the backfill's stage, before anything is published) runs the same DELETE
      and INSERT and rolls them back: a row the table refuses (a CHECK, NOT NULL, a unique
      index, a value out of range...) stops the backfill there, not after the lake changed. -#}
  {%- set s = hotcold_settings() -%}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set aged_keys = "select * from postgres_query('hot', " ~ hotcold_lit("SELECT " ~ hotcold_q_list(spec.key) ~ " FROM " ~ rel
      ~ " WHERE " ~ ages_out(spec, cutoff, s.hot_intervals)) ~ ")" -%}
  {%- set pending = hotcold_pg_pending(spec, "select * exclude (_hc_version, year, month, day) from " ~ stage ~ " s where not " ~ ages_out(spec, cutoff, s.hot_intervals)
      ~ " or exists (select 1 from (" ~ aged_keys ~ ") k where " ~ hotcold_key_match(spec.key, 'k', 's') ~ ")") -%}
  {%- set n = hotcold_scalar("select count(*) from hot." ~ pending) -%}
  {%- set cols = hot_table_columns(spec) -%}
  {%- set names = [] -%}{%- set casts = [] -%}{%- set advance = [] -%}
  {%- for c in cols if not c.generated -%}
    {%- do names.append(hotcold_q(c.name)) -%}
    {#- Cast to the type without its length: an explicit ::varchar(5) (or char(n), bit(n))
        cuts a longer value without a word, where the INSERT's own assignment to the column
        refuses it, which the trial write turns into a refusal before anything is published.
        (No cast at all would not do: text reaches jsonb, interval... only explicitly.) -#}
    {%- set unsized = modules.re.sub('\\(\\d+(,\\d+)?\\)', '', c.type) -%}
    {%- set unsized = modules.re.sub('^character(?! varying)', 'text', modules.re.sub('^bit(?! varying)', 'bit varying', unsized)) -%}
    {%- do casts.append("p." ~ hotcold_q(c.name) ~ "::" ~ unsized) -%}
    {#- The largest value of all the backfilled rows, aged ones too: an id the lake holds is
        taken as well (a new row with it would replace that row in the lake when it ages). -#}
    {%- set top = hotcold_scalar("select max(" ~ hotcold_q(c.name) ~ ")::bigint from " ~ stage) if c.sequence and not trial else none -%}
    {%- if top is not none -%}
      {%- set seq = hotcold_lit(c.sequence) -%}
      {%- do advance.append("IF has_sequence_privilege(" ~ seq ~ ", 'SELECT') AND has_sequence_privilege(" ~ seq ~ ", 'UPDATE') THEN
          PERFORM setval(ps.seqrelid, " ~ top ~ ") FROM pg_sequence ps
           WHERE ps.seqrelid = " ~ seq ~ "::regclass AND ps.seqincrement > 0 AND " ~ top ~ " <= ps.seqmax
             AND " ~ top ~ " > coalesce(pg_sequence_last_value(ps.seqrelid), ps.seqstart - 1);
        END IF;") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set overriding = " OVERRIDING SYSTEM VALUE" if cols | selectattr('identity', 'equalto', 'a') | list else "" -%}
  {%- set write = "DELETE FROM " ~ rel ~ " t USING " ~ pending ~ " p WHERE " ~ hotcold_key_match(spec.key, 't', 'p') ~ ";
       INSERT INTO " ~ rel ~ " (" ~ names | join(', ') ~ ")" ~ overriding ~ " SELECT " ~ casts | join(', ') ~ " FROM " ~ pending ~ " p;" -%}
  {%- if trial -%}
    {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("DO $hc$ DECLARE hc_detail text; BEGIN " ~ write ~ "
         RAISE EXCEPTION USING ERRCODE = 'HC002';
       EXCEPTION WHEN SQLSTATE 'HC002' THEN NULL;
         WHEN OTHERS THEN
           GET STACKED DIAGNOSTICS hc_detail = PG_EXCEPTION_DETAIL;
           RAISE EXCEPTION 'backfill: % refuses rows of the hot window: %. Nothing was published or written; fix the files or the table and re-run', "
             ~ hotcold_lit(rel) ~ ", SQLERRM || coalesce(' (' || nullif(hc_detail, '') || ')', '');
       END $hc$") ~ ", use_transaction=false)", auto_begin=false) -%}
    {%- set written = none -%}
  {%- else -%}
    {%- set written = hotcold_pg_counted(spec, run_id, 'write', write, n, after=advance | join(' ')) -%}
  {%- endif -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("DROP TABLE IF EXISTS " ~ pending) ~ ", use_transaction=false)", auto_begin=false) -%}
  {{ return(written) }}
{% endmacro %}

{% macro hotcold_write_staged__duckdb(spec, stage, run_id, cutoff, trial=false) %}
  {#- A generated column is DuckDB's to compute: not written. trial=true (before anything is
      published) binds the INSERT without running it: DuckDB cannot roll back a part of this
      transaction, so only what the binder refuses is found this early. -#}
  {%- set s = hotcold_settings() -%}
  {%- set rel = "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {%- set names = hotcold_q_list(hot_table_columns(spec) | rejectattr('generated') | map(attribute='name') | list) -%}
  {%- set rows = "select " ~ names ~ " from " ~ stage ~ " s where not " ~ ages_out(spec, cutoff, s.hot_intervals)
      ~ " or exists (select 1 from " ~ rel ~ " h where " ~ hotcold_key_match(spec.key, 'h', 's') ~ ")" -%}
  {%- if trial -%}
    {%- do run_query("explain insert into " ~ rel ~ " (" ~ names ~ ") " ~ rows) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- do run_query("create or replace temp table hc_pending as " ~ rows) -%}
  {%- do run_query("delete from " ~ rel ~ " t using hc_pending p where " ~ hotcold_key_match(spec.key, 't', 'p')) -%}
  {%- do run_query("insert into " ~ rel ~ " (" ~ names ~ ") select " ~ names ~ " from hc_pending") -%}
  {{ return(hotcold_scalar("select count(*) from hc_pending")) }}
{% endmacro %}

{#- VACUUM (ANALYZE) runs outside any transaction; plain VACUUM makes the space reusable for
    tomorrow's rows (VACUUM FULL is the cleanup command's choice, not the nightly one). -#}
{% macro hot_vacuum(spec, full=false) %}
  {{ return(hot_dispatch('vacuum')(spec, full)) }}
{% endmacro %}

{% macro hotcold_vacuum__postgres(spec, full) %}
  {%- set opts = '(FULL, ANALYZE)' if full else '(ANALYZE)' -%}
  {%- do adapter.commit() -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("VACUUM " ~ opts ~ " " ~ hot_relation_pg(spec)) ~ ", use_transaction=false)", auto_begin=false) -%}
{% endmacro %}

{% macro hotcold_vacuum__duckdb(spec, full) %}
  {%- do adapter.commit() -%}
  {%- do adapter.execute("CHECKPOINT hot", auto_begin=false) -%}
{% endmacro %}
