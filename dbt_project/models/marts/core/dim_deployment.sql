-- One row per deployment, plus one 'unallocated@<host>' row per host whose GPUs served no deployment.
{{ config(**table_layout(cluster_by=['deployment_id'])) }}
with listed as (
    select
        deployment_id,
        min(provider)                     as provider,
        min(model_id)                     as model_id,
        min(owner_project_id)             as owner_project_id,
        min(host)                         as host,
        count(distinct gpu_ref)           as gpu_count,
        min(valid_from_utc)               as valid_from_utc,
        max(valid_to_utc)                 as valid_to_utc,
        true                              as is_allocated
    from {{ ref('stg_inventory__deployment_gpus') }}
    group by deployment_id
),
unallocated as (
    select distinct
        deployment_id, 'onprem' as provider, 'unallocated' as model_id, 'unallocated' as owner_project_id, host,
        cast(null as integer) as gpu_count, cast(null as timestamp) as valid_from_utc,
        cast(null as timestamp) as valid_to_utc, false as is_allocated
    from {{ ref('int_deployment_energy_hourly') }}
    where not is_allocated
),
all_ as (select * from listed union all select * from unallocated)
select a.*, h.site_id, h.gpu_name as hardware_id
from all_ a
left join {{ ref('stg_inventory__hosts') }} h on h.host = a.host
