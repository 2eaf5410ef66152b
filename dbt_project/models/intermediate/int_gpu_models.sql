-- One row per GPU model name (as GPUs report it) seen in telemetry, the inventory or a cloud GPU
-- instance, machine type or VM size we recognise (AWS, GCP, Azure), with its reference specs: the longest matching gpu_specs pattern wins.
-- Embodied emissions and purchase price are amortized straight-line over the GPU's life (8,760 h a year).
with names as (
    select distinct gpu_name from {{ ref('int_gpu_energy_hourly') }} where gpu_name is not null
    union distinct
    select distinct gpu_name from {{ ref('stg_inventory__hosts') }} where gpu_name is not null
    union distinct
    select distinct gpu_name from {{ ref('aws_gpu_instances') }}
    union distinct
    select distinct gpu_name from {{ ref('gcp_gpu_machine_types') }}
    union distinct
    select distinct gpu_name from {{ ref('azure_gpu_vm_sizes') }}
),
matched as (
    select n.gpu_name, s.*,
           row_number() over (partition by n.gpu_name order by length(s.name_pattern) desc) as rank_
    from names n
    left join {{ ref('gpu_specs') }} s on n.gpu_name like s.name_pattern
)
select
    gpu_name                               as hardware_id,
    gpu_name,
    gpu_model,
    vendor,
    architecture,
    memory_gb,
    tdp_w,
    idle_w,
    embodied_kgco2e,
    lifetime_years,
    purchase_usd,
    embodied_kgco2e / (lifetime_years * 8760)   as embodied_kgco2e_per_gpu_hour,
    purchase_usd / (lifetime_years * 8760)      as amortized_usd_per_gpu_hour,
    tdp_source,
    idle_source,
    embodied_source,
    cost_source
from matched
where rank_ = 1
