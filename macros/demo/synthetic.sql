{#- Realistic synthetic data for the four data types, written into the hot store, so the
    demo and the tests exercise every table on either kind of hot store. Deterministic for
    a given seed. Existing tables of the same names are replaced. -#}
{% macro hotcold_demo_data(symbols=200, years=3, as_of=none, seed=42) %}
  {%- for arg, v in {'symbols': symbols, 'years': years, 'seed': seed}.items() -%}
    {%- if v is not number or v < 0 or (arg != 'seed' and v < 1) -%}
      {{ exceptions.raise_compiler_error("hotcold_demo_data: " ~ arg ~ " must be a positive number, got " ~ v) }}
    {%- endif -%}
  {%- endfor -%}
  {%- set end_day = (hot_window_cutoff(as_of=as_of, hot_days=1)[:10]) -%}
  {%- set start = "(date " ~ hotcold_lit(end_day) ~ " + 1 - interval " ~ hotcold_lit((years * 365) ~ ' days') ~ ")::date" -%}
  {%- set last = "(date " ~ hotcold_lit(end_day) ~ " + 1)" -%}
  {%- do run_query("select setseed(" ~ (seed % 1000) / 1000.0 ~ ")") -%}
  {%- set syms = "(select 'SYM' || lpad(i::varchar, 4, '0') as symbol, 20 + (i * 37) % 480 as base from range(" ~ symbols ~ ") t(i))" -%}
  {%- set tables = {
    'market_data': {
      'ddl': "symbol text not null, interval text not null, ts timestamptz not null, open double precision, high double precision, low double precision, close double precision, volume bigint, vwap numeric(18,6), primary key (symbol, interval, ts)",
      'rows': "select symbol, iv as interval, ts, o as open, greatest(o, c) * (1 + r / 50) as high, least(o, c) * (1 - r / 50) as low, c as close, (1000 + r * 100000)::bigint as volume, ((o + c) / 2)::numeric(18,6) as vwap from ("
        ~ " select s.symbol, v.iv, v.ts, s.base * (1 + sin(epoch(v.ts) / 864000 + s.base) / 10) as o, s.base * (1 + sin(epoch(v.ts) / 864000 + s.base + 0.1) / 10) as c, random() as r"
        ~ " from " ~ syms ~ " s, (select '1day' as iv, d::timestamptz as ts from range(" ~ start ~ ", " ~ last ~ ", interval 1 day) t(d) where isodow(d) <= 5"
        ~ " union all select '1hour', d::timestamptz from range(" ~ last ~ " - interval 60 day, " ~ last ~ ", interval 1 hour) t(d) where isodow(d) <= 5 and hour(d) between 14 and 20"
        ~ " union all select '1min', d::timestamptz from range(" ~ last ~ " - interval 3 day, " ~ last ~ ", interval 1 minute) t(d) where isodow(d) <= 5 and hour(d) between 14 and 20) v"
        ~ " where v.iv <> '1min' or s.base % 10 = 0)"},
    'news': {
      'ddl': "id bigint primary key, published_at timestamptz not null, symbol text, source text, headline text, body text, sentiment double precision, tags jsonb",
      'rows': "select i as id, " ~ start ~ "::timestamptz + interval 1 minute * (i * 797 % (" ~ years * 365 * 1440 ~ ")) as published_at, 'SYM' || lpad((i % " ~ symbols ~ ")::varchar, 4, '0') as symbol,"
        ~ " ['wire', 'blog', 'filing'][1 + i % 3] as source, 'Headline ' || i || ': résumé of Q' || (1 + i % 4) || ' / outlook' as headline, repeat('lorem ipsum ', 1 + i % 20) as body,"
        ~ " case when i % 97 = 0 then null else sin(i) end as sentiment, ('{\"k\": ' || i % 7 || ', \"tags\": [\"earnings\", \"q' || (1 + i % 4) || '\"]}') as tags from range(" ~ years * 365 * 8 ~ ") t(i)"},
    'features': {
      'ddl': "symbol text not null, feature text not null, ts timestamptz not null, value double precision, primary key (symbol, feature, ts)",
      'rows': "select s.symbol, f.feature, d::timestamptz as ts, sin(epoch(d) / 86400 + s.base) * f.scale + random() as value from " ~ syms ~ " s,"
        ~ " (values ('rsi_14', 50.0), ('vol_20d', 0.3)) f(feature, scale), range(" ~ start ~ ", " ~ last ~ ", interval 1 day) t(d) where isodow(d) <= 5"},
    'social_sentiment': {
      'ddl': "symbol text not null, source text not null, ts timestamptz not null, mentions integer, score double precision, primary key (symbol, source, ts)",
      'rows': "select s.symbol, src.source, d::timestamptz as ts, (random() * 500)::integer as mentions, random() * 2 - 1 as score from " ~ syms ~ " s,"
        ~ " (values ('reddit'), ('x')) src(source), range(" ~ start ~ ", " ~ last ~ ", interval 1 day) t(d)"},
  } -%}
  {%- for name, t in tables.items() -%}
    {%- do hot_dispatch('replace_table')(name, t.ddl, t.rows) -%}
    {%- do log("hotcold demo: filled " ~ name, info=true) -%}
  {%- endfor -%}
{% endmacro %}

{% macro hotcold_replace_table__postgres(name, ddl, rows) %}
  {%- set rel = hot_relation_pg({'name': name}) -%}
  {%- do run_query("CALL postgres_execute('hot', " ~ hotcold_lit("DROP TABLE IF EXISTS " ~ rel ~ "; CREATE TABLE " ~ rel ~ " (" ~ ddl ~ ")") ~ ", use_transaction=false)") -%}
  {%- do run_query("CALL pg_clear_cache()") -%}
  {%- do run_query("insert into hot." ~ hotcold_q(hotcold_settings().hot_schema) ~ "." ~ hotcold_q(name) ~ " " ~ rows) -%}
  {%- do adapter.commit() -%}
  {%- do adapter.execute("CALL postgres_execute('hot', " ~ hotcold_lit("ANALYZE " ~ rel) ~ ", use_transaction=false)", auto_begin=false) -%}
{% endmacro %}

{% macro hotcold_replace_table__duckdb(name, ddl, rows) %}
  {%- set rel = "hot." ~ hotcold_q(hotcold_settings().hot_schema) ~ "." ~ hotcold_q(name) -%}
  {%- do run_query("create or replace table " ~ rel ~ " (" ~ ddl.replace('jsonb', 'json') ~ "); insert into " ~ rel ~ " " ~ rows) -%}
  {%- do adapter.commit() -%}
{% endmacro %}
