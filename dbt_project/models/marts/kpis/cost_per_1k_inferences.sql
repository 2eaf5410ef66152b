{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model, for every deployment with a cost.
-- cost_usd_per_1k_inferences    = cost_usd x 1000 / successful_requests
-- cost_usd_per_million_tokens   = cost_usd x 1e6 / (prompt_tokens + completion_tokens)
-- cost_usd = effective cost of the deployment's charges (int_charges: on-prem hardware amortization
-- and electricity, cloud charges attributed to it), idle hours included.
with daily as (
    select
        date_day, deployment_id, model_id,
        sum(requests)            as requests,
        sum(successful_requests) as successful_requests,
        sum(total_tokens)        as total_tokens,
        {{ stable_sum('hardware_cost_usd') }}   as hardware_cost_usd,
        {{ stable_sum('energy_cost_usd') }}     as energy_cost_usd,
        {{ stable_sum('cloud_cost_usd') }}      as cloud_cost_usd,
        {{ stable_sum('cost_usd') }}            as cost_usd
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id
)
select
    *,
    {{ per_thousand('cost_usd', 'successful_requests') }} as cost_usd_per_1k_inferences,
    {{ per_million('cost_usd', 'total_tokens') }}         as cost_usd_per_million_tokens
from daily
where cost_usd > 0
