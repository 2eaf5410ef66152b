{{ config(materialized='view', schema='reporting') }}

-- One row per calendar month (UTC): the headline numbers of the report and of dashboard cards.
-- Totals cover every measured kWh (unallocated GPUs included); per-token and per-inference figures
-- use the allocated deployments only, as the KPI marts do. Numerators and denominators are columns,
-- so a period of several months is sum(numerator) / sum(denominator), never an average of ratios.
with carbon as (
    select
        month_start_date,
        count(distinct date_day)                                              as days_with_data,
        {{ stable_sum('energy_kwh') }}                                                       as energy_kwh,
        {{ stable_sum('gpu_energy_kwh') }}                                                   as gpu_energy_kwh,
        {{ stable_sum('case when not is_allocated then energy_kwh else 0 end') }}            as unallocated_energy_kwh,
        -- the deployments' hours without requests: the unallocated GPUs' energy (all of it idle, in
        -- carbon_by_project_service) is unallocated_energy_kwh, never counted twice
        {{ stable_sum('case when is_allocated then idle_energy_kwh else 0 end') }}            as idle_energy_kwh,
        {{ stable_sum('carbon_location_based_kgco2e') }}                                     as carbon_location_based_kgco2e,
        {{ stable_sum('carbon_market_based_kgco2e') }}                                       as carbon_market_based_kgco2e,
        {{ stable_sum('embodied_carbon_kgco2e') }}                                           as embodied_carbon_kgco2e,
        {{ stable_sum('cost_usd') }}                                                         as cost_usd,
        {{ stable_sum('case when is_allocated then energy_kwh else 0 end') }}                as allocated_energy_kwh,
        {{ stable_sum('case when is_allocated then carbon_location_based_kgco2e else 0 end') }} as allocated_carbon_location_based_kgco2e,
        {{ stable_sum('case when is_allocated then cost_usd else 0 end') }}                  as allocated_cost_usd,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(total_tokens) as {{ dbt.type_bigint() }})                    as total_tokens,
        cast(sum(requests) as {{ dbt.type_bigint() }})                        as requests,
        cast(sum(successful_inferences) as {{ dbt.type_bigint() }})           as successful_inferences
    from {{ ref('carbon_by_project_service') }}
    group by month_start_date
),
avoided as (
    select month_start_date, {{ stable_sum('energy_avoided_kwh') }} as energy_avoided_kwh, {{ stable_sum('cost_avoided_usd') }} as cost_avoided_usd,
           {{ stable_sum('carbon_avoided_kgco2e') }} as carbon_avoided_kgco2e
    from {{ ref('efficiency_trend') }}
    group by month_start_date
)
select
    c.month_start_date,
    c.days_with_data,
    c.requests,
    c.successful_inferences,
    c.total_tokens,
    c.gpu_energy_kwh,
    c.energy_kwh,
    c.idle_energy_kwh,
    c.unallocated_energy_kwh,
    c.carbon_location_based_kgco2e,
    c.carbon_market_based_kgco2e,
    c.embodied_carbon_kgco2e,
    c.cost_usd,
    c.allocated_energy_kwh,
    c.allocated_carbon_location_based_kgco2e,
    c.allocated_cost_usd,
    {{ per_million('c.allocated_energy_kwh', 'c.total_tokens') }}                  as energy_per_million_tokens_kwh,
    {{ per_million('c.allocated_carbon_location_based_kgco2e', 'c.successful_inferences') }} as carbon_per_1k_inferences_gco2e,
    {{ safe_divide('c.allocated_cost_usd', 'c.successful_inferences') }}           as cost_per_transaction_usd,
    coalesce(a.energy_avoided_kwh, 0)                                            as energy_avoided_kwh,
    coalesce(a.cost_avoided_usd, 0)                                              as cost_avoided_usd,
    coalesce(a.carbon_avoided_kgco2e, 0)                                         as carbon_avoided_kgco2e
from carbon c
left join avoided a on a.month_start_date = c.month_start_date
