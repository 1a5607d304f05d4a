{#- The lake's layout as the SQL side sees it: <root>/<table>/year=YYYY/month=MM/day=DD/<table>_YYYYMMDD.parquet -#}

{% macro lake_glob(spec) %}
  {{ return(hotcold_settings().lake_root ~ '/' ~ spec.name ~ '/year=*/month=*/day=*/*.parquet') }}
{% endmacro %}

{#- Every day file of a table, with year/month/day typed as integers from the folder names. -#}
{% macro lake_read(spec) %}
  {{ return("read_parquet(" ~ hotcold_lit(lake_glob(spec)) ~ ", hive_partitioning = true, union_by_name = true,"
      ~ " hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER})") }}
{% endmacro %}

{% macro lake_has_files(spec) %}
  {{ return(hotcold_scalar("select count(*) from glob(" ~ hotcold_lit(lake_glob(spec)) ~ ")") > 0) }}
{% endmacro %}
