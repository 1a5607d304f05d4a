{{ config(materialized='hotcold_step', step='export') }}
-- depends_on: {{ ref('hotcold_stage_write') }}
select * from _hotcold.export_days where run_id = '{{ invocation_id }}'
