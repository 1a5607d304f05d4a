{#- Range-partitioned hot tables on PostgreSQL: whole partitions leave by DETACH and DROP.

    A partition leaves whole when PostgreSQL's own bound says every row it can hold is older
    than the window (its upper bound is at or before the cutoff, on a parent partitioned by
    range on the time column alone) and, checked after the DETACH under its lock, every row it
    holds is an aged row the stage read (the same snapshot test as the delete: none written,
    changed or kept since). Then it is dropped, or moved to the archive schema with
    keep_detached. Any other partition, and one whose check or lock fails, gives up its aged
    rows by the row-level delete, as a plain table does. Everything happens in the delete's one
    transaction, counted against the verified rows: all of it commits, or none.
    docs/decisions/0007-whole-partitions-leave.md says why not DETACH ... CONCURRENTLY. -#}

{#- The partition tree of a partitioned hot table, or none for a plain one: the rows of
    python/hotcold/store/partitions.py's TREE_SQL (the rule, written once, reaches the macros
    through the run's settings). -#}
{% macro hotcold_partition_tree(spec, cutoff) %}
  {%- set sql = hotcold_settings().partition_tree_sql.replace('@rel@', hotcold_lit(hot_relation_pg(spec)))
      .replace('@time_column@', hotcold_lit(spec.time_column)).replace('@cutoff@', hotcold_lit(cutoff)) -%}
  {%- set nodes = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(sql) ~ ")") -%}
  {{ return(nodes if nodes else none) }}
{% endmacro %}

{#- The statements of the delete's transaction for a partitioned table (`nodes` from
    hotcold_partition_tree): the row-level delete on each leaf that stays, then each leaving
    partition in turn, whole or, failing that, row by row. They add the rows that left to `n`
    and log each partition's fate in hotcold.partition_log. `aged` and `seen` are the tests
    on a row `t`. Returns the statements and the extra PL/pgSQL declarations they need. -#}
{% macro hotcold_partition_statements(spec, run_id, nodes, aged, seen, cutoff) %}
  {%- set s = hotcold_settings() -%}
  {%- set log = "INSERT INTO hotcold.partition_log (run_id, table_name, partition, action, rows, note) VALUES (" ~ hotcold_lit(run_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", " -%}
  {%- set timeout = "PERFORM set_config('lock_timeout', " ~ hotcold_lit(s.lock_timeout_ms ~ 'ms') ~ ", true); " -%}
  {%- set untimed = "PERFORM set_config('lock_timeout', hc_lock_timeout, true); " -%}
  {%- set out = ["n := 0; "] -%}
  {#- Leaves that may hold rows older than the cutoff, each alone; the rows of the newer ones
      that age out (non-hot intervals) by one DELETE on the table limited to times at or after
      the cutoff, which partition pruning keeps off the older partitions. A row both reach is
      deleted once: the second finds it gone. Each logs the partitions it deleted from, which
      the vacuum step then VACUUMs, and no other. -#}
  {%- for leaf in nodes if leaf.isleaf and not leaf.under and leaf.holds_older -%}
    {%- do out.append("DELETE FROM ONLY " ~ leaf.rel ~ " t WHERE " ~ aged ~ " AND " ~ seen ~ "; GET DIAGNOSTICS hc_k = ROW_COUNT; n := n + hc_k; "
        ~ "IF hc_k > 0 THEN " ~ log ~ hotcold_lit(leaf.rel) ~ ", 'deleted', hc_k, ''); END IF; ") -%}
  {%- endfor -%}
  {%- if spec.interval_column -%}
    {%- do out.append("WITH d AS (DELETE FROM " ~ hot_relation_pg(spec) ~ " t WHERE " ~ hotcold_q(spec.time_column) ~ " >= " ~ hotcold_lit(cutoff) ~ "::timestamptz AND "
        ~ aged ~ " AND " ~ seen ~ " RETURNING t.tableoid), g AS (INSERT INTO hotcold.partition_log (run_id, table_name, partition, action, rows, note) "
        ~ "SELECT " ~ hotcold_lit(run_id) ~ ", " ~ hotcold_lit(spec.name) ~ ", format('%I.%I', pn.nspname, pc.relname), 'deleted', count(*), '' FROM d "
        ~ "JOIN pg_class pc ON pc.oid = d.tableoid JOIN pg_namespace pn ON pn.oid = pc.relnamespace GROUP BY 3 RETURNING rows) "
        ~ "SELECT coalesce(sum(rows), 0) INTO hc_k FROM g; n := n + hc_k; ") -%}
  {%- endif -%}
  {#- A partition dropped leaves a gap in the ranges: a late row for it must land somewhere
      rather than be refused (no partition of relation found for row), so a parent without a
      DEFAULT partition gets one first; if it cannot (lock, name taken), its partitions stay. -#}
  {%- set landing = {} -%}
  {%- for node in nodes if node.leaves and not node.parent_default and node.parent_rel not in landing -%}
    {%- set flag = 'hc_landing_' ~ loop.index -%}
    {%- do landing.update({node.parent_rel: flag}) -%}
    {%- set default_name = (node.parent_name ~ '_default')[:63] -%}
    {%- set made = hotcold_q(node.parent_schema) ~ "." ~ hotcold_q(default_name) -%}
    {%- do out.append("BEGIN " ~ timeout ~ "CREATE TABLE " ~ made ~ " PARTITION OF " ~ node.parent_rel ~ " DEFAULT; " ~ untimed ~ flag ~ " := true; "
        ~ log ~ "format('%I.%I', " ~ hotcold_lit(node.parent_schema) ~ ", " ~ hotcold_lit(default_name) ~ "), 'default made', 0, 'the landing place of late rows for dropped ranges'); "
        ~ "EXCEPTION WHEN OTHERS THEN " ~ log ~ hotcold_lit(node.parent_rel) ~ ", 'no default', 0, SQLERRM); END; ") -%}
  {%- endfor -%}
  {%- set archive = hotcold_q(s.archive_schema) -%}
  {%- for node in nodes if node.leaves -%}
    {%- set ready = landing.get(node.parent_rel, 'true') -%}
    {%- set away = ("CREATE SCHEMA IF NOT EXISTS " ~ archive ~ "; ALTER TABLE " ~ node.rel ~ " SET SCHEMA " ~ archive ~ "; " ~ log ~ hotcold_lit(node.rel) ~ ", 'detached', hc_all, "
        ~ hotcold_lit('kept in ' ~ s.archive_schema) ~ "); ")
        if s.keep_detached else ("DROP TABLE " ~ node.rel ~ "; " ~ log ~ hotcold_lit(node.rel) ~ ", 'dropped', hc_all, ''); ") -%}
    {%- set holders = "(SELECT string_agg(DISTINCT 'pid ' || a.pid || ' (' || coalesce(a.state, '') || ', since ' || to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ')', ', ')"
        ~ " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND l.pid <> pg_backend_pid()"
        ~ " AND l.relation IN (SELECT relid FROM pg_partition_tree(" ~ hotcold_lit(node.parent_rel) ~ "::regclass)))" -%}
    {%- do out.append("hc_whole := false; hc_note := CASE WHEN hc_blocked THEN 'the lock to detach was not had (see the first partition)' ELSE 'no DEFAULT partition could be made to take late rows' END; "
        ~ "IF " ~ ready ~ " AND NOT hc_blocked THEN BEGIN "
        ~ timeout ~ "ALTER TABLE " ~ node.parent_rel ~ " DETACH PARTITION " ~ node.rel ~ "; " ~ untimed
        ~ "SELECT count(*), count(*) FILTER (WHERE " ~ (seen if node.all_aged else aged ~ " AND " ~ seen) ~ ") INTO hc_all, hc_k FROM " ~ node.rel ~ " t; "
        ~ "IF hc_all <> hc_k THEN RAISE EXCEPTION '% of its % rows were written, changed or kept since the stage', hc_all - hc_k, hc_all; END IF; "
        ~ away ~ "n := n + hc_all; hc_whole := true; "
        ~ "EXCEPTION WHEN lock_not_available THEN hc_blocked := true; "
        ~ "hc_note := 'the lock to detach was not had in " ~ s.lock_timeout_ms ~ " ms; sessions holding the table: ' || coalesce(" ~ holders ~ ", 'none now'); "
        ~ "WHEN OTHERS THEN hc_note := SQLERRM; END; END IF; "
        ~ "IF NOT hc_whole THEN DELETE FROM " ~ node.rel ~ " t WHERE " ~ aged ~ " AND " ~ seen ~ "; GET DIAGNOSTICS hc_k = ROW_COUNT; n := n + hc_k; "
        ~ log ~ hotcold_lit(node.rel) ~ ", 'deleted', hc_k, 'kept attached: ' || hc_note); END IF; ") -%}
  {%- endfor -%}
  {%- set declare = ["hc_k bigint; hc_all bigint; hc_whole boolean; hc_note text; hc_blocked boolean := false; hc_lock_timeout text := current_setting('lock_timeout'); "] -%}
  {%- for flag in landing.values() -%}{%- do declare.append(flag ~ " boolean := false; ") -%}{%- endfor -%}
  {{ return({'statements': out | join(''), 'declare': declare | join('')}) }}
{% endmacro %}

{#- What this run's delete did to the table's partitions (hotcold.partition_log): rows per
    action and the partitions, for the step's note; none when nothing was logged. -#}
{% macro hotcold_partition_outcome(spec, run_id) %}
  {%- set rows = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit(
      "SELECT partition, action, rows, note FROM hotcold.partition_log WHERE run_id = " ~ hotcold_lit(run_id)
      ~ " AND table_name = " ~ hotcold_lit(spec.name) ~ " ORDER BY partition") ~ ")") -%}
  {{ return(rows) }}
{% endmacro %}

{#- Notes for the delete step's log: partitions that left whole, rows deleted row by row, and
    why a partition that could have left whole did not. Empty for a plain table. -#}
{% macro hot_partition_notes(spec) %}
  {{ return(hot_dispatch('partition_notes')(spec)) }}
{% endmacro %}

{% macro hotcold_partition_notes__duckdb(spec) %}{{ return([]) }}{% endmacro %}

{% macro hotcold_partition_notes__postgres(spec) %}
  {%- set rows = hotcold_partition_outcome(spec, invocation_id) -%}
  {%- set notes = [] -%}
  {%- set whole = rows | selectattr('action', 'in', ['dropped', 'detached']) | list -%}
  {%- if whole -%}
    {%- do notes.append(whole | length ~ " partitions left whole (" ~ whole | sum(attribute='rows') ~ " rows, "
        ~ ('detached into ' ~ hotcold_settings().archive_schema if whole[0].action == 'detached' else 'dropped') ~ "): "
        ~ whole | map(attribute='partition') | join(', ')) -%}
  {%- endif -%}
  {%- set deleted = rows | selectattr('action', 'equalto', 'deleted') | list -%}
  {%- if deleted and whole -%}
    {%- do notes.append(deleted | sum(attribute='rows') ~ " rows deleted row by row from " ~ deleted | map(attribute='partition') | unique | join(', ')) -%}
  {%- endif -%}
  {%- for r in rows if r.note and r.action in ('deleted', 'default made', 'no default') -%}
    {%- do notes.append(r.partition ~ ": " ~ r.action ~ (" (" ~ r.note ~ ")")) -%}
  {%- endfor -%}
  {%- for n in notes -%}{%- do log("hotcold: " ~ spec.name ~ ": " ~ n, info=true) -%}{%- endfor -%}
  {{ return(notes) }}
{% endmacro %}

{#- VACUUM (ANALYZE) after this run's delete: on a partitioned table only the partitions rows
    were deleted from (a partition that left whole needs none, and the others none either:
    VACUUM of the whole tree would cost in proportion to the history kept); else the table.
    Returns the step's note. -#}
{% macro hot_vacuum_deleted(spec) %}
  {%- set logged = hotcold_partition_outcome(spec, invocation_id) if hotcold_settings().hot_kind == 'postgres' else [] -%}
  {%- set deleted = logged | selectattr('action', 'equalto', 'deleted') | selectattr('rows', '>', 0) | map(attribute='partition') | unique | list -%}
  {%- if not logged -%}
    {%- do hot_vacuum(spec) -%}
    {{ return('VACUUM (ANALYZE)') }}
  {%- endif -%}
  {%- for partition in deleted -%}
    {%- do adapter.commit() -%}
    {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("VACUUM (ANALYZE) " ~ partition) ~ ", use_transaction=false)", auto_begin=false) -%}
  {%- endfor -%}
  {{ return(('VACUUM (ANALYZE) of ' ~ deleted | join(', ')) if deleted else 'no rows deleted row by row: no VACUUM') }}
{% endmacro %}
