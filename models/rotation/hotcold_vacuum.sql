{{ config(materialized='hotcold_step', step='vacuum') }}
-- depends_on: {{ ref('hotcold_delete') }}
select * from _hotcold.step_log where run_id = '{{ invocation_id }}' and step = 'vacuum'
