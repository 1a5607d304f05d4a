{#- Partitions ahead: each rotation makes the partitions of the tables `hotcold partition`
    converted (recorded in the hot store's hotcold.partitioned_by) up to the as-of day +
    storage.hot_store.partitions.premake_days, so today's and the coming days' rows have a
    partition of their own before they are written.

    Each is made as a table of its own and then ATTACHed: ATTACH takes a SHARE UPDATE EXCLUSIVE
    lock on the parent, which writers do not wait for (CREATE TABLE ... PARTITION OF would take
    an ACCESS EXCLUSIVE one), and an ACCESS EXCLUSIVE lock on the DEFAULT partition while it
    checks that none of the default's rows belongs in the new range. It runs under lock_timeout
    (storage.hot_store.lock_timeout_s). A partition whose lock is not had, or whose range the
    default partition already holds rows of (ATTACH would fail: they stay where they are, and
    rotate from there), is skipped with a note; the rotation never fails for it.
    docs/decisions/0006-converting-a-table-to-partitions.md says why. -#}

{#- {'made': [names], 'skipped': [notes]} for one table; empty lists for a table hotcold did
    not convert, and on the embedded store. -#}
{% macro hot_premake_partitions(spec) %}
  {{ return(hot_dispatch('premake_partitions')(spec)) }}
{% endmacro %}

{% macro hotcold_premake_partitions__duckdb(spec) %}
  {{ return({'made': [], 'skipped': []}) }}
{% endmacro %}

{% macro hotcold_premake_partitions__postgres(spec) %}
  {%- set out = {'made': [], 'skipped': []} -%}
  {%- set s = hotcold_settings() -%}
  {#- No record (no table was converted), or one this role may not read: nothing to do. -#}
  {%- if not hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(
      "SELECT CASE WHEN EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'hotcold' AND c.relname = 'partitioned_by')
              THEN has_schema_privilege('hotcold', 'USAGE') AND has_table_privilege('hotcold.partitioned_by', 'SELECT') ELSE false END") ~ ")") -%}
    {{ return(out) }}
  {%- endif -%}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {#- The bound a partition's range ends at, as PostgreSQL prints it (every hotcold session is
      UTC): the highest one among the parent's partitions is where the next partition starts. -#}
  {%- set found = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "SELECT p.by, format_type(a.atttypid, NULL) AS ts_type,
              (SELECT max(((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)$'))[1])::timestamp)::date
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = t.oid)::text AS upper,
              (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = t.oid AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') AS default_rel
         FROM hotcold.partitioned_by p
         JOIN pg_class t ON t.oid = to_regclass(format('%I.%I', p.schema_name, p.table_name)) AND t.relkind = 'p'
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = " ~ hotcold_lit(spec.time_column) ~ "
        WHERE p.schema_name = " ~ hotcold_lit(s.hot_schema) ~ " AND p.table_name = " ~ hotcold_lit(spec.name)) ~ ")") -%}
  {%- if not found -%}
    {{ return(out) }}
  {%- endif -%}
  {%- set t = found[0] -%}
  {%- set dt = modules.datetime -%}
  {%- set as_of = hotcold_premake_as_of() -%}
  {%- set last = as_of + dt.timedelta(days=s.premake_days | int) -%}
  {%- set start = as_of if t.by == 'day' else as_of.replace(day=1) -%}
  {%- if t.upper and dt.date.fromisoformat(t.upper) > start -%}
    {%- set start = dt.date.fromisoformat(t.upper) -%}
  {%- endif -%}
  {#- From `start` to the partition holding as_of + premake_days, none if start is past it. -#}
  {%- set count = (last - start).days + 1 if t.by == 'day' else (last.year * 12 + last.month) - (start.year * 12 + start.month) + 1 -%}
  {%- set ranges = [] -%}
  {%- for i in range([count, 0] | max) -%}
    {%- set lo = start + dt.timedelta(days=i) if t.by == 'day' else (ranges[-1][2] if ranges else start) -%}
    {%- set hi = lo + dt.timedelta(days=1) if t.by == 'day' else dt.date(lo.year + lo.month // 12, lo.month % 12 + 1, 1) -%}
    {%- do ranges.append((spec.name ~ '_p' ~ lo.strftime('%Y%m%d' if t.by == 'day' else '%Y%m'), lo, hi)) -%}
  {%- endfor -%}
  {%- if not ranges -%}
    {{ return(out) }}
  {%- endif -%}
  {%- do run_query("CALL postgres_execute('hot', " ~ hotcold_lit(
      "CREATE SCHEMA IF NOT EXISTS hotcold;
       CREATE TABLE IF NOT EXISTS hotcold.partition_log (run_id text, table_name text, partition text, action text, rows bigint, note text, at timestamptz DEFAULT now());")
      ~ ", use_transaction=false)") -%}
  {%- set schema = hotcold_q(s.hot_schema) -%}
  {%- set log = "INSERT INTO hotcold.partition_log (run_id, table_name, partition, action, rows, note) VALUES (" ~ hotcold_lit(invocation_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", " -%}
  {%- for short, lo, hi in ranges -%}
    {%- set name = s.hot_schema ~ '.' ~ short -%}
    {%- set bound_lo = hotcold_premake_bound(lo, t.ts_type) -%}
    {%- set bound_hi = hotcold_premake_bound(hi, t.ts_type) -%}
    {%- set part = schema ~ "." ~ hotcold_q(short) -%}
    {%- set crowded = t.default_rel and hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(
        "SELECT EXISTS (SELECT FROM " ~ t.default_rel ~ " WHERE " ~ ts ~ " >= " ~ bound_lo ~ " AND " ~ ts ~ " < " ~ bound_hi ~ ")") ~ ")") -%}
    {%- if short | length > 63 -%}
      {%- do out.skipped.append(name ~ ": not made, the name is longer than PostgreSQL's 63 characters") -%}
    {%- elif crowded -%}
      {%- do out.skipped.append(name ~ ": not made, the default partition " ~ t.default_rel ~ " already holds rows from " ~ lo ~ " to " ~ hi
          ~ " (they stay there and rotate from there)") -%}
    {%- else -%}
      {%- do run_query("CALL postgres_execute('hot', " ~ hotcold_lit(
          "DO $hc$ BEGIN
             PERFORM set_config('lock_timeout', " ~ hotcold_lit(s.lock_timeout_ms ~ 'ms') ~ ", true);
             CREATE TABLE " ~ part ~ " (LIKE " ~ rel ~ " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION);
             EXECUTE format('ALTER TABLE %s OWNER TO %I', " ~ hotcold_lit(part) ~ ", (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = " ~ hotcold_lit(rel) ~ "::regclass));
             ALTER TABLE " ~ rel ~ " ATTACH PARTITION " ~ part ~ " FOR VALUES FROM (" ~ bound_lo ~ ") TO (" ~ bound_hi ~ ");
             " ~ log ~ hotcold_lit(name) ~ ", 'made', 0, " ~ hotcold_lit('made ahead, ' ~ lo ~ ' to ' ~ hi) ~ ");
           EXCEPTION WHEN lock_not_available THEN
             " ~ log ~ hotcold_lit(name) ~ ", 'not made', 0, " ~ hotcold_lit('not made, the lock on ' ~ spec.name ~ ' or its default partition was not had within '
                 ~ s.lock_timeout_ms ~ ' ms; the next rotation tries again') ~ ");
           WHEN OTHERS THEN
             " ~ log ~ hotcold_lit(name) ~ ", 'not made', 0, 'not made: ' || SQLERRM);
           END $hc$") ~ ", use_transaction=false)") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for r in hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "SELECT partition, action, note FROM hotcold.partition_log WHERE run_id = " ~ hotcold_lit(invocation_id)
      ~ " AND table_name = " ~ hotcold_lit(spec.name) ~ " AND action IN ('made', 'not made') ORDER BY at, partition") ~ ")") -%}
    {%- if r.action == 'made' -%}{%- do out.made.append(r.partition) -%}{%- else -%}{%- do out.skipped.append(r.partition ~ ": " ~ r.note) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- The start of `day` (UTC) as a literal of the time column's type. -#}
{% macro hotcold_premake_bound(day, ts_type) %}
  {%- if ts_type == 'date' -%}{{ return(hotcold_lit(day.isoformat()) ~ "::date") }}{%- endif -%}
  {%- if ts_type == 'timestamp without time zone' -%}{{ return(hotcold_lit(day.isoformat() ~ ' 00:00:00') ~ "::timestamp") }}{%- endif -%}
  {{ return(hotcold_lit(day.isoformat() ~ ' 00:00:00+00') ~ "::timestamptz") }}
{% endmacro %}

{#- The as-of day (UTC), as hot_window_cutoff reads it: var('as_of'), else the run's start. -#}
{% macro hotcold_premake_as_of() %}
  {%- set as_of = var('as_of', none) -%}
  {%- if as_of is none -%}{{ return(run_started_at.date()) }}{%- endif -%}
  {{ return(modules.datetime.date.fromisoformat((as_of | string)[:10])) }}
{% endmacro %}

{#- The rotation's step `premake` (after VACUUM and the indexes): logged only when a partition
    was made or skipped, its note naming them. -#}
{% macro hotcold_premake_step(spec) %}
  {%- set started = hotcold_now() -%}
  {%- set done = hot_premake_partitions(spec) -%}
  {%- set notes = [] -%}
  {%- if done.made -%}
    {%- do notes.append("made " ~ done.made | length ~ " partitions ahead: " ~ done.made | join(', ')) -%}
  {%- endif -%}
  {%- do notes.extend(done.skipped) -%}
  {%- if notes -%}
    {%- for n in notes -%}{%- do log("hotcold: " ~ spec.name ~ ": " ~ n, info=true) -%}{%- endfor -%}
    {%- do hotcold_log_step('premake', spec.name, started, done.made | length, 0, 0, notes | join('; ')) -%}
  {%- endif -%}
  {{ return(done) }}
{% endmacro %}
