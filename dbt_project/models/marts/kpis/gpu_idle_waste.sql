{{ config(**daily_incremental(cluster_by=['deployment_id'])) }}

-- One row per UTC day x deployment (unallocated GPUs included: all of their energy is waste).
-- A GPU-hour is idle when its mean utilization is below var idle_utilization_pct (default 10 %); a
-- cloud GPU-hour without telemetry, when its deployment served no request in the hour on a day it
-- served some (int_deployment_energy_hourly).
-- idle_gpu_energy_kwh  = GPU energy of idle GPU-hours;  idle_facility_energy_kwh = x PUE
-- idle_cost_usd        = (hardware cost + cloud cost) x idle GPU-hours / GPU-hours + energy cost x idle energy / energy
-- idle_energy_share_pct = idle_gpu_energy_kwh / gpu_energy_kwh x 100
with rows_ as (
    select
        date_day, deployment_id, is_allocated,
        gpu_hours, gpu_energy_kwh, pue,
        low_util_gpu_hours, low_util_gpu_energy_kwh,
        (coalesce(hardware_cost_usd, 0) + coalesce(cloud_cost_usd, 0)) * {{ safe_divide('low_util_gpu_hours', 'gpu_hours') }} as idle_capacity_cost_usd,
        energy_cost_usd * {{ safe_divide('low_util_gpu_energy_kwh', 'gpu_energy_kwh') }} as idle_energy_cost_usd
    from {{ ref('inference_energy_fact') }}
    where {{ in_run_interval('date_day') }}
)
select
    date_day,
    deployment_id,
    is_allocated,
    {{ stable_sum('gpu_hours') }}                                       as gpu_hours,
    {{ stable_sum('low_util_gpu_hours') }}                              as idle_gpu_hours,
    {{ stable_sum('gpu_energy_kwh') }}                                  as gpu_energy_kwh,
    {{ stable_sum('low_util_gpu_energy_kwh') }}                         as idle_gpu_energy_kwh,
    {{ stable_sum('low_util_gpu_energy_kwh * pue') }}                   as idle_facility_energy_kwh,
    {{ stable_sum('coalesce(idle_capacity_cost_usd, 0) + coalesce(idle_energy_cost_usd, 0)') }} as idle_cost_usd,
    {{ safe_divide(stable_sum('low_util_gpu_energy_kwh') ~ ' * 100.0', stable_sum('gpu_energy_kwh')) }} as idle_energy_share_pct
from rows_
group by date_day, deployment_id, is_allocated
