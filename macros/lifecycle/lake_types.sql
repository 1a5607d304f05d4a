{#- What each hot column becomes in the lake, and the fingerprint both sides compute of it.

    A column reaches the lake either as itself (its type travels exactly through the postgres
    scanner, Arrow and Parquet) or as PostgreSQL's own text of the value (exact as text:
    `value::text::<type>` gives the value back). Every session hotcold opens on PostgreSQL
    renders text alike (hot_store.SESSION_SETTINGS: UTC, ISO dates, shortest exact floats).

    The fingerprint of a day is, per column, the count of non-NULL values and a sum that
    PostgreSQL computes from its own values in the very statement that sends the rows (so in
    the stage's snapshot), and that DuckDB computes again from the lake's files:
      bool, integers           sum of the values
      numeric(p,s), p <= 18    sum of the values (NaN or Infinity: refused by verify, by name)
      numeric(p,s), p 19-38    sum of hashtext of its text (DuckDB prints DECIMAL(p,s) as
                               PostgreSQL prints numeric(p,s): s decimals, no exponent);
                               a sum of values could overflow DuckDB's HUGEINT
      float4, float8           sum of hashfloat4/hashfloat8 (PostgreSQL's own hash of the
                               8 bytes of the double; hotcold.pipeline.pg_hash computes it on the lake),
                               plus 1 for each -0 (which hashfloat8 hashes as +0)
      text and all text-sent   sum of hashtext of the text (hotcold.pipeline.pg_hash again)
      bytea                    sum of hashtext of its hex
      date                     sum of days since 1970-01-01 (±infinity: ±10^12)
      timestamp(tz)            sum of timestamp_hash (PostgreSQL's hash of the stored
                               microseconds; hotcold.pipeline.pg_hash again)
    Sums are order-independent, so a merge, a re-encoding or a row order changes nothing;
    a changed, lost or added value changes its column's count or sum. -#}

{#- PostgreSQL base types (after domains) that travel as themselves, with their kind. -#}
{% macro hotcold_native_kind(base) %}
  {%- set m = modules.re.match('^numeric\\((\\d+),(\\d+)\\)$', base) -%}
  {#- Up to 18 digits, sums of the values fit DuckDB's HUGEINT for any number of rows; wider
      ones (to 38) are fingerprinted by the hash of their text, which both sides print alike. -#}
  {%- if m -%}{{ return(none if m.group(1) | int > 38 else 'decimal' if m.group(1) | int <= 18 else 'wide_decimal') }}{%- endif -%}
  {%- if base in ('boolean',) -%}{{ return('bool') }}{%- endif -%}
  {%- if base in ('smallint', 'integer', 'bigint') -%}{{ return('int') }}{%- endif -%}
  {%- if base == 'real' -%}{{ return('float4') }}{%- endif -%}
  {%- if base == 'double precision' -%}{{ return('float8') }}{%- endif -%}
  {%- if base == 'text' or base.startswith('character varying') -%}{{ return('text') }}{%- endif -%}
  {%- if base == 'bytea' -%}{{ return('bytes') }}{%- endif -%}
  {%- if base == 'date' -%}{{ return('date') }}{%- endif -%}
  {%- if modules.re.match('^timestamp(\\(\\d\\))? with(out)? time zone$', base) -%}{{ return('timestamp') }}{%- endif -%}
  {{ return(none) }}
{% endmacro %}

{#- [{name, type, base, sent, null_type, kind, pg_fp}] for the hot table's columns, in order:
    `sent` is the select expression that sends it, `null_type` the type of a NULL of the same
    shape (for the meta rows of the archival select), `pg_fp` PostgreSQL's fingerprint sum. -#}
{% macro hot_lake_plan(spec) %}
  {%- set cols = hot_table_columns(spec) -%}
  {%- set out = [] -%}
  {%- for c in cols -%}
    {%- set q = hotcold_q(c.name) -%}
    {%- set kind = hotcold_native_kind(c.base) -%}
    {%- if kind -%}
      {#- A domain reads as VARCHAR through the scanner: send its base type. -#}
      {%- set sent = q if c.type == c.base else q ~ '::' ~ c.base -%}
      {%- set null_type = c.base -%}
    {%- else -%}
      {%- set kind = 'text' -%}
      {%- set sent = q ~ '::text' -%}
      {%- set null_type = 'text' -%}
    {%- endif -%}
    {%- do c.update({'sent': sent, 'null_type': null_type, 'kind': kind, 'pg_fp': hotcold_pg_fingerprint(kind, q, sent)}) -%}
    {%- do out.append(c) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- The lake tells keys apart by their values as it holds them: for a key column sent as text,
    by the text. Refuse, before anything moves, a key column whose equal values PostgreSQL
    may write as different texts (numeric 1.0 = 1.00, interval '1 day' = '24 hours', a
    nondeterministic collation 'abc' = 'ABC'): a late row would sit in the lake twice. -#}
{% macro hotcold_check_key_types(spec, plan) %}
  {%- set canonical = modules.re.compile('^(uuid|macaddr8?|inet|cidr|bit( varying)?(\\(\\d+\\))?|character(\\(\\d+\\))?|name|"char"|time(\\(\\d\\))? with(out)? time zone|pg_lsn|oid|money|jsonb)$') -%}
  {%- for c in plan if c.name in spec.key -%}
    {%- if not c.deterministic -%}
      {{ exceptions.raise_compiler_error("table " ~ spec.name ~ ": key column '" ~ c.name ~ "' has a nondeterministic collation, under which values that differ in their bytes are equal ('abc' = 'ABC'), but the lake tells keys apart by their bytes;"
          ~ " key the table on a column with a deterministic collation (e.g. COLLATE C) in tables." ~ spec.name ~ ".key; nothing was moved") }}
    {%- endif -%}
    {%- if c.sent.endswith('::text') and c.base_kind != 'e' and not canonical.match(c.base) -%}
      {{ exceptions.raise_compiler_error("table " ~ spec.name ~ ": key column '" ~ c.name ~ "' is " ~ c.type ~ ", which the lake keeps as its exact text, and equal " ~ c.base
          ~ " values can have different texts (numeric 1.0 = 1.00, interval '1 day' = '24 hours'), so a late row could sit in the lake twice;"
          ~ " key the table on columns of other types in tables." ~ spec.name ~ ".key (numeric(p,s) with p <= 38 is kept as a number); nothing was moved") }}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}

{% macro hotcold_pg_fingerprint(kind, q, sent) %}
  {%- if kind in ('bool',) -%}{{ return("sum(" ~ q ~ "::int)") }}
  {%- elif kind in ('int', 'decimal') -%}{{ return("sum(" ~ sent ~ ")") }}
  {%- elif kind in ('float4', 'float8') -%}
    {#- hashfloat8 gives -0 the hash of +0: a negative zero adds 1, so a sign lost on the way shows. -#}
    {{ return("sum(hash" ~ kind ~ "(" ~ q ~ ")::int8 + (" ~ q ~ " = 0 AND " ~ q ~ "::text = '-0')::int)") }}
  {%- elif kind == 'wide_decimal' -%}{{ return("sum(hashtext(" ~ sent ~ "::text))") }}
  {%- elif kind == 'bytes' -%}{{ return("sum(hashtext(encode(" ~ q ~ ", 'hex')))") }}
  {%- elif kind == 'date' -%}
    {{ return("sum(CASE WHEN isfinite(" ~ sent ~ ") THEN (" ~ sent ~ " - DATE '1970-01-01')::numeric WHEN " ~ sent ~ " > DATE '1970-01-01' THEN 1e12 ELSE -1e12 END)") }}
  {%- elif kind == 'timestamp' -%}
    {#- The hash of the stored microseconds (±infinity included): a third of the cost of
        extract(epoch). A timestamptz cast to timestamp in a UTC session keeps them. -#}
    {{ return("sum(timestamp_hash((" ~ sent ~ ")::timestamp))") }}
  {%- else -%}{{ return("sum(hashtext(" ~ sent ~ " COLLATE \"C\"))") }}
  {%- endif -%}
{% endmacro %}

{#- DuckDB's fingerprint sum of lake column `q` of DuckDB type `type`, as DECIMAL(38, scale)
    (scale 0 but for DECIMAL columns), to compare with PostgreSQL's. -#}
{% macro lake_fingerprint(q, type) %}
  {%- set t = type | upper -%}
  {%- set m = modules.re.match('^DECIMAL\\((\\d+),\\s*(\\d+)\\)$', t) -%}
  {%- if m and m.group(1) | int <= 18 -%}{{ return("sum(" ~ q ~ ")::DECIMAL(38, " ~ m.group(2) ~ ")") }}
  {%- elif m -%}{%- set s = "sum(hc_pg_hashtext(" ~ q ~ "::VARCHAR))" -%}
  {%- elif t == 'BOOLEAN' -%}{%- set s = "sum(" ~ q ~ "::INTEGER)" -%}
  {%- elif t in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'HUGEINT') -%}{%- set s = "sum(" ~ q ~ "::HUGEINT)" -%}
  {%- elif t in ('FLOAT', 'DOUBLE') -%}
    {%- set s = "sum(hc_pg_hashfloat" ~ (4 if t == 'FLOAT' else 8) ~ "(" ~ q ~ ")::BIGINT + (" ~ q ~ " = 0 AND signbit(" ~ q ~ "))::INTEGER)" -%}
  {%- elif t == 'VARCHAR' -%}{%- set s = "sum(hc_pg_hashtext(" ~ q ~ "))" -%}
  {%- elif t == 'BLOB' -%}{%- set s = "sum(hc_pg_hashtext(lower(hex(" ~ q ~ "))))" -%}
  {%- elif t == 'DATE' -%}
    {%- set s = "sum(CASE WHEN isfinite(" ~ q ~ ") THEN (" ~ q ~ " - DATE '1970-01-01')::HUGEINT WHEN " ~ q ~ " > DATE '1970-01-01' THEN 1000000000000::HUGEINT ELSE -1000000000000::HUGEINT END)" -%}
  {%- elif t == 'TIMESTAMP' -%}{%- set s = "sum(hc_pg_timestamp_hash(" ~ q ~ "))" -%}
  {%- elif t == 'TIMESTAMP WITH TIME ZONE' -%}{%- set s = "sum(hc_pg_timestamptz_hash(" ~ q ~ "))" -%}
  {%- else -%}{%- set s = "sum(hc_pg_hashtext(" ~ q ~ "::VARCHAR))" -%}
  {%- endif -%}
  {{ return(s ~ "::DECIMAL(38, 0)") }}
{% endmacro %}

{#- The scale lake_fingerprint compares a column of DuckDB type `type` at. -#}
{% macro lake_fingerprint_scale(type) %}
  {%- set m = modules.re.match('^DECIMAL\\((\\d+),\\s*(\\d+)\\)$', type | upper) -%}
  {{ return(m.group(2) | int if m and m.group(1) | int <= 18 else 0) }}
{% endmacro %}

{#- The PostgreSQL text of one meta row per day: 'fp|<day>|<rows>|<count>|<sum>|...', one
    count and sum per column of `plan`, in order. Built with || (no argument limit, unlike
    json_build_array), from aggregates only, so it costs one pass over the aged rows. -#}
{% macro hotcold_pg_fingerprint_row(plan, day_expr) %}
  {%- set parts = ["'fp|' || to_char(" ~ day_expr ~ ", 'YYYY-MM-DD') || '|' || count(*)"] -%}
  {%- for c in plan -%}
    {%- do parts.append("'|' || count(" ~ hotcold_q(c.name) ~ ") || '|' || coalesce((" ~ c.pg_fp ~ ")::text, '')") -%}
  {%- endfor -%}
  {{ return(parts | join(' || ')) }}
{% endmacro %}

{#- The UTC day of a row, in PostgreSQL, for the time column's base type: what the meta rows
    group by (a date: grouping by its text instead cost a to_char per row, 60% of a scan). -#}
{% macro hotcold_pg_day(plan, time_column) %}
  {%- set c = (plan | selectattr('name', 'equalto', time_column) | list)[0] -%}
  {%- set q = hotcold_q(c.name) -%}
  {%- if 'with time zone' in c.base -%}{{ return("(" ~ q ~ " AT TIME ZONE 'UTC')::date") }}
  {%- elif c.base == 'date' -%}{{ return(q) }}
  {%- else -%}{{ return(q ~ "::date") }}
  {%- endif -%}
{% endmacro %}
