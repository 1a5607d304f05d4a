{{ config(materialized='hotcold_step', step='stage') }}
select * from _hotcold.step_log where run_id = '{{ invocation_id }}' and step = 'stage'
