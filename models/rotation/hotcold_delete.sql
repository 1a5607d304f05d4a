{{ config(materialized='hotcold_step', step='delete') }}
-- depends_on: {{ ref('hotcold_publish') }}
select * from _hotcold.step_log where run_id = '{{ invocation_id }}' and step = 'delete'
