{{ config(materialized='view', schema='reporting') }}

-- One row per UTC day x model: the energy score next to the business KPI, with the volume behind it.
-- energy_per_1k_inferences_kwh = facility energy (GPU x PUE, idle hours included) x 1000 / successful inferences
-- cost_per_transaction_usd     = cost_usd / successful inferences (a transaction = one successful request)
-- Sums over the model's deployments; the numerators and denominators are columns too, so a BI tool
-- re-aggregating to weeks or months divides sums (never averages ratios).
with energy as (
    select date_day, deployment_id, model_id, requests, total_tokens, gpu_energy_kwh, facility_energy_kwh
    from {{ ref('energy_per_million_tokens') }}
),
carbon as (
    select date_day, deployment_id, model_id, successful_requests, carbon_kgco2e_location
    from {{ ref('carbon_per_inference') }}
),
cost as (
    select date_day, deployment_id, model_id, cost_usd
    from {{ ref('cost_per_1k_inferences') }}
),
tasks as (
    select date_day, deployment_id, model_id, completed_tasks
    from {{ ref('energy_to_solution') }}
),
daily as (
    select
        e.date_day,
        e.model_id,
        count(distinct e.deployment_id)          as deployments,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(e.requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(coalesce(c.successful_requests, 0)) as {{ dbt.type_bigint() }}) as successful_inferences,
        cast(sum(coalesce(t.completed_tasks, 0)) as {{ dbt.type_bigint() }}) as completed_tasks,
        cast(sum(e.total_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        {{ stable_sum('e.gpu_energy_kwh') }}                    as gpu_energy_kwh,
        {{ stable_sum('e.facility_energy_kwh') }}               as energy_kwh,
        {{ stable_sum('coalesce(c.carbon_kgco2e_location, 0)') }} as carbon_location_based_kgco2e,
        {{ stable_sum('coalesce(k.cost_usd, 0)') }}             as cost_usd
    from energy e
    left join carbon c on c.date_day = e.date_day and c.deployment_id = e.deployment_id and c.model_id = e.model_id
    left join cost k   on k.date_day = e.date_day and k.deployment_id = e.deployment_id and k.model_id = e.model_id
    left join tasks t  on t.date_day = e.date_day and t.deployment_id = e.deployment_id and t.model_id = e.model_id
    group by e.date_day, e.model_id
)
select
    d.date_day,
    cast({{ dbt.date_trunc('month', 'd.date_day') }} as date)                  as month_start_date,
    d.model_id,
    m.family                                                                  as model_family,
    m.tier                                                                    as model_tier,
    d.deployments,
    d.requests,
    d.successful_inferences,
    d.completed_tasks,
    d.total_tokens,
    d.gpu_energy_kwh,
    d.energy_kwh,
    d.carbon_location_based_kgco2e,
    d.cost_usd,
    {{ per_thousand('d.energy_kwh', 'd.successful_inferences') }}             as energy_per_1k_inferences_kwh,
    {{ per_thousand('d.gpu_energy_kwh', 'd.successful_inferences') }}         as gpu_energy_per_1k_inferences_kwh,
    {{ per_million('d.energy_kwh', 'd.total_tokens') }}                       as energy_per_million_tokens_kwh,
    {{ safe_divide('d.cost_usd', 'd.successful_inferences') }}                as cost_per_transaction_usd,
    {{ per_thousand('d.cost_usd', 'd.successful_inferences') }}               as cost_per_1k_inferences_usd,
    {{ safe_divide('d.cost_usd', 'd.completed_tasks') }}                      as cost_per_completed_task_usd,
    {{ per_million('d.carbon_location_based_kgco2e', 'd.successful_inferences') }}    as carbon_per_1k_inferences_gco2e
from daily d
left join {{ ref('dim_model') }} m on m.model_id = d.model_id
