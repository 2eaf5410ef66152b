{{ config(materialized='view', schema='reporting') }}

-- One row per UTC day x project x service x model: where the carbon comes from.
-- service_name = the deployment that served the requests (the service a project buys: one model on
-- a set of GPUs at one site or cloud region); service_provider_name = its provider (dim_deployment:
-- onprem, aws, ...). The marts carry no FOCUS ServiceName (that lives in int_charges, which
-- reporting does not read): a deployment is the finest service the energy can be attributed to.
-- Every measured kWh is here, unallocated GPUs included (project 'unallocated'), so the totals
-- equal the fact's.
with fact as (
    select * from {{ ref('inference_energy_fact') }}
),
daily as (
    select
        f.date_day,
        f.project_id,
        f.deployment_id,
        f.model_id,
        min(f.site_id)                                                          as site_id,
        min(f.gpu_name)                                                         as hardware_name,
        min(case when f.is_allocated then 1 else 0 end) = 1                     as is_allocated,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(f.requests) as {{ dbt.type_bigint() }})                        as requests,
        cast(sum(f.successful_requests) as {{ dbt.type_bigint() }})             as successful_inferences,
        cast(sum(f.total_tokens) as {{ dbt.type_bigint() }})                    as total_tokens,
        {{ stable_sum('f.gpu_energy_kwh') }}                                                   as gpu_energy_kwh,
        {{ stable_sum('f.facility_energy_kwh') }}                                              as energy_kwh,
        {{ stable_sum('case when f.is_idle then f.facility_energy_kwh else 0 end') }}          as idle_energy_kwh,
        -- how much of the energy had an hourly grid intensity / a market-based factor (disclosure)
        {{ stable_sum("case when f.intensity_source = 'hourly' then f.facility_energy_kwh else 0 end") }} as energy_with_hourly_intensity_kwh,
        {{ stable_sum("case when f.market_basis = 'market' then f.facility_energy_kwh else 0 end") }}     as energy_with_market_factor_kwh,
        {{ stable_sum("case when f.energy_method = 'estimated' then f.facility_energy_kwh else 0 end") }} as estimated_energy_kwh,
        {{ stable_sum('f.carbon_kgco2e_location') }}                                           as carbon_location_based_kgco2e,
        {{ stable_sum('f.carbon_kgco2e_market') }}                                             as carbon_market_based_kgco2e,
        {{ stable_sum('f.embodied_kgco2e') }}                                                  as embodied_carbon_kgco2e,
        {{ stable_sum('f.cost_usd') }}                                                         as cost_usd
    from fact f
    group by f.date_day, f.project_id, f.deployment_id, f.model_id
)
select
    d.date_day,
    cast({{ dbt.date_trunc('month', 'd.date_day') }} as date)                   as month_start_date,
    dd.iso_week,
    d.project_id,
    p.team,
    d.deployment_id                                                            as service_name,
    dep.provider                                                               as service_provider_name,
    d.model_id,
    d.site_id,
    d.hardware_name,
    d.is_allocated,
    d.requests,
    d.successful_inferences,
    d.total_tokens,
    d.gpu_energy_kwh,
    d.energy_kwh,
    d.idle_energy_kwh,
    d.energy_with_hourly_intensity_kwh,
    d.energy_with_market_factor_kwh,
    d.estimated_energy_kwh,
    d.carbon_location_based_kgco2e,
    d.carbon_market_based_kgco2e,
    d.embodied_carbon_kgco2e,
    d.carbon_location_based_kgco2e + d.embodied_carbon_kgco2e                  as carbon_with_embodied_kgco2e,
    d.cost_usd
from daily d
left join {{ ref('dim_project') }} p on p.project_id = d.project_id
left join {{ ref('dim_date') }} dd on dd.date_day = d.date_day
left join {{ ref('dim_deployment') }} dep on dep.deployment_id = d.deployment_id
