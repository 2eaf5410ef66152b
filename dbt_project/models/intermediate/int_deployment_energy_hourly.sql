-- One row per deployment and UTC hour: the GPU energy of the GPUs it ran on. On-prem: measured
-- (int_gpu_deployment_hours). Cloud without our telemetry: estimated from instance-hours and a power
-- model (int_cloud_gpu_usage_hourly), energy_method 'estimated'. A cloud hour in which the deployment
-- served no request, on a UTC day it served some (its request logs are loaded), is idle: its GPUs are
-- estimated at idle power (0 % utilization) and all of its GPU-hours count as low-utilization hours
-- (gpu_idle_waste). On a day without any of its requests nothing is known of its use: every hour is
-- estimated at var cloud_gpu_utilization_pct and none is counted idle.
-- Incremental by day over the run's span, as the fact that reads it: a daily run sums its own days'
-- GPU-hours, so its cost does not grow with the days kept (it was a full rebuild each run: 4 s on a
-- year at 1,000 GPUs, docs/benchmarks.md, round 17). Both inputs keep every day they built.
{{ config(**daily_incremental(cluster_by=['deployment_id'])) }}
{%- do require_incremental_key() %}
with hosts as (select * from {{ ref('stg_inventory__hosts') }}),

onprem as (
    select
        d.deployment_id,
        d.hour_utc,
        d.date_day,
        max(d.model_id)                          as model_id,
        max(d.owner_project_id)                  as owner_project_id,
        min(case when d.is_allocated then 1 else 0 end) = 1 as is_allocated,
        max(d.host)                              as host,
        max(h.site_id)                           as site_id,
        max(d.gpu_name)                          as gpu_name,
        count(distinct d.gpu_key)                as gpu_count,
        {{ stable_sum('d.gpu_energy_kwh') }}                    as gpu_energy_kwh,
        -- GPU-hours observed (interval seconds, gaps included): the base of hardware cost and embodied carbon
        {{ stable_sum('d.measured_s + d.gap_s') }} / 3600.0     as gpu_hours,
        -- GPU-hours whose mean utilization is below the idle threshold (var idle_utilization_pct); an
        -- hour without a utilization reading (optional in dcgm and Parquet input) is not known to be idle
        {%- set is_low_util = 'd.avg_utilization_gpu_pct < ' ~ var('idle_utilization_pct') %}
        {{ stable_sum('case when ' ~ is_low_util ~ ' then d.gpu_energy_kwh else 0 end') }} as low_util_gpu_energy_kwh,
        {{ stable_sum('case when ' ~ is_low_util ~ ' then (d.measured_s + d.gap_s) / 3600.0 else 0 end') }} as low_util_gpu_hours,
        {{ stable_sum('d.gap_s') }}                             as gap_s,
        {{ stable_avg('d.avg_utilization_gpu_pct') }} as avg_utilization_gpu_pct,
        case when min(d.energy_method) = max(d.energy_method) then min(d.energy_method) else 'mixed' end as energy_method
    from {{ ref('int_gpu_deployment_hours') }} d
    left join hosts h on h.host = d.host
    where {{ in_run_interval('d.date_day') }}
    group by d.deployment_id, d.hour_utc, d.date_day
),

deployments as (
    select deployment_id, min(model_id) as model_id, min(owner_project_id) as owner_project_id
    from {{ ref('stg_inventory__deployment_gpus') }}
    group by deployment_id
),

-- the cloud deployments' hours with requests, and the days with any (all models and projects)
served_hours as (
    select deployment_id, hour_utc, date_day
    from {{ ref('int_requests_hourly') }}
    where {{ in_run_interval('date_day') }} and requests > 0
    group by deployment_id, hour_utc, date_day
),

served_days as (
    select distinct deployment_id, date_day from served_hours
),

cloud_hours as (
    select
        u.*,
        cast(u.hour_utc as date)                 as date_day,
        sd.deployment_id is not null and sh.deployment_id is null as is_idle
    from {{ ref('int_cloud_gpu_usage_hourly') }} u
    left join served_days sd on sd.deployment_id = u.deployment_id and sd.date_day = cast(u.hour_utc as date)
    left join served_hours sh on sh.deployment_id = u.deployment_id and sh.hour_utc = u.hour_utc
    where {{ in_run_interval('cast(u.hour_utc as date)') }}
),

cloud as (
    select
        u.deployment_id,
        u.hour_utc,
        u.date_day,
        d.model_id,
        d.owner_project_id,
        true                                     as is_allocated,
        cast(null as {{ dbt.type_string() }})    as host,
        u.site_id,
        u.gpu_name,
        -- GPUs in use on average in the hour
        cast(round(u.gpu_hours) as {{ dbt.type_int() }}) as gpu_count,
        case when u.is_idle then u.gpu_energy_at_idle_kwh else u.gpu_energy_kwh end as gpu_energy_kwh,
        u.gpu_hours,
        case when u.is_idle then u.gpu_energy_at_idle_kwh else 0.0 end as low_util_gpu_energy_kwh,
        case when u.is_idle then u.gpu_hours else 0.0 end as low_util_gpu_hours,
        0.0                                      as gap_s,
        cast(case when u.is_idle then 0 else u.assumed_utilization_gpu_pct end as {{ type_double() }}) as avg_utilization_gpu_pct,
        'estimated'                              as energy_method
    from cloud_hours u
    join deployments d on d.deployment_id = u.deployment_id
)

select * from onprem
union all
select * from cloud
