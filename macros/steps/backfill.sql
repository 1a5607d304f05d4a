{#- Backfill: the stage of a run comes from files (CSV or Parquet) instead of the hot store.
    Each file is landed as it is, checked (its columns are exactly the table's; every value
    casts to the lake's type; key and time columns are not NULL), and the first bad value
    stops the run naming the file, the row and the column, before anything is published or
    written. Rows of all files are then de-duplicated on the key: the last file given, and
    within a file the last row, wins.

    A CSV file is read as PostgreSQL's `COPY table (<the header's columns>) FROM ... (FORMAT
    csv, HEADER)` reads it: its layout was checked by hotcold.pipeline.sources.csv_layout (what DuckDB's
    reader reads is then field for field what COPY reads), and each field is read by
    PostgreSQL's rules for its column's type (hotcold_csv_plan). A value those rules read in a
    way DuckDB cannot reproduce is refused by name rather than read otherwise. -#}
{% macro hotcold_stage_backfill(spec, stage, backfill) %}
  {%- set files = hotcold_backfill_files(backfill) -%}
  {%- set columns = hot_lake_columns(spec) -%}
  {#- Temp tables: DuckDB 1.5 writes a persistent table's -0.0 as 0.0 once it compresses it
      (a large table, or any at a checkpoint), and the state database is persistent. -#}
  {%- set loaded = 'temp.hc_backfill_loaded' -%}
  {%- set plans = {'parquet': hotcold_parquet_plan(spec, columns)} -%}
  {%- if files | selectattr('format', 'equalto', 'csv') | list -%}
    {%- do hotcold_csv_macros() -%}
    {%- do plans.update({'csv': hotcold_csv_plan(spec, columns)}) -%}
  {%- endif -%}
  {%- do run_query("create or replace temp table hc_backfill_loaded as select * exclude (year, month, day), 0 as _hc_file, 0::bigint as _hc_row from ("
      ~ hotcold_typed_empty(spec) ~ ")") -%}
  {%- for f in files -%}
    {%- do hotcold_land_file(spec, f, loop.index, columns, plans[f.format], loaded) -%}
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
    the extension unless given. `hotcold backfill` adds, for a CSV file, the header's column
    names (`columns`), the delimiter (`delim`) and the line end (`new_line`) it checked the
    file with. -#}
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
      {%- do out.append({'path': path, 'name': e.get('name') or path, 'format': fmt,
          'columns': e.get('columns') if matched | length == 1 else none, 'delim': e.get('delim'), 'new_line': e.get('new_line')}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- A Parquet file's columns carry their own types: each is cast to the lake's. Plans give
    SQL over $raw (the file's field) and $pre (the field's `pre`, computed once before). -#}
{% macro hotcold_parquet_plan(spec, columns) %}
  {%- set out = [] -%}
  {%- for c in columns -%}
    {%- do out.append({'name': c.column_name, 'value': "try_cast($raw as " ~ c.column_type ~ ")", 'pre': none,
        'why': hotcold_lit(", which is not a " ~ c.column_type), 'pg': none}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro hotcold_land_file(spec, f, index, columns, plan, loaded) %}
  {%- set land = 'temp.hc_backfill_land' -%}
  {%- set typed = 'temp.hc_backfill_typed' -%}
  {%- set want = columns | map(attribute='column_name') | list -%}
  {%- if f.format == 'parquet' -%}
    {%- set reader = "read_parquet(" ~ hotcold_lit(f.path) ~ ", hive_partitioning = false)" -%}
  {%- elif f.columns is not none and f.columns | length == 0 -%}
    {#- An empty file: PostgreSQL's COPY loads no rows from it, nor does the backfill. -#}
    {%- set empty = [] -%}
    {%- for n in want -%}{%- do empty.append("null::varchar as " ~ hotcold_q(n)) -%}{%- endfor -%}
    {%- set reader = "(select " ~ empty | join(', ') ~ " where false)" -%}
  {%- else -%}
    {%- set reader = hotcold_csv_reader(f) -%}
  {%- endif -%}
  {#- A plain table keeps the file's row order, so rowid is the row's place in the file. -#}
  {%- do run_query("create or replace temp table hc_backfill_land as select * from " ~ reader) -%}
  {%- set have = hotcold_rows("select column_name from (describe " ~ land ~ ")") | map(attribute='column_name') | list -%}
  {%- set missing = want | reject('in', have) | list -%}
  {%- set extra = have | reject('in', want) | list -%}
  {%- if missing or extra -%}
    {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ " has the wrong columns" ~ (": missing " ~ missing | join(', ') if missing else "")
        ~ ("; unexpected " ~ extra | join(', ') if extra else "") ~ "; " ~ spec.name ~ " has " ~ want | join(', ')
        ~ " (a CSV file's header names them, in any order). Nothing was published or written") }}
  {%- endif -%}
  {#- Three steps, so that each field is parsed once: the field and what its reading needs
      first ($pre), then the value, then the first problem of the row. -#}
  {%- set pre = ["rowid as _hc_row"] -%}{%- set values = ["_hc_row"] -%}{%- set checks = [] -%}{%- set raws = [] -%}
  {%- set required = (spec.key + [spec.time_column]) | unique | list -%}
  {%- for c in plan -%}
    {%- set q = hotcold_q(c.name) -%}
    {%- set raw = hotcold_q('_hc_raw_' ~ loop.index) -%}
    {%- set pre_q = hotcold_q('_hc_pre_' ~ loop.index) -%}
    {%- do raws.append(raw) -%}
    {%- do pre.append(q ~ " as " ~ raw) -%}
    {%- if c.pre -%}{%- do pre.append(c.pre | replace('$raw', q) ~ " as " ~ pre_q) -%}{%- endif -%}
    {%- do values.append(raw) -%}
    {%- do values.append(c.value | replace('$raw', raw) | replace('$pre', pre_q) ~ " as " ~ q) -%}
    {%- if c.name in required -%}
      {%- do checks.append("when " ~ raw ~ " is null then " ~ hotcold_lit(c.name ~ "' is empty, and it is a key or time column")) -%}
    {%- elif c.get('not_null') -%}
      {%- do checks.append("when " ~ raw ~ " is null then " ~ hotcold_lit(c.name ~ "' is empty (NULL), and it is NOT NULL in the hot table (PostgreSQL's COPY refuses it)")) -%}
    {%- endif -%}
    {%- do checks.append("when " ~ raw ~ " is not null and " ~ q ~ " is null then " ~ hotcold_lit(c.name ~ "' holds ") ~ " || coalesce('''' || left(" ~ raw ~ "::varchar, 60) || '''', 'a value') || "
        ~ c.why | replace('$raw', raw)) -%}
  {%- endfor -%}
  {%- do run_query("create or replace temp table hc_backfill_typed as select * exclude (" ~ raws | join(', ') ~ "), case " ~ checks | join(' ') ~ " end as _hc_problem from (select "
      ~ values | join(', ') ~ " from (select " ~ pre | join(', ') ~ " from " ~ land ~ "))") -%}
  {%- set bad = hotcold_rows("select _hc_row as row, _hc_problem as problem from " ~ typed ~ " where _hc_problem is not null order by _hc_row limit 1") -%}
  {%- if bad -%}
    {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ ", " ~ hotcold_backfill_where(f, land, bad[0].row) ~ ": column '" ~ bad[0].problem ~ ". Nothing was published or written; fix the file and re-run") }}
  {%- endif -%}
  {%- do hotcold_backfill_zero_signs(spec, f, land, typed, loaded, columns) -%}
  {%- set pg_cols = plan | selectattr('pg') | list -%}
  {%- if pg_cols and hotcold_scalar("select count(*) from " ~ land ~ " where coalesce(" ~ hotcold_q_list(pg_cols | map(attribute='name') | list) ~ ") is not null limit 1") -%}
    {%- do hotcold_csv_pg_check(spec, f, land, typed, pg_cols) -%}
  {%- endif -%}
  {%- do run_query("insert into " ~ loaded ~ " select " ~ hotcold_q_list(want) ~ ", " ~ index ~ ", _hc_row from " ~ typed) -%}
  {%- set n = hotcold_scalar("select count(*) from " ~ land) -%}
  {%- do run_query("drop table " ~ land ~ "; drop table " ~ typed) -%}
  {%- do log("hotcold:progress " ~ tojson({'event': 'file', 'name': f.name, 'rows': n}), info=true) -%}
{% endmacro %}

{#- DuckDB's Parquet writer keeps one sign of zero per float column of a file once it
    dictionary-encodes it (-0.0 = 0.0; duckdb#25781): a file whose zeros have both signs, or
    whose zeros meet the other sign in the rows loaded before it or in the lake's files of
    their days (merged into one day file), would change without a word. Refused instead,
    at its first zero. -#}
{% macro hotcold_backfill_zero_signs(spec, f, land, typed, loaded, columns) %}
  {%- set floats = columns | selectattr('column_type', 'in', ['FLOAT', 'DOUBLE']) | map(attribute='column_name') | list -%}
  {%- if not floats -%}{{ return(none) }}{%- endif -%}
  {%- set ts = hotcold_q(spec.time_column) -%}
  {%- for name in floats -%}
    {%- set q = hotcold_q(name) -%}
    {%- set mine = hotcold_rows("select count(*) filter (where signbit(" ~ q ~ ")) as neg, count(*) filter (where not signbit(" ~ q ~ ")) as pos from " ~ typed ~ " where " ~ q ~ " = 0")[0] -%}
    {%- if mine.neg + mine.pos > 0 -%}
      {%- set others = [] -%}
      {%- do others.append("select signbit(" ~ q ~ ") as neg from " ~ loaded ~ " where " ~ q ~ " = 0") -%}
      {%- set days = hotcold_rows("select distinct strftime(" ~ ts ~ ", 'year=%Y/month=%m/day=%d/') as d from " ~ typed ~ " where " ~ q ~ " = 0") | map(attribute='d') | list -%}
      {%- set lake_files = hotcold_rows("select file from glob(" ~ hotcold_lit(lake_glob(spec)) ~ ") where regexp_matches(file, " ~ hotcold_lit('(' ~ days | join('|') ~ ')') ~ ")") | map(attribute='file') | list -%}
      {%- if lake_files -%}
        {%- set lits = [] -%}{%- for lf in lake_files -%}{%- do lits.append(hotcold_lit(lf)) -%}{%- endfor -%}
        {%- set lake = "read_parquet([" ~ lits | join(', ') ~ "], union_by_name = true, hive_partitioning = false)" -%}
        {%- if name in hotcold_rows("select column_name from (describe select * from " ~ lake ~ ")") | map(attribute='column_name') | list -%}
          {%- do others.append("select signbit(" ~ q ~ ") from " ~ lake ~ " where " ~ q ~ " = 0") -%}
        {%- endif -%}
      {%- endif -%}
      {%- set seen = hotcold_rows("select count(*) filter (where neg) as neg, count(*) filter (where not neg) as pos from (" ~ others | join(' union all ') ~ ")")[0] -%}
      {%- if (mine.neg > 0 and mine.pos + seen.pos > 0) or (mine.pos > 0 and seen.neg > 0) -%}
        {%- set neg = mine.neg > 0 -%}
        {%- set row = hotcold_scalar("select min(_hc_row) from " ~ typed ~ " where " ~ q ~ " = 0 and " ~ ("" if neg else "not ") ~ "signbit(" ~ q ~ ")") -%}
        {%- set where = hotcold_backfill_where(f, land, row) -%}
        {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ ", " ~ where ~ ": column '" ~ name ~ "' holds " ~ ("-0" if neg else "0") ~ ", and "
            ~ ("this file" if neg and mine.pos > 0 else "the backfill's other rows or the lake's day") ~ " holds " ~ ("0" if neg else "-0")
            ~ " too: DuckDB's Parquet writer keeps one sign of zero in a file (duckdb#25781), so one of them would change; write the column's zeros with one sign (0 for -0)."
            ~ " Nothing was published or written") }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}

{#- "line L (data row R)" of a CSV file's row (rowid `row` of the landed file), counting the
    line breaks inside quoted fields of the rows before it; "row R" of a Parquet file. -#}
{% macro hotcold_backfill_where(f, land, row) %}
  {%- if f.format == 'parquet' -%}{{ return("row " ~ (row + 1)) }}{%- endif -%}
  {%- set nl = "chr(13)" if f.new_line == '\r' else "chr(10)" -%}
  {%- set counts = [] -%}
  {%- for c in hotcold_rows("select column_name from (describe " ~ land ~ ")") -%}
    {%- set q = hotcold_q(c.column_name) -%}
    {%- do counts.append("coalesce(length(" ~ q ~ ") - length(replace(" ~ q ~ ", " ~ nl ~ ", '')), 0)") -%}
  {%- endfor -%}
  {%- set breaks = hotcold_scalar("select coalesce(sum(" ~ counts | join(' + ') ~ "), 0) from " ~ land ~ " where rowid < " ~ row) -%}
  {{ return("line " ~ (row + 2 + breaks) ~ " (data row " ~ (row + 1) ~ ")") }}
{% endmacro %}

{#- DuckDB's CSV reader set to PostgreSQL's CSV format: comma (a tab for .tsv), double quote
    for quoting and escaping, the first line a header, an unquoted empty field NULL and a
    quoted one an empty string, every row as many fields as the header. Nothing is sniffed
    when the columns are known (hotcold backfill checked the file and read its header). -#}
{% macro hotcold_csv_reader(f) %}
  {%- set delim = f.delim or ('\t' if modules.re.search('\\.tsv(\\.gz|\\.zst)?$', f.path.lower()) else ',') -%}
  {%- set opts = ["delim = " ~ hotcold_lit(delim), "quote = '\"'", "escape = '\"'", "header = true", "allow_quoted_nulls = false", "nullstr = ''",
                  "strict_mode = true", "null_padding = false", "skip = 0", "comment = ''", "max_line_size = 67108864"] -%}
  {%- if f.columns -%}
    {%- set cols = [] -%}
    {%- for n in f.columns -%}{%- do cols.append(hotcold_lit(n) ~ ": 'VARCHAR'") -%}{%- endfor -%}
    {%- do opts.extend(["auto_detect = false", "columns = {" ~ cols | join(', ') ~ "}"]) -%}
  {%- else -%}
    {%- do opts.append("all_varchar = true") -%}
  {%- endif -%}
  {{ return("read_csv(" ~ hotcold_lit(f.path) ~ ", " ~ opts | join(', ') ~ ")") }}
{% endmacro %}

{#- Helpers for PostgreSQL's input rules, as DuckDB macros of this session. -#}
{% macro hotcold_csv_macros() %}
  {%- set ws = '[ \\t\\n\\r\\f\\v]' -%}
  {#- A date or time as hotcold reads it: YYYY-MM-DD, then optionally a time (T or spaces,
      H:M, :S, .fraction) and an offset (Z, UTC, GMT, +H, +HH:MM[:SS], +HHMM). Groups: y mo d
      h mi s f z sg czh czm zh zm zs. -#}
  {%- set ts_re = '(?i)^' ~ ws ~ '*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:' ~ ws ~ '*T' ~ ws ~ '*|' ~ ws ~ '+)([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(?:\\.([0-9]*))?)?)?'
      ~ '(?:' ~ ws ~ '*(Z|UTC|GMT|([+-])(?:([0-9]{2})([0-9]{2})|([0-9]{1,2})(?::([0-9]{1,2})(?::([0-9]{1,2}))?)?)))?' ~ ws ~ '*$' -%}
  {%- do run_query("
    create or replace temp macro hc_csv_trim(v) as trim(v, chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13));
    create or replace temp macro hc_csv_special(v) as lower(hc_csv_trim(v));
    -- float8in / float4in: PostgreSQL refuses a number that rounds to infinity or, from
    -- nonzero digits, to zero (out of range); DuckDB returns the infinity or the zero.
    create or replace temp macro hc_csv_finite(x, v) as case when isinf(x) or (x = 0 and regexp_matches(regexp_replace(v, '[eE].*$', ''), '[1-9]')) then null else x end;
    -- boolin: any prefix of true/false/yes/no, on/off (two letters at least), 1/0, any case.
    create or replace temp macro hc_csv_bool(v) as case when hc_csv_special(v) in ('t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1') then true
        when hc_csv_special(v) in ('f', 'fa', 'fal', 'fals', 'false', 'n', 'no', 'of', 'off', '0') then false end;
    -- numeric_in, without DuckDB's DECIMAL cast of an exponent (it reads 900e-20 as 0.0001):
    -- the digits with the point moved by the exponent, and cut one digit past the scale
    -- (rounding half away from zero looks at that digit alone), for DuckDB to round.
    create or replace temp macro hc_csv_nparts(v) as regexp_extract(hc_csv_trim(v), '^([+-]?)([0-9]*)(?:[.]([0-9]*))?(?:[eE]([+-]?[0-9]+))?$', ['sg', 'i', 'f', 'e']);
    create or replace temp macro hc_csv_point(p) as length(p.i) + coalesce(try_cast(nullif(p.e, '') as INTEGER), 0);
    create or replace temp macro hc_csv_plain(p, s) as p.sg || coalesce(nullif(ltrim(case when hc_csv_point(p) <= 0 then '0'
        when hc_csv_point(p) >= length(p.i || p.f) then p.i || p.f || repeat('0', hc_csv_point(p) - length(p.i || p.f)) else left(p.i || p.f, hc_csv_point(p)) end, '0'), ''), '0')
        || '.' || left(case when hc_csv_point(p) <= 0 then repeat('0', least(-hc_csv_point(p), s + 1)) || p.i || p.f
        when hc_csv_point(p) >= length(p.i || p.f) then '' else substr(p.i || p.f, hc_csv_point(p) + 1) end, s + 1);
    create or replace temp macro hc_csv_tparts(v) as regexp_extract(v, " ~ hotcold_lit(ts_re) ~ ", ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z', 'sg', 'czh', 'czm', 'zh', 'zm', 'zs']);
    -- The fields of a date or time as numbers; the fraction becomes microseconds as
    -- PostgreSQL rounds it (rint of the fraction read as a double, times 10^6).
    create or replace temp macro hc_csv_tnums(p) as struct_pack(
        day := case when p.y <> '' and p.y <> '0000' then try_cast(p.y || '-' || p.mo || '-' || p.d as DATE) end,
        h := coalesce(try_cast(nullif(p.h, '') as INTEGER), 0), mi := coalesce(try_cast(nullif(p.mi, '') as INTEGER), 0),
        s := coalesce(try_cast(nullif(p.s, '') as INTEGER), 0),
        us := case when p.f = '' then 0 else round_even(('0.' || p.f)::DOUBLE * 1000000, 0)::BIGINT end,
        zh := coalesce(try_cast(nullif(p.czh || p.zh, '') as INTEGER), 0), zm := coalesce(try_cast(nullif(p.czm || p.zm, '') as INTEGER), 0),
        zs := coalesce(try_cast(nullif(p.zs, '') as INTEGER), 0), neg := p.sg = '-');
    -- PostgreSQL's ranges: minutes to 59, seconds to 60, the time of day (its fraction
    -- rounded) at most 24:00:00, offsets up to 15:59:59.
    create or replace temp macro hc_csv_tok(n) as n.day is not null and n.mi <= 59 and n.s <= 60
        and ((n.h * 60 + n.mi) * 60 + n.s) * 1000000::BIGINT + n.us <= 86400000000 and n.zh <= 15 and n.zm <= 59 and n.zs <= 59;
    create or replace temp macro hc_csv_local(n) as n.day::TIMESTAMP + to_microseconds(((n.h * 60 + n.mi) * 60 + n.s) * 1000000::BIGINT + n.us);
    create or replace temp macro hc_csv_offset(n) as to_seconds((case when n.neg then -1 else 1 end) * (n.zh * 3600 + n.zm * 60 + n.zs));
    -- A timestamp(p) rounds to p digits, half away from zero around 2000-01-01 (PostgreSQL's epoch).
    create or replace temp macro hc_csv_round_us(us, unit) as case when us >= 946684800000000 then (us - 946684800000000 + unit // 2) // unit * unit
        else -((946684800000000 - us + unit // 2) // unit * unit) end + 946684800000000;
  ") -%}
{% endmacro %}

{#- Per lake column: how a CSV field ($raw, VARCHAR) becomes its value (`value`, NULL when
    the field is refused; over `pre`, computed once, as $pre), why a field is refused
    (`why`), whether the hot table refuses NULL (`not_null`), and, for a column PostgreSQL
    must judge (`pg`), its PostgreSQL type. -#}
{% macro hotcold_csv_plan(spec, columns) %}
  {%- set pg = {} -%}
  {%- set not_null = [] -%}
  {%- if hotcold_settings().hot_kind == 'postgres' -%}
    {%- for c in hot_lake_plan(spec) -%}{%- do pg.update({c.name: c}) -%}{%- endfor -%}
    {%- set not_null = hotcold_rows("select * from postgres_query('hot', " ~ hotcold_lit("SELECT attname::text AS name FROM pg_attribute WHERE attrelid = "
        ~ hotcold_lit(hot_relation_pg(spec)) ~ "::regclass AND attnum > 0 AND NOT attisdropped AND attnotnull AND attgenerated = ''") ~ ")") | map(attribute='name') | list -%}
  {%- else -%}
    {%- set s = hotcold_settings() -%}
    {%- set not_null = hotcold_rows("select column_name as name from information_schema.columns where table_catalog = 'hot' and table_schema = " ~ hotcold_lit(s.hot_schema)
        ~ " and table_name = " ~ hotcold_lit(spec.name) ~ " and is_nullable = 'NO'") | map(attribute='name') | list -%}
  {%- endif -%}
  {%- set out = [] -%}
  {%- for c in columns -%}
    {%- set p = pg.get(c.column_name) -%}
    {%- set r = hotcold_csv_read('$raw', c.column_type | upper, p) -%}
    {%- do r.update({'name': c.column_name, 'not_null': c.column_name in not_null}) -%}
    {%- do out.append(r) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- How PostgreSQL's input function for the column reads field v, as a DuckDB expression of
    the lake's type `t`; `p` is the hot column (hot_lake_plan) on a PostgreSQL hot store. -#}
{% macro hotcold_csv_read(v, t, p) %}
  {%- set ws = '[ \\t\\n\\r\\f\\v]' -%}
  {%- set number = '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)' -%}
  {%- set base = p.base if p else '' -%}
  {%- set judged = p is not none and (p.sent.endswith('::text') or p.type != p.base) -%}
  {%- set pg = {'type': p.type, 'base': base, 'sent_as_text': p.sent.endswith('::text')} if judged else none -%}
  {%- set hint = {
      'int': ": PostgreSQL's COPY reads an optional sign and decimal digits, spaces around (not 1.0, 1e3, 0x10 or 1_000), within the type's range",
      'float': ": PostgreSQL's COPY reads decimal digits with an optional sign, point and exponent, NaN or Infinity, within the type's range (hotcold does not read hex floats: write the number in decimal)",
      'bool': ": PostgreSQL's COPY reads t, true, y, yes, on, 1, f, false, n, no, off, 0 (any case, spaces around)",
      'time': ": hotcold reads what PostgreSQL's COPY reads as YYYY-MM-DD, then optionally a time (HH:MM[:SS[.fraction]], after T or a space) and an offset (Z, UTC, GMT, +HH, +HH:MM, +HHMM), or infinity, -infinity, epoch; write month names, time zone names, BC years and other forms that way",
  } -%}
  {%- if p is not none and p.sent.endswith('::text') -%}
    {#- Kept in the lake as PostgreSQL's own text of the value: PostgreSQL reads it
        (hotcold_csv_pg_check), and its text replaces the field's. -#}
    {{ return({'value': v, 'pre': none, 'why': hotcold_lit(""), 'pg': pg}) }}
  {%- elif t in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT') -%}
    {#- DuckDB alone would read 1.5, 1e3, 0x10 and 1_000 too (the first as 2). -#}
    {{ return({'value': "case when regexp_full_match(" ~ v ~ ", " ~ hotcold_lit(ws ~ '*[+-]?[0-9]+' ~ ws ~ '*') ~ ") then try_cast(hc_csv_trim(" ~ v ~ ") as " ~ t ~ ") end",
               'pre': none, 'why': hotcold_lit(", which is not " ~ ('an ' if t[0] in 'IU' else 'a ') ~ t ~ hint.int), 'pg': pg}) }}
  {%- elif t.startswith('DECIMAL') -%}
    {#- numeric_in: rounded half away from zero to the scale (DuckDB's cast of the plain
        digits does that), within the precision. The lake's DECIMAL holds no NaN (PostgreSQL's
        numeric(p,s) does, and no Infinity). -#}
    {%- set scale = modules.re.match('^DECIMAL\\((\\d+),\\s*(\\d+)\\)$', t).group(2) -%}
    {{ return({'value': "case when regexp_full_match(" ~ v ~ ", " ~ hotcold_lit(ws ~ '*' ~ number ~ '([eE][+-]?[0-9]{1,4})?' ~ ws ~ '*') ~ ") then try_cast(hc_csv_plain($pre, " ~ scale ~ ") as " ~ t ~ ") end",
               'pre': "hc_csv_nparts(" ~ v ~ ")",
               'why': "case when hc_csv_special(" ~ v ~ ") in ('nan', '+nan', '-nan') then " ~ hotcold_lit(", which is NaN: the lake's " ~ t ~ " cannot hold it; leave the field empty (NULL), or make the column double precision")
                      ~ " else " ~ hotcold_lit(", which is not a " ~ t ~ ": PostgreSQL's COPY reads decimal digits with an optional sign, point and exponent, rounded to the scale, within the precision (and refuses Infinity)") ~ " end",
               'pg': pg}) }}
  {%- elif t in ('DOUBLE', 'FLOAT') -%}
    {{ return({'value': "case when regexp_full_match(" ~ v ~ ", " ~ hotcold_lit(ws ~ '*' ~ number ~ '([eE][+-]?[0-9]+)?' ~ ws ~ '*') ~ ") then hc_csv_finite(try_cast(hc_csv_trim(" ~ v ~ ") as " ~ t ~ "), " ~ v ~ ")"
                        ~ " when hc_csv_special(" ~ v ~ ") in ('nan', '+nan', '-nan') then 'nan'::" ~ t
                        ~ " when hc_csv_special(" ~ v ~ ") in ('inf', '+inf', 'infinity', '+infinity') then 'inf'::" ~ t
                        ~ " when hc_csv_special(" ~ v ~ ") in ('-inf', '-infinity') then '-inf'::" ~ t ~ " end",
               'pre': none, 'why': hotcold_lit(", which is not a " ~ t ~ hint.float), 'pg': pg}) }}
  {%- elif t == 'BOOLEAN' -%}
    {{ return({'value': "hc_csv_bool(" ~ v ~ ")", 'pre': none, 'why': hotcold_lit(", which is not a BOOLEAN" ~ hint.bool), 'pg': pg}) }}
  {%- elif t in ('DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') -%}
    {%- set n = "$pre" -%}
    {%- set special = "hc_csv_special(" ~ v ~ ")" -%}
    {%- if t == 'DATE' -%}
      {#- date_in checks the time and offset, then keeps the date alone (24:00 included). -#}
      {%- set parsed = "case when hc_csv_tok(" ~ n ~ ") then " ~ n ~ ".day end" -%}
      {%- set cast = "::DATE" -%}
    {%- else -%}
      {%- set local = "hc_csv_local(" ~ n ~ ")" -%}
      {%- set digits = modules.re.match('^timestamp\\((\\d)\\)', base) -%}
      {%- if digits and digits.group(1) | int < 6 -%}
        {%- set local = "make_timestamp(hc_csv_round_us(epoch_us(" ~ local ~ "), " ~ 10 ** (6 - digits.group(1) | int) ~ "))" -%}
      {%- endif -%}
      {#- timestamptz: the offset given, else UTC (hotcold's sessions run in UTC, as this
          COPY would); timestamp: PostgreSQL ignores an offset. -#}
      {%- if t == 'TIMESTAMP' -%}
        {%- set parsed = "case when hc_csv_tok(" ~ n ~ ") then " ~ local ~ " end" -%}
      {%- else -%}
        {%- set utc = "hc_csv_local(" ~ n ~ ") - hc_csv_offset(" ~ n ~ ")" -%}
        {%- if digits and digits.group(1) | int < 6 -%}
          {%- set utc = "make_timestamp(hc_csv_round_us(epoch_us(" ~ utc ~ "), " ~ 10 ** (6 - digits.group(1) | int) ~ "))" -%}
        {%- endif -%}
        {%- set parsed = "case when hc_csv_tok(" ~ n ~ ") then timezone('UTC', " ~ utc ~ ") end" -%}
      {%- endif -%}
      {%- set cast = "::TIMESTAMP" if t == 'TIMESTAMP' else "::TIMESTAMPTZ" -%}
    {%- endif -%}
    {%- set value = "case " ~ special ~ " when 'infinity' then 'infinity'" ~ cast ~ " when '-infinity' then '-infinity'" ~ cast
        ~ " when 'epoch' then " ~ ("DATE '1970-01-01'" if t == 'DATE' else "TIMESTAMP '1970-01-01'" if t == 'TIMESTAMP' else "TIMESTAMPTZ '1970-01-01 00:00:00+00'") ~ " else " ~ parsed ~ " end" -%}
    {{ return({'value': value, 'pre': "hc_csv_tnums(hc_csv_tparts(" ~ v ~ "))", 'why': hotcold_lit(", which is not a " ~ t ~ hint.time), 'pg': pg}) }}
  {%- elif t == 'VARCHAR' -%}
    {%- set n = modules.re.match('^character varying\\((\\d+)\\)$', base) -%}
    {%- if n -%}
      {#- varcharin: a longer value is refused, unless what is over the length is spaces,
          which are cut off. -#}
      {%- set n = n.group(1) | int -%}
      {{ return({'value': "case when length(" ~ v ~ ") <= " ~ n ~ " then " ~ v ~ " when ltrim(substr(" ~ v ~ ", " ~ (n + 1) ~ "), ' ') = '' then left(" ~ v ~ ", " ~ n ~ ") end",
                 'pre': none, 'why': "', which is longer than the " ~ n ~ " characters of " ~ base ~ " (PostgreSQL''s COPY refuses it: value too long)'", 'pg': pg}) }}
    {%- endif -%}
    {{ return({'value': v, 'pre': none, 'why': "''", 'pg': pg}) }}
  {%- elif t == 'BLOB' -%}
    {#- byteain: \x and hex digits, or text without a backslash as its bytes; the escape
        format (\ooo) is not read here. -#}
    {{ return({'value': "case when regexp_full_match(" ~ v ~ ", '\\\\x([0-9a-fA-F]{2})*') then from_hex(substr(" ~ v ~ ", 3)) when not contains(" ~ v ~ ", '\\') then encode(" ~ v ~ ") end",
               'pre': none, 'why': hotcold_lit(", which is not bytea as hotcold reads it: write \\x and two hex digits a byte"), 'pg': pg}) }}
  {%- else -%}
    {{ return({'value': "try_cast(" ~ v ~ " as " ~ t ~ ")", 'pre': none, 'why': hotcold_lit(", which is not a " ~ t), 'pg': pg}) }}
  {%- endif -%}
{% endmacro %}

{#- The columns PostgreSQL must judge: those the lake keeps as PostgreSQL's text (interval,
    jsonb, arrays, enums...), and domains (their CHECKs). Their distinct values go to the hot
    store, into a column of the table's own type (the typmod and the domain's checks apply on
    assignment, as in COPY); a value it refuses stops the backfill, and for the text-kept
    columns its text replaces the field's, so the lake holds what a rotation would. -#}
{% macro hotcold_csv_pg_check(spec, f, land, typed, cols) %}
  {%- set parts = [] -%}
  {%- for c in cols -%}
    {%- do parts.append("select " ~ loop.index ~ " as col, " ~ hotcold_q(c.name) ~ " as v, min(rowid) as first_row from " ~ land ~ " where " ~ hotcold_q(c.name) ~ " is not null group by all") -%}
  {%- endfor -%}
  {%- set table = 'csvcheck_' ~ spec.name -%}
  {%- set pg_table = 'hotcold.' ~ hotcold_q(table) -%}
  {%- do hotcold_pg_results_table("DROP TABLE IF EXISTS " ~ pg_table) -%}
  {%- do run_query("CALL pg_clear_cache()") -%}
  {%- do run_query("CREATE TABLE hot.hotcold." ~ hotcold_q(table) ~ " AS " ~ parts | join(' union all ')) -%}
  {%- do adapter.commit() -%}
  {%- set rel = hot_relation_pg(spec) -%}
  {%- set body = ["ALTER TABLE " ~ pg_table ~ " ADD COLUMN canon text, ADD COLUMN problem text;"] -%}
  {%- for c in cols -%}
    {#- Cast to the base type without its length: the assignment into the column then applies
        the length, the scale and the domain's checks as the type's input function does. -#}
    {%- set unsized = modules.re.sub('\\(\\d+(,\\d+)?\\)', '', c.pg.base) -%}
    {%- set unsized = modules.re.sub('^character(?! varying)', 'text', modules.re.sub('^bit(?! varying)', 'bit varying', unsized)) -%}
    {%- set t = 'hc_typed_' ~ loop.index -%}
    {%- set i = loop.index -%}
    {%- do body.append("CREATE TEMP TABLE " ~ t ~ " ON COMMIT DROP AS SELECT NULL::text AS v, " ~ hotcold_q(c.name) ~ " AS t FROM " ~ rel ~ " WHERE false;
      BEGIN
        INSERT INTO " ~ t ~ " SELECT v, v::" ~ unsized ~ " FROM " ~ pg_table ~ " WHERE col = " ~ i ~ ";
        UPDATE " ~ pg_table ~ " c SET canon = x.t::text FROM " ~ t ~ " x WHERE c.col = " ~ i ~ " AND c.v = x.v;
      EXCEPTION WHEN OTHERS THEN
        FOR r IN SELECT v FROM " ~ pg_table ~ " WHERE col = " ~ i ~ " ORDER BY first_row LOOP
          BEGIN
            INSERT INTO " ~ t ~ " SELECT r.v, r.v::" ~ unsized ~ ";
          EXCEPTION WHEN OTHERS THEN
            UPDATE " ~ pg_table ~ " SET problem = SQLERRM WHERE col = " ~ i ~ " AND v = r.v;
            EXIT;
          END;
        END LOOP;
      END;") -%}
  {%- endfor -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("DO $hc$ DECLARE r record; BEGIN " ~ body | join('\n') ~ " END $hc$") ~ ", use_transaction=false)", auto_begin=false) -%}
  {%- set judged = 'temp.hc_backfill_judged' -%}
  {%- do run_query("create or replace temp table hc_backfill_judged as select * from postgres_query('hot', " ~ hotcold_lit("SELECT col, v, canon, problem, first_row FROM " ~ pg_table) ~ ")") -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("DROP TABLE IF EXISTS " ~ pg_table) ~ ", use_transaction=false)", auto_begin=false) -%}
  {%- set bad = hotcold_rows("select col, v, problem, first_row from " ~ judged ~ " where problem is not null order by first_row limit 1") -%}
  {%- if bad -%}
    {%- set c = cols[bad[0].col - 1] -%}
    {{ exceptions.raise_compiler_error("backfill: " ~ f.name ~ ", " ~ hotcold_backfill_where(f, land, bad[0].first_row) ~ ": column '" ~ c.name ~ "' holds '" ~ bad[0].v[:60]
        ~ "', which PostgreSQL refuses for " ~ c.pg.type ~ ": " ~ bad[0].problem ~ ". Nothing was published or written; fix the file and re-run") }}
  {%- endif -%}
  {%- for c in cols -%}
    {%- if c.pg.sent_as_text -%}
      {%- set q = hotcold_q(c.name) -%}
      {%- do run_query("update " ~ typed ~ " t set " ~ q ~ " = j.canon from " ~ judged ~ " j where j.col = " ~ loop.index ~ " and t." ~ q ~ " = j.v") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do run_query("drop table " ~ judged) -%}
{% endmacro %}
