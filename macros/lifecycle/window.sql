{#- The hot window: where "recent" ends and archival begins. -#}

{#- Start of the as-of day (UTC) minus hot_days, as an ISO timestamp with zone. "Now" is an
    input: var('as_of') when given (tests and back-dated runs), else the run's start. -#}
{% macro hot_window_cutoff(as_of=none, hot_days=none) %}
  {%- set hot_days = hot_days if hot_days is not none else hot_window_days() -%}
  {%- if hot_days is not number or hot_days < 1 or hot_days != hot_days | int -%}
    {{ exceptions.raise_compiler_error("hot_window_cutoff: hot_days must be a whole number of days >= 1, got " ~ hot_days) }}
  {%- endif -%}
  {%- set as_of = as_of if as_of is not none else var('as_of', none) -%}
  {%- if as_of is none -%}
    {%- set day = run_started_at.date() -%}
  {%- else -%}
    {%- set text = as_of | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?$', text) -%}
      {{ exceptions.raise_compiler_error("hot_window_cutoff: as_of must be a date like 2026-11-25, got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- set day = modules.datetime.date.fromisoformat(text[:10]) -%}
  {%- endif -%}
  {%- set cutoff = day - modules.datetime.timedelta(days=hot_days | int) -%}
  {{ return(cutoff.isoformat() ~ ' 00:00:00+00') }}
{% endmacro %}

{#- The window's length in days: var('hot_days') overrides the config for one run
    (hotcold cleanup --hot-days N). -#}
{% macro hot_window_days() %}
  {%- set override = var('hot_days', none) -%}
  {{ return(override if override is not none else hotcold_settings().hot_days) }}
{% endmacro %}

{#- A row ages out when its time falls on a day the lake can file (fileable) and it is older
    than the window, or its interval is not a hot interval (a NULL interval is not a hot
    one). Plain SQL that PostgreSQL and DuckDB both read; every hotcold session on PostgreSQL
    runs in UTC, so a `timestamp without time zone` is compared as UTC wall time. -#}
{% macro ages_out(spec, cutoff, hot_intervals) %}
  {%- set older = hotcold_q(spec.time_column) ~ ' < ' ~ hotcold_lit(cutoff) ~ '::timestamptz' -%}
  {%- if spec.interval_column -%}
    ({{ fileable(spec) }} AND ({{ older }} OR {{ cold_interval(spec, hot_intervals) }}))
  {%- else -%}
    ({{ fileable(spec) }} AND {{ older }})
  {%- endif -%}
{% endmacro %}

{#- A time that fits a day of the lake's year=YYYY/month=MM/day=DD layout: not NULL, not
    ±infinity, within years 1 to 9999. Rows outside it never age out: they stay in the hot
    store, and hot_unfileable_note counts them for the run's warning and status. -#}
{% macro fileable(spec) %}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {{ return("(" ~ ts ~ " >= " ~ hotcold_first_day_sql() ~ " AND " ~ ts ~ " <= " ~ hotcold_last_time_sql() ~ ")") }}
{% endmacro %}

{% macro hotcold_first_day_sql() %}{{ return("'0001-01-01 00:00:00+00'::timestamptz") }}{% endmacro %}
{% macro hotcold_last_time_sql() %}{{ return("'9999-12-31 23:59:59.999999+00'::timestamptz") }}{% endmacro %}

{#- How many rows of the table stay in the hot store because their time fits no day (NULL,
    ±infinity, before year 1, after 9999); found through the index on the time column (NULLs
    and the two ends of its range). -#}
{% macro hot_unfileable_rows(spec) %}
  {%- set s = hotcold_settings() -%}
  {%- set rel = hot_relation_pg(spec) if s.hot_kind == 'postgres' else "hot." ~ hotcold_q(s.hot_schema) ~ "." ~ hotcold_q(spec.name) -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {#- Spelled out rather than NOT (fileable): each branch is an index condition. -#}
  {%- set sql = "SELECT count(*) FROM " ~ rel ~ " WHERE " ~ ts ~ " IS NULL OR " ~ ts ~ " < " ~ hotcold_first_day_sql() ~ " OR " ~ ts ~ " > " ~ hotcold_last_time_sql() -%}
  {{ return(hotcold_scalar("select * from postgres_query('hot', " ~ hotcold_lit(sql) ~ ")" if s.hot_kind == 'postgres' else sql) or 0) }}
{% endmacro %}
{#- The rows whose interval is not a hot one, whatever their age. The same text is the
    predicate of the partial index hot_ensure_aging_indexes keeps on PostgreSQL, which lets it
    find them without reading the whole table. -#}
{% macro cold_interval(spec, hot_intervals) %}
  {%- if not hot_intervals -%}
    {{ exceptions.raise_compiler_error("cold_interval: hot_intervals is empty; list at least one, e.g. ['1day']") }}
  {%- endif -%}
  {%- set iv = hotcold_q(spec.interval_column) -%}
  {%- set lits = [] -%}{%- for i in hot_intervals -%}{%- do lits.append(hotcold_lit(i)) -%}{%- endfor -%}
  {{ return("(" ~ iv ~ " IS NULL OR " ~ iv ~ " NOT IN (" ~ lits | join(', ') ~ "))") }}
{% endmacro %}
