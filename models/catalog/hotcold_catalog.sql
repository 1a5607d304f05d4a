{{ config(materialized='hotcold_step', step='catalog', tags=['catalog']) }}
select * from _hotcold.catalog_views
