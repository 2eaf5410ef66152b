-- One row per model served, described by the inventory where it says more.
{{ config(**table_layout(cluster_by=['model_id'])) }}
with seen as (
    select model_id from {{ ref('stg_inventory__deployment_gpus') }}
    union distinct
    select model_id from {{ ref('int_requests_hourly') }}
    union distinct
    select 'unallocated'
)
select s.model_id, m.family, m.parameters_billion, m.tier
from seen s
left join {{ ref('stg_inventory__models') }} m on m.model_id = s.model_id
