-- One row per GPU and UTC hour, with the deployment the GPU served in that hour. GPUs that no
-- deployment lists get the host's pseudo-deployment 'unallocated@<host>', so no energy is dropped.
-- Incremental by day, like the hourly energy it reads.
{{ config(**daily_incremental(cluster_by=['gpu_key'])) }}
with gpu_hours as (
    select * from {{ ref('int_gpu_energy_hourly') }}
    where {{ in_run_interval('date_day', 'usage') }}
),

assignments as (
    select * from {{ ref('stg_inventory__deployment_gpus') }}
),

matched as (
    select
        g.gpu_key, g.hour_utc,
        a.deployment_id, a.model_id, a.owner_project_id
    from gpu_hours g
    join assignments a
      on a.host = g.host
     and (a.gpu_ref = cast(g.gpu_index as {{ dbt.type_string() }}) or a.gpu_ref = g.gpu_uuid)
     and g.hour_utc >= a.valid_from_utc
     and (a.valid_to_utc is null or g.hour_utc < a.valid_to_utc)
)

select
    g.*,
    coalesce(m.deployment_id, 'unallocated@' || g.host)  as deployment_id,
    coalesce(m.model_id, 'unallocated')                  as model_id,
    coalesce(m.owner_project_id, 'unallocated')          as owner_project_id,
    m.deployment_id is not null                          as is_allocated
from gpu_hours g
left join matched m on m.gpu_key = g.gpu_key and m.hour_utc = g.hour_utc
