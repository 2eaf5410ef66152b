{{ config(**table_layout(cluster_by=['usage_month', 'project_id', 'deployment_id'])) }}

-- One row per usage month, GCP project and deployment (NULL: GCP's carbon we could not attribute)
-- with GCP's reported carbon (allocated by gcp_carbon_allocated_daily's rule), our estimate, or both.
-- reported_*: GCP's Carbon Footprint by scope. Our estimate is operational electricity only
--   (estimated GPU energy x GCP PUE x the region's grid factor, location-based), so it compares
--   with scope 2: difference_kgco2e_location = estimated - reported scope 2 location-based,
--   ratio_location = estimated / reported scope 2 location-based (market-based alike). Scope 1
--   and 3 (embodied, upstream) are GCP's alone. has_both says whether the row can be compared.
with reported as (
    select
        usage_month, project_id, deployment_id,
        {{ stable_sum('scope1_kgco2e') }}                    as reported_scope1_kgco2e,
        {{ stable_sum('scope2_location_kgco2e') }}           as reported_scope2_location_kgco2e,
        {{ stable_sum('scope2_market_kgco2e') }}             as reported_scope2_market_kgco2e,
        {{ stable_sum('scope3_kgco2e') }}                    as reported_scope3_kgco2e,
        {{ stable_sum('reported_total_location_kgco2e') }}   as reported_total_location_kgco2e,
        {{ stable_sum('reported_total_market_kgco2e') }}     as reported_total_market_kgco2e
    from {{ ref('gcp_carbon_allocated_daily') }}
    group by 1, 2, 3
),

deployment_projects as (
    select distinct deployment_id, account_id as project_id
    from {{ ref('int_cloud_gpu_usage_hourly') }}
    where provider = 'gcp'
),

estimated as (
    select
        {{ month_label('f.date_day') }}      as usage_month,
        p.project_id,
        f.deployment_id,
        {{ stable_sum('f.carbon_kgco2e_location') }}        as estimated_kgco2e_location,
        {{ stable_sum('f.carbon_kgco2e_market') }}          as estimated_kgco2e_market,
        {{ stable_sum('f.gpu_energy_kwh') }}                as estimated_gpu_energy_kwh,
        {{ stable_sum('f.facility_energy_kwh') }}           as estimated_facility_energy_kwh
    from {{ ref('inference_energy_fact') }} f
    join deployment_projects p on p.deployment_id = f.deployment_id
    group by 1, 2, 3
)

select
    coalesce(r.usage_month, e.usage_month)                           as usage_month,
    coalesce(r.project_id, e.project_id)                             as project_id,
    coalesce(r.deployment_id, e.deployment_id)                       as deployment_id,
    r.reported_scope1_kgco2e,
    r.reported_scope2_location_kgco2e,
    r.reported_scope2_market_kgco2e,
    r.reported_scope3_kgco2e,
    r.reported_total_location_kgco2e,
    r.reported_total_market_kgco2e,
    e.estimated_kgco2e_location,
    e.estimated_kgco2e_market,
    e.estimated_gpu_energy_kwh,
    e.estimated_facility_energy_kwh,
    r.usage_month is not null and e.usage_month is not null          as has_both,
    e.estimated_kgco2e_location - r.reported_scope2_location_kgco2e  as difference_kgco2e_location,
    {{ safe_divide('e.estimated_kgco2e_location', 'r.reported_scope2_location_kgco2e') }} as ratio_location,
    {{ safe_divide('e.estimated_kgco2e_market', 'r.reported_scope2_market_kgco2e') }}     as ratio_market
from reported r
full outer join estimated e
  on e.usage_month = r.usage_month and e.project_id = r.project_id and e.deployment_id = r.deployment_id
