{{ config(**daily_incremental(cluster_by=['deployment_id', 'project_id', 'model_id'])) }}

-- One row per UTC hour x deployment x model x project.
-- A deployment-hour's GPU energy is split across the (model, project) rows that sent requests in
-- that hour by their share of weighted tokens (by request count when no row has tokens). A
-- deployment-hour with energy and no requests keeps its energy as idle energy of the deployment's
-- owning project. Requests in an hour without telemetry carry zero energy ('no_telemetry').
-- So sum(gpu_energy_kwh) here equals the measured total in int_gpu_energy_hourly (tested).
-- Every row is about one hour, so each input is read for the run's days only (the filter at the end
-- alone would have every input read in full: the build would grow with the days kept).
with energy as (
    select * from {{ ref('int_deployment_energy_hourly') }}
    where {{ in_run_interval('date_day') }}
),

costs as (
    select * from {{ ref('int_deployment_costs_hourly') }}
    where {{ in_run_interval('cast(hour_utc as date)') }}
),

grid_intensity as (
    select * from {{ ref('int_site_hour_grid_intensity') }}
    where {{ in_run_interval('date_day') }}
),

requests as (
    select
        r.*,
        {{ stable_sum('weighted_tokens', over='partition by hour_utc, deployment_id') }} as deployment_weighted_tokens,
        sum(requests) over (partition by hour_utc, deployment_id)        as deployment_requests
    from {{ ref('int_requests_hourly') }} r
    where {{ in_run_interval('r.date_day') }}
),

deployments as (
    select deployment_id, min(owner_project_id) as owner_project_id, min(model_id) as model_id, min(host) as host
    from {{ ref('stg_inventory__deployment_gpus') }}
    group by deployment_id
),

with_requests as (
    select
        r.hour_utc, r.deployment_id, r.model_id, r.project_id,
        r.requests, r.successful_requests, r.failed_requests, r.completed_tasks,
        r.prompt_tokens, r.completion_tokens, r.cached_prompt_tokens, r.weighted_tokens,
        r.total_latency_ms,
        case
            when r.deployment_weighted_tokens > 0 then {{ stable_value('r.weighted_tokens') }} / r.deployment_weighted_tokens
            else cast(r.requests as {{ type_double() }}) / r.deployment_requests
        end as energy_share,
        false as is_idle
    from requests r
),

-- deployment-hours with energy or cost and no requests
unserved as (
    select hour_utc, deployment_id from energy
    union distinct
    select hour_utc, deployment_id from costs
),

idle as (
    select
        u.hour_utc, u.deployment_id, coalesce(e.model_id, d.model_id) as model_id,
        coalesce(e.owner_project_id, d.owner_project_id) as project_id,
        0 as requests, 0 as successful_requests, 0 as failed_requests, 0 as completed_tasks,
        0 as prompt_tokens, 0 as completion_tokens, 0 as cached_prompt_tokens, 0 as weighted_tokens,
        0 as total_latency_ms,
        1.0 as energy_share,
        true as is_idle
    from unserved u
    left join energy e on e.hour_utc = u.hour_utc and e.deployment_id = u.deployment_id
    left join deployments d on d.deployment_id = u.deployment_id
    where not exists (
        select 1 from requests r where r.hour_utc = u.hour_utc and r.deployment_id = u.deployment_id
    )
),

rows_ as (
    select * from with_requests
    union all
    select * from idle
),

sites as (select * from {{ ref('int_sites') }}),
hosts as (select * from {{ ref('stg_inventory__hosts') }}),
hardware as (select * from {{ ref('int_gpu_models') }})

select
    {{ dbt.hash(dbt.concat(["cast(x.hour_utc as " ~ dbt.type_string() ~ ")", "'|'", "x.deployment_id", "'|'", "x.model_id", "'|'", "x.project_id"])) }} as fact_key,
    x.hour_utc,
    cast(x.hour_utc as date)                                            as date_day,
    x.deployment_id,
    x.model_id,
    x.project_id,
    coalesce(e.site_id, h.site_id)                                      as site_id,
    coalesce(e.gpu_name, h.gpu_name)                                    as gpu_name,
    e.gpu_count,
    x.is_idle,
    x.requests,
    x.successful_requests,
    x.failed_requests,
    x.completed_tasks,
    x.prompt_tokens,
    x.completion_tokens,
    x.cached_prompt_tokens,
    x.prompt_tokens + x.completion_tokens                               as total_tokens,
    x.weighted_tokens,
    x.energy_share,
    coalesce(e.gpu_energy_kwh, 0) * x.energy_share                      as gpu_energy_kwh,
    coalesce(e.gpu_energy_kwh, 0) * x.energy_share * s.pue              as facility_energy_kwh,
    s.pue,
    gi.gco2e_per_kwh_location,
    gi.gco2e_per_kwh_market,
    case when e.gpu_energy_kwh is null then 0 else
        {{ grams_to_kg('e.gpu_energy_kwh * x.energy_share * s.pue * gi.gco2e_per_kwh_location') }} end as carbon_kgco2e_location,
    case when e.gpu_energy_kwh is null then 0 else
        {{ grams_to_kg('e.gpu_energy_kwh * x.energy_share * s.pue * gi.gco2e_per_kwh_market') }} end   as carbon_kgco2e_market,
    gi.intensity_source,
    gi.market_basis,
    coalesce(e.gpu_hours, 0) * x.energy_share                           as gpu_hours,
    coalesce(e.low_util_gpu_hours, 0) * x.energy_share                  as low_util_gpu_hours,
    coalesce(e.low_util_gpu_energy_kwh, 0) * x.energy_share             as low_util_gpu_energy_kwh,
    -- embodied emissions of the GPUs, amortized per GPU-hour over their life (SCI's M)
    coalesce(e.gpu_hours * hw.embodied_kgco2e_per_gpu_hour, 0) * x.energy_share as embodied_kgco2e,
    coalesce(c.hardware_cost_usd, 0) * x.energy_share                   as hardware_cost_usd,
    coalesce(c.energy_cost_usd, 0) * x.energy_share                     as energy_cost_usd,
    coalesce(c.cloud_cost_usd, 0) * x.energy_share                      as cloud_cost_usd,
    coalesce(c.cost_usd, 0) * x.energy_share                            as cost_usd,
    x.total_latency_ms,
    {{ safe_divide('x.total_latency_ms', 'x.requests') }}              as avg_latency_ms,
    e.avg_utilization_gpu_pct,
    coalesce(e.energy_method, 'no_telemetry')                           as energy_method,
    coalesce(e.is_allocated, true)                                      as is_allocated
from rows_ x
left join energy e on e.hour_utc = x.hour_utc and e.deployment_id = x.deployment_id
left join deployments d on d.deployment_id = x.deployment_id
left join hosts h on h.host = coalesce(e.host, d.host)
left join sites s on s.site_id = coalesce(e.site_id, h.site_id)
left join grid_intensity gi
  on gi.site_id = s.site_id and gi.hour_utc = x.hour_utc
left join costs c on c.deployment_id = x.deployment_id and c.hour_utc = x.hour_utc
left join hardware hw on hw.hardware_id = e.gpu_name
where {{ in_run_interval('cast(x.hour_utc as date)') }}
