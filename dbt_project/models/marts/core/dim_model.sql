-- One row per model served, described by the inventory where it says more.
with seen as (
    select model_id from {{ ref('stg_inventory__deployment_gpus') }}
    union
    select model_id from {{ ref('int_requests_hourly') }}
    union
    select 'unallocated'
)
select s.model_id, m.family, m.parameters_billion, m.tier
from seen s
left join {{ ref('stg_inventory__models') }} m on m.model_id = s.model_id
